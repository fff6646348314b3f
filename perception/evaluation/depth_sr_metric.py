"""``DepthSRMetric``: guided depth super-resolution (GDSR) scores, the model next to the bicubic baseline.

The protocol of the published GDSR tables (DKN, FDSR, DCTNet on NYU v2 and RGB-D-D), without their
normalisation: RMSE in centimetres over the pixels with valid ground truth at full resolution, the
frame cropped to a multiple of the scale (bottom/right), averaged per frame (``depth_average='image'``,
as their test scripts average per-image RMSE). Beside it, on the same frames and pixels, the trivial
baseline: the ground truth reduced by the scale and enlarged back with the protocol's bicubic
(perception/sensors/depth_resolution.py, the very function that makes the network's input).

Not done here, unlike some published code: the DCTNet/FDSR test scripts scale the input by the
ground truth's own min/max and clamp the output to that range before scoring, which hands the network
the true depth range of every test frame. Depth here stays in metres end to end.

Keys (besides ``MultiTaskMetric``'s ``depth/AbsRel``, ``depth/RMSE`` (m), ``depth/delta1``):
``depth/rmse_cm``, ``bicubic/rmse_cm``, ``bicubic/AbsRel``, ``bicubic/delta1`` and
``depth/rmse_vs_bicubic`` (the model's RMSE as a fraction of the baseline's; 0.6 = 40 % below).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from ..registry import METRICS
from ..sensors.depth_resolution import check_scale, low_resolution, multiple_of
from .depth_metric import DepthStats, depth_stats, depth_summary
from .multitask_metric import FrameStats, MultiTaskMetric
from .sample_fields import Sample, pixel_map

#: Metainfo key where ``DepthDownsample`` records the scale it used (pack it with ``meta_keys``).
SCALE_KEY = 'depth_scale'
CM_PER_M = 100.0


@dataclass
class SRFrameStats(FrameStats):
    bicubic: Optional[DepthStats] = None


@METRICS.register_module()
class DepthSRMetric(MultiTaskMetric):
    """GDSR scores of the depth task and of the bicubic baseline on the same frames.

    Args:
        scale: the super-resolution factor; ``None`` reads each frame's ``depth_scale`` metainfo
            (``DepthDownsample`` sets it). When both are there they must agree.
        depth_average: 'image' (the protocol: mean of per-frame RMSE) or 'pixel'.
        Other arguments as ``MultiTaskMetric`` (the task is ``depth``).
    """

    def __init__(self, scale: Optional[int] = None, depth_average: str = 'image',
                 tasks: Sequence[str] = ('depth', ), **kwargs: Any) -> None:
        if tuple(tasks) != ('depth', ):
            raise ValueError(f"DepthSRMetric scores the depth task only, got tasks={tuple(tasks)}")
        super().__init__(tasks=tasks, depth_average=depth_average, **kwargs)
        self.scale = None if scale is None else check_scale(scale)

    def _scale_of(self, sample: Sample) -> int:
        packed = sample.get(SCALE_KEY)
        if packed is not None and self.scale is not None and int(packed) != self.scale:
            raise ValueError(f'sample {sample.get("img_id", "?")!r} was made at x{packed} '
                             f'(depth_scale) but the metric scores x{self.scale}')
        scale = self.scale if packed is None else int(packed)
        if scale is None:
            raise ValueError('DepthSRMetric needs the scale: set scale= or pack depth_scale '
                             "(PackMultiSensorInputs(meta_keys=('depth_scale',)) after "
                             'DepthDownsample)')
        return scale

    def frame_stats(self, sample: Sample) -> SRFrameStats:
        stats = SRFrameStats(**vars(super().frame_stats(sample)))
        gt = pixel_map(sample, 'gt_depth')
        if gt is None:
            return stats
        scale = self._scale_of(sample)
        h, w = multiple_of(gt.shape, scale)
        if (h, w) != gt.shape:   # a pipeline without DepthDownsample: crop here, as it would
            gt = gt[:h, :w]
            if stats.depth is not None:
                stats.depth = depth_stats(pixel_map(sample, 'pred_depth')[:h, :w], gt,
                                          self.depth_min, self.depth_max)
        baseline = low_resolution(gt, scale).baseline
        stats.bicubic = depth_stats(baseline, gt, self.depth_min, self.depth_max)
        return stats

    def summarise(self, results: Sequence[FrameStats], per_class: bool = True) -> Dict[str, float]:
        out = super().summarise(results, per_class)
        bicubic = depth_summary([r.bicubic for r in results
                                 if getattr(r, 'bicubic', None) is not None], self.depth_average)
        out['depth/rmse_cm'] = out['depth/RMSE'] * CM_PER_M
        out['bicubic/rmse_cm'] = bicubic['RMSE'] * CM_PER_M
        out.update({f'bicubic/{k}': v for k, v in bicubic.items() if k != 'RMSE'})
        out['depth/rmse_vs_bicubic'] = out['depth/rmse_cm'] / out['bicubic/rmse_cm'] \
            if out['bicubic/rmse_cm'] > 0 else float('nan')
        return out
