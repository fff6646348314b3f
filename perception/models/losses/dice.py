"""Softmax Dice loss that really ignores ``IGNORE_INDEX`` pixels.

mmseg 1.2's ``DiceLoss`` one-hot-encodes ignored pixels as all-zero targets but keeps their
predictions in the denominator, so unlabelled regions pull the loss. This one drops them. It has the
interface mmseg decode heads call (``pred, target, weight=, ignore_index=``, ``loss_name``), so it
goes into ``loss_decode`` next to ``mmseg.CrossEntropyLoss``, written with its scope,
``type='perception.MaskedDiceLoss'``, because the mmseg head builds its losses in the mmseg scope.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from perception.contract import IGNORE_INDEX
from perception.registry import MODELS


@MODELS.register_module()
class MaskedDiceLoss(nn.Module):
    """``1 - mean_c (2 sum p_c g_c + eps) / (sum p_c + sum g_c + eps)`` over labelled pixels, classes
    present in the batch or predicted (the "naive" first-power form, stable for rare classes)."""

    def __init__(self, loss_weight: float = 1.0, eps: float = 1.0,
                 loss_name: str = 'loss_dice'):
        super().__init__()
        self.loss_weight, self.eps, self._loss_name = loss_weight, eps, loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: Tensor, target: Tensor, weight=None,
                ignore_index: int = IGNORE_INDEX, **kwargs) -> Tensor:
        """``pred`` (N, C, H, W) logits, ``target`` (N, H, W) class ids."""
        num_classes = pred.shape[1]
        valid = (target != ignore_index).unsqueeze(1).to(pred.dtype)
        prob = pred.softmax(1) * valid
        onehot = F.one_hot(torch.where(target == ignore_index, torch.zeros_like(target), target)
                           .clamp(0, num_classes - 1), num_classes).permute(0, 3, 1, 2)
        onehot = onehot.to(pred.dtype) * valid
        inter = (prob * onehot).sum(dim=(0, 2, 3))
        denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
        dice = (2 * inter + self.eps) / (denom + self.eps)
        return self.loss_weight * (1 - dice.mean())
