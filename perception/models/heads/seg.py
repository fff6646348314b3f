"""``SegHead``: semantic segmentation from the stride-4 task feature, through an mmseg decode head.

The mmseg head (e.g. ``mmseg.FCNHead``) supplies the layers, the losses (``loss_decode``: CE, plus
``MaskedDiceLoss`` if wanted) and the accuracy; this adapter adds per-sample masking, the
full-resolution export output and the predict-time crop/resize.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from torch import Tensor

from perception.contract import IGNORE_INDEX
from perception.registry import MODELS

from ..builder import build_module

from .base import TaskHead, connected_zero, restore_dense


@MODELS.register_module()
class SegHead(TaskHead):
    """Args:
        head: an mmseg decode head config; ``in_channels`` and ``num_classes`` are filled in by the
            model, ``ignore_index`` defaults to the contract's IGNORE_INDEX.
        in_channels / num_classes: set by the model from the decoder and ``num_classes['seg']``.
    """
    task = 'seg'

    def __init__(self, head: dict, in_channels: Sequence[int], num_classes: int, init_cfg=None):
        super().__init__(init_cfg)
        if len(in_channels) != 1:
            raise ValueError(f'SegHead reads one level (stride 4), got channels {in_channels}')
        cfg = ConfigDict(head)
        cfg.setdefault('ignore_index', IGNORE_INDEX)
        cfg.update(in_channels=in_channels[0], num_classes=num_classes)
        self.head = build_module(cfg)
        self.num_classes = num_classes
        losses = self.head.loss_decode
        self.loss_names = tuple(l.loss_name for l in (losses if hasattr(losses, '__iter__')
                                                      else [losses]))

    def forward(self, feats: List[Tensor]) -> Tensor:
        return self.head(feats)  # (B, C, H/4, W/4)

    def export(self, raw: Tensor, input_hw: Tuple[int, int]) -> Dict[str, Tensor]:
        return {'seg_logits': F.interpolate(raw, size=input_hw, mode='bilinear',
                                            align_corners=self.head.align_corners)}

    def loss(self, raw: Tensor, samples, keep: Sequence[int]) -> Dict[str, Tensor]:
        if not keep:
            zero = connected_zero(raw)
            return {name: zero for name in self.loss_names}
        idx = torch.as_tensor(list(keep), device=raw.device)
        return self.head.loss_by_feat(raw.index_select(0, idx), [samples[i] for i in keep])

    def predict(self, outs: Dict[str, Tensor], samples) -> None:
        for logits, sample in zip(outs['seg_logits'], samples):
            logits = restore_dense(logits, sample)
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(data=logits.argmax(0, keepdim=True))
