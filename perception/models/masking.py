"""Tensor operations that let an absent sensor have exactly no influence.

Absent-sensor features are finite but arbitrary (its encoder still runs on the zero input: the
graph is static).
Every cross-sensor operation goes through these helpers, which either replace absent entries before
any arithmetic (``where``: also removes NaN/inf) or give them an exact zero weight.
"""
from __future__ import annotations

import torch
from torch import Tensor

#: Logit used for masked entries: exp(-1e4) underflows to exactly 0 in float32 and float16, and the
#: value is finite, so no inf - inf = NaN appears when every entry of a row is masked.
_MASKED_LOGIT = -1.0e4


def keep_present(x: Tensor, present: Tensor) -> Tensor:
    """``x`` where ``present`` (broadcastable bool), else 0; absent values (even NaN) vanish."""
    return torch.where(present, x, torch.zeros((), dtype=x.dtype, device=x.device))


def masked_softmax(logits: Tensor, present: Tensor, dim: int) -> Tensor:
    """Softmax over ``dim`` restricted to ``present`` entries; absent entries get weight exactly 0.

    The present weights sum to one (renormalised over what is there). A row with nothing present
    returns all zeros instead of NaN, so an exported graph stays finite on an all-absent mask.
    """
    present = present.expand_as(logits)
    logits = logits.masked_fill(~present, 0.0)  # no inf/NaN of absent entries reaches exp or grad
    peak = torch.where(present, logits, torch.full_like(logits, _MASKED_LOGIT))
    peak = peak.amax(dim=dim, keepdim=True).detach()
    shifted = torch.where(present, logits - peak, torch.full_like(logits, _MASKED_LOGIT))
    num = torch.exp(shifted)
    return num / num.sum(dim=dim, keepdim=True).clamp_min(1e-12)


def mean_of_others(x: Tensor, present: Tensor) -> Tensor:
    """For each sensor ``s`` (dim 1 of ``x``: (B, S, ...)), the mean of the *other* present sensors.

    ``present`` is (B, S) bool. Absent sensors contribute nothing; a sensor with no present partner
    gets zeros. ``x`` must already be finite where absent (``keep_present``).
    """
    w = present.to(x.dtype).view(*present.shape, *([1] * (x.dim() - 2)))
    total = (x * w).sum(dim=1, keepdim=True)
    count = w.sum(dim=1, keepdim=True)
    return (total - x * w) / (count - w).clamp_min(1.0)
