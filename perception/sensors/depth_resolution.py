"""A low-resolution depth sensor next to a high-resolution colour camera, simulated the way the guided
depth super-resolution (GDSR) benchmarks do it: the one definition used by the ``DepthDownsample``
transform (the network's input) and by ``DepthSRMetric`` (the bicubic baseline), so that the
baseline and the input can never drift apart.

The protocol (DKN, FDSR, DCTNet test scripts for NYU v2 and RGB-D-D): crop the frame to a multiple of
the scale (bottom/right), shrink the depth by the scale with **PIL's bicubic** filter, and enlarge it
back to the frame with PIL's bicubic filter. PIL's bicubic (a = -0.5) is antialiased when shrinking
(its kernel is stretched by the scale); OpenCV's ``INTER_CUBIC`` is not, and gives a different, more
aliased input -- hence PIL here (it comes with mmcv and matplotlib; imported only when called).

Holes (0 = invalid) are not in the published protocol (its ground truth is dense) but are in real
sensors. Here a hole never blends into depth: before resampling it is filled from its neighbours
(OpenCV inpainting), and a low-resolution pixel whose footprint held any invalid pixel is itself
invalid, so the enlarged input is 0 over its whole footprint. Every pixel that was invalid therefore
stays invalid in the input. The *baseline* (what a bicubic upsampler predicts) is the enlarged map
before that masking: a predictor must answer everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

#: Scales of the GDSR benchmarks; others work too (any integer >= 2).
BENCHMARK_SCALES = (4, 8, 16)
_INPAINT_RADIUS = 3


def check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 2:
        raise ValueError(f'depth super-resolution scale must be an integer >= 2, got {scale!r}')
    return int(scale)


def multiple_of(hw: Tuple[int, int], scale: int) -> Tuple[int, int]:
    """(H, W) cropped down to multiples of ``scale`` (the protocol's crop, bottom/right)."""
    scale = check_scale(scale)
    h, w = (int(v) - int(v) % scale for v in hw[:2])
    if h == 0 or w == 0:
        raise ValueError(f'a {hw[0]}x{hw[1]} frame is smaller than one x{scale} low-resolution '
                         'pixel')
    return h, w


def fill_holes(depth: np.ndarray) -> np.ndarray:
    """``depth`` with invalid pixels (0, non-finite) filled from their valid neighbours; a map with no
    valid pixel is returned as zeros (nothing to fill from)."""
    depth = np.asarray(depth, np.float32)
    invalid = ~(np.isfinite(depth) & (depth > 0))
    if not invalid.any():
        return depth
    if invalid.all():
        return np.zeros_like(depth)
    clean = np.where(invalid, np.float32(0), depth)
    return cv2.inpaint(clean, invalid.astype(np.uint8), _INPAINT_RADIUS, cv2.INPAINT_TELEA)


def _pil_resize(depth: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    from PIL import Image   # see the module docstring: the protocol's resampler
    img = Image.fromarray(np.ascontiguousarray(depth, np.float32), mode='F')
    return np.asarray(img.resize((int(hw[1]), int(hw[0])), Image.BICUBIC), np.float32)


@dataclass(frozen=True)
class LowResolutionDepth:
    """One frame's depth as a x``scale`` lower-resolution sensor would give it.

    ``low``: (H / s, W / s) the sensor's pixels, 0 where its footprint held an invalid pixel;
    ``baseline``: (H, W) bicubic enlargement of the filled low-resolution map (the bicubic
    baseline's prediction, valid everywhere unless the frame had no valid pixel at all);
    ``input``: ``baseline`` with the footprints of invalid low-resolution pixels set to 0 (what the
    network is given).
    """
    scale: int
    low: np.ndarray
    baseline: np.ndarray
    input: np.ndarray


def low_resolution(depth: np.ndarray, scale: int) -> LowResolutionDepth:
    """Simulate the x``scale`` sensor on an (H, W) depth map in metres (H, W multiples of scale)."""
    scale = check_scale(scale)
    depth = np.asarray(depth, np.float32)
    if depth.ndim != 2:
        raise ValueError(f'depth must be (H, W), got shape {depth.shape}')
    h, w = depth.shape
    if (h, w) != multiple_of((h, w), scale):
        raise ValueError(f'a {h}x{w} frame is not a multiple of the x{scale} scale: crop it first '
                         f'(multiple_of gives {multiple_of((h, w), scale)})')
    small = (h // scale, w // scale)
    valid = (np.isfinite(depth) & (depth > 0)).astype(np.float32)
    # INTER_AREA at an integer factor is the mean over each footprint: 1 only if all were valid.
    low_valid = cv2.resize(valid, small[::-1], interpolation=cv2.INTER_AREA) >= 1.0 - 1e-6
    low = _pil_resize(fill_holes(depth), small)
    baseline = np.maximum(_pil_resize(low, (h, w)), 0.0)   # bicubic overshoot below 0 m is no depth
    low = np.where(low_valid, np.maximum(low, 0.0), np.float32(0))
    footprint_valid = np.repeat(np.repeat(low_valid, scale, axis=0), scale, axis=1)
    return LowResolutionDepth(scale=scale, low=low.astype(np.float32),
                              baseline=baseline.astype(np.float32),
                              input=np.where(footprint_valid, baseline, np.float32(0)))
