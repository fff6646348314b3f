"""Dense depth statistics: four numbers per frame, summed, then AbsRel / RMSE / delta1.

Valid pixels: ground truth finite and ``min_depth < gt < max_depth`` (strict on both sides, as mmseg's
``DepthMetric``; ``gt = 0`` marks a hole in this package's contract, so the default ``min_depth=0`` drops
it). On those pixels, with p the prediction and g the ground truth (metres):

* AbsRel = mean(|p - g| / g)
* RMSE   = sqrt(mean((p - g)^2))            (metres)
* delta1 = fraction with max(p / g, g / p) < 1.25; a non-positive p is a miss (the ratio formula would
  otherwise count a negative prediction as a hit, both ratios being negative).

``average='pixel'`` pools all valid pixels of all frames (the multi-task literature's convention:
InvPT/TaskExpert accumulate sums); ``average='image'`` computes the metrics per frame and averages
frames (Eigen/BTS/AdaBins and mmseg's DepthMetric). Frames without a valid pixel are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable

import numpy as np

DELTA1_THRESHOLD = 1.25
AVERAGES = ('pixel', 'image')


@dataclass(frozen=True)
class DepthStats:
    """Sufficient statistics of one frame (or of a sum of frames when ``pixel`` pooled)."""
    num_valid: int
    abs_rel_sum: float
    sq_err_sum: float
    delta1_hits: int

    def metrics(self) -> Dict[str, float]:
        if self.num_valid == 0:
            return {'AbsRel': float('nan'), 'RMSE': float('nan'), 'delta1': float('nan')}
        n = float(self.num_valid)
        return {'AbsRel': self.abs_rel_sum / n,
                'RMSE': float(np.sqrt(self.sq_err_sum / n)),
                'delta1': self.delta1_hits / n}


def depth_stats(pred: np.ndarray, gt: np.ndarray, min_depth: float = 0.0,
                max_depth: float = float('inf')) -> DepthStats:
    """Statistics of one frame; ``pred`` and ``gt`` in metres, same shape."""
    if pred.shape != gt.shape:
        raise ValueError(f'depth prediction shape {pred.shape} != ground truth {gt.shape}')
    gt = gt.astype(np.float64, copy=False)
    with np.errstate(invalid='ignore'):  # NaN holes compare False: they are invalid, as intended
        valid = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    g = gt[valid]
    p = pred[valid].astype(np.float64, copy=False)
    err = p - g
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = np.where(p > 0, np.maximum(p / g, g / p), np.inf)
    return DepthStats(num_valid=int(g.size),
                      abs_rel_sum=float(np.sum(np.abs(err) / g)),
                      sq_err_sum=float(np.sum(err * err)),
                      delta1_hits=int(np.count_nonzero(ratio < DELTA1_THRESHOLD)))


def depth_summary(stats: Iterable[DepthStats], average: str = 'pixel') -> Dict[str, float]:
    """``AbsRel``, ``RMSE``, ``delta1`` over frames (NaN when no frame has a valid pixel)."""
    if average not in AVERAGES:
        raise ValueError(f'depth average must be one of {AVERAGES}, got {average!r}')
    frames = [s for s in stats if s.num_valid > 0]
    if average == 'pixel':
        return DepthStats(num_valid=sum(s.num_valid for s in frames),
                          abs_rel_sum=sum(s.abs_rel_sum for s in frames),
                          sq_err_sum=sum(s.sq_err_sum for s in frames),
                          delta1_hits=sum(s.delta1_hits for s in frames)).metrics()
    if not frames:
        return DepthStats(0, 0.0, 0.0, 0).metrics()
    per_frame = [s.metrics() for s in frames]
    return {k: float(np.mean([m[k] for m in per_frame])) for k in per_frame[0]}
