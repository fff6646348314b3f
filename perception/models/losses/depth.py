"""Dense depth losses on valid pixels only (target > 0 and finite).

Each loss is computed per sample and averaged over the samples that have at least one valid pixel,
so a sample with an empty depth map contributes nothing (rather than a 0 that dilutes the mean).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from perception.registry import MODELS


def valid_depth(target: Tensor) -> Tensor:
    return torch.isfinite(target) & (target > 0)


def _mean_over_samples(per_sample: Tensor, has_valid: Tensor, pred: Tensor) -> Tensor:
    """Average of ``per_sample`` over samples with valid pixels; a graph-connected 0 if none."""
    if not bool(has_valid.any()):
        return pred.sum() * 0.0
    return per_sample[has_valid].mean()


@MODELS.register_module()
class SILogLoss(nn.Module):
    """Scale-invariant log loss (Eigen et al. 2014, as used by BTS/AdaBins):
    ``scale * sqrt(mean(d^2) - lam * mean(d)^2)``, ``d = log(pred) - log(target)``.

    ``lam`` < 1 keeps part of the absolute-scale error (metric depth is wanted, not only relative).
    """

    def __init__(self, lam: float = 0.85, scale: float = 10.0, loss_weight: float = 1.0,
                 eps: float = 1e-6, loss_name: str = 'loss_silog'):
        super().__init__()
        self.lam, self.scale, self.loss_weight, self.eps = lam, scale, loss_weight, eps
        self.loss_name = loss_name

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """``pred``, ``target``: (N, 1, H, W) metres."""
        valid = valid_depth(target).flatten(1)
        safe_target = torch.where(valid.view_as(target), target, torch.ones_like(target))
        d = (torch.log(pred.clamp_min(self.eps)) - torch.log(safe_target)).flatten(1)
        d = d * valid
        n = valid.sum(1).clamp_min(1)
        mean_d = d.sum(1) / n
        mean_d2 = (d * d).sum(1) / n
        per_sample = self.scale * torch.sqrt((mean_d2 - self.lam * mean_d ** 2).clamp_min(self.eps))
        return self.loss_weight * _mean_over_samples(per_sample, valid.any(1), pred)


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """Mean absolute error in metres over valid pixels."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_l1'):
        super().__init__()
        self.loss_weight, self.loss_name = loss_weight, loss_name

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        valid = valid_depth(target).flatten(1)
        err = (pred - torch.where(valid_depth(target), target, pred.detach())).abs().flatten(1)
        per_sample = (err * valid).sum(1) / valid.sum(1).clamp_min(1)
        return self.loss_weight * _mean_over_samples(per_sample, valid.any(1), pred)
