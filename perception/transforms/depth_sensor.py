"""Depth sensor models: what a robot's depth camera gives next to a sharper colour camera.

* ``DepthDownsample``: the guided depth super-resolution (GDSR) protocol -- the depth input as a x4,
  x8 or x16 lower-resolution sensor gives it, enlarged back to the frame (bicubic both ways, the
  published protocol's resampler: perception/sensors/depth_resolution.py). The frame is first
  cropped to a multiple of the scale, as the protocol does; the target stays at full resolution.
* ``DepthFlyingPixels``: time-of-flight and stereo "flying pixels" at depth edges, where one pixel
  sees both the foreground and the background and reports a depth in between.

Holes (``DepthHoles``), range noise (``DepthNoise``) and quantisation (``DepthQuantize``) are in
depth_corruption.py. All of them follow its invariant: only ``depth`` (the input) changes, never
``gt_depth``; a pixel that was invalid (0) stays 0, and no depth is invented where the sensor had
none.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence, Union

import albumentations as A
import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from perception.contract import SensorError
from perception.registry import TRANSFORMS

from ..sensors.depth_resolution import check_scale, low_resolution, multiple_of
from .sample_checks import check_sample, targets_follow_frame
from .sensor_transform import Range, SensorTransform, as_range, draw
from .spatial import apply_spatial


def crop_to_multiple(results: Dict[str, Any], scale: int) -> None:
    """Crop the whole frame (sensors, targets, boxes) bottom/right to a multiple of ``scale``; the
    cropped frame becomes ``ori_shape``, the frame predictions are scored in (the protocol's)."""
    hw = check_sample(results)
    new_hw = multiple_of(hw, scale)
    if new_hw == hw:
        return
    ori = results.get('ori_shape')
    if not targets_follow_frame(results) or (ori is not None and tuple(ori[:2]) != hw):
        raise SensorError('depth', 'frame', f'the original frame (ori_shape {ori}): put '
                          'DepthDownsample right after loading, the protocol crops the frame as '
                          'stored', f'frame {hw[0]}x{hw[1]}')
    apply_spatial(results, A.Crop(x_min=0, y_min=0, x_max=new_hw[1], y_max=new_hw[0], p=1.0))
    results['ori_shape'] = new_hw


@TRANSFORMS.register_module()
class DepthDownsample(BaseTransform):
    """The depth input as a ``scale`` times lower-resolution sensor gives it (GDSR protocol).

    Crops the frame to a multiple of ``scale`` (bottom/right; sensors, targets and ``ori_shape``),
    then replaces ``depth`` by its bicubic reduction enlarged back to the frame. ``gt_depth`` keeps
    the full resolution. A low-resolution pixel whose footprint held an invalid pixel is invalid
    (0 over its footprint), so holes stay holes and never blend into depth. A frame without depth
    (an absent sensor) is only cropped.

    Args:
        scale: the reduction factor (4, 8, 16 in the benchmarks), or a list to draw one from per
            sample (a model for several sensor resolutions).
    """

    def __init__(self, scale: Union[int, Sequence[int]] = 4) -> None:
        scales = list(scale) if isinstance(scale, Sequence) else [scale]
        if not scales:
            raise ValueError('DepthDownsample needs at least one scale')
        self.scales = [check_scale(s) for s in scales]

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        scale = self.scales[np.random.randint(len(self.scales))] if len(self.scales) > 1 \
            else self.scales[0]
        crop_to_multiple(results, scale)
        if results.get('depth') is not None:
            results['depth'] = low_resolution(results['depth'], scale).input
        results['depth_scale'] = scale
        return results

    def __repr__(self) -> str:
        return f'DepthDownsample(scale={self.scales if len(self.scales) > 1 else self.scales[0]})'


@TRANSFORMS.register_module()
class DepthFlyingPixels(SensorTransform):
    """Mixed depths at depth edges ("flying pixels" of time-of-flight and stereo sensors).

    A valid pixel within ``width`` pixels of a jump larger than ``min_jump`` metres (the spread of
    the valid depths in its (2 * width + 1)^2 window) is, with probability ``ratio``, replaced by a
    uniform draw between the nearest and the farthest valid depth of that window: the return of a
    pixel that saw both surfaces. Invalid pixels are neither used nor changed.

    Args:
        min_jump: ``(lo, hi)`` or one value, metres.
        width: half-width of the edge band in pixels.
        ratio: ``(lo, hi)`` or one value: share of the edge pixels that fly.
        prob: probability of applying the transform.
    """
    sensor = 'depth'

    def __init__(self, min_jump: Range = 0.1, width: int = 1, ratio: Range = (0.3, 0.8),
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        self.min_jump = as_range(min_jump, 'min_jump', 0.0)
        if int(width) < 1:
            raise ValueError(f'width must be >= 1 pixel, got {width!r}')
        self.width = int(width)
        self.ratio = as_range(ratio, 'ratio', 0.0, 1.0)

    def apply(self, array: np.ndarray) -> np.ndarray:
        valid = array > 0
        kernel = np.ones((2 * self.width + 1, ) * 2, np.uint8)
        near = cv2.erode(np.where(valid, array, np.float32(np.inf)), kernel)
        far = cv2.dilate(np.where(valid, array, np.float32(0)), kernel)
        edge = valid & (far - near > draw(self.min_jump))
        fly = edge & (np.random.rand(*array.shape) < draw(self.ratio))
        out = array.copy()
        mix = np.random.rand(int(fly.sum())).astype(np.float32)
        out[fly] = near[fly] + mix * (far[fly] - near[fly])
        return out


__all__ = ['DepthDownsample', 'DepthFlyingPixels', 'crop_to_multiple']
