"""Sensor values as colours, one convention per sensor, used by every picture of the package.

* **Depth**: OpenCV's turbo colour map, **near = warm (red), far = cool (blue), linear in metres**
  between the two ends of a range, 0 / invalid black. A depth picture always carries its range:
  ``depth_colormap(..., legend=True)`` prints it on the picture, ``depth_colour_bar`` draws a bar
  in metres to put next to thumbnails. The default range is the 1st-99th percentile of the valid
  depths (``depth_range_of``), so one far outlier does not flatten the picture.
* **Thermal** (relative intensity in [0, 1]): grey (tiles next to colour frames) or inferno (figures
  where temperature differences matter), never rescaled per frame.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .colors import thermal_grey
from .text import put_text

DepthRange = Tuple[float, float]


def depth_range_of(*depths: Optional[np.ndarray],
                percentiles: Tuple[float, float] = (1.0, 99.0)) -> DepthRange:
    """(near, far) metres over the valid (finite, > 0) pixels of all ``depths``; (0, 1) if none."""
    valid = [d[np.isfinite(d) & (d > 0)] for d in depths if d is not None]
    values = np.concatenate(valid) if valid else np.zeros(0, np.float32)
    if not values.size:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(values, percentiles))
    return lo, max(hi, lo + 1e-3)


def _turbo_near_warm(scaled: np.ndarray) -> np.ndarray:
    """RGB uint8 of ``scaled`` in [0, 1]: 0 (near) red ... 1 (far) blue."""
    index = np.rint((1.0 - np.clip(scaled, 0, 1)) * 255).astype(np.uint8)
    return cv2.applyColorMap(index, cv2.COLORMAP_TURBO)[..., ::-1]


def depth_colormap(depth: np.ndarray, depth_range: Optional[DepthRange] = None,
                   legend: bool = True) -> np.ndarray:
    """Depth in metres as an RGB uint8 picture.

    Args:
        depth: (H, W) metres; 0, negative and non-finite pixels are invalid (drawn black).
        depth_range: (near, far) metres mapped to red and blue, linearly; values outside are
            clipped. Default: ``depth_range_of(depth)``.
        legend: print the range (a red-to-blue ramp from near to far, in metres) at the bottom left.

    Returns:
        RGB uint8 (H, W, 3).
    """
    depth = np.asarray(depth, np.float32)
    lo, hi = depth_range if depth_range is not None else depth_range_of(depth)
    valid = np.isfinite(depth) & (depth > 0)
    scaled = (np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0) - lo) / max(hi - lo, 1e-6)
    rgb = np.ascontiguousarray(_turbo_near_warm(scaled))
    rgb[~valid] = 0
    if legend:
        draw_depth_legend(rgb, (lo, hi))
    return rgb


def draw_depth_legend(img: np.ndarray, depth_range: DepthRange) -> np.ndarray:
    """In place, bottom left: a near-to-far colour ramp with its two ends in metres."""
    h, w = img.shape[:2]
    ramp_w, ramp_h = max(16, min(120, w // 3)), 6
    if h < 3 * ramp_h + 16 or w < ramp_w + 8:
        return img   # too small to label: thumbnails use depth_colour_bar beside them
    y1 = h - 5
    ramp = _turbo_near_warm(np.linspace(0, 1, ramp_w, dtype=np.float32)[None, :])
    img[y1 - ramp_h:y1, 4:4 + ramp_w] = np.repeat(ramp, ramp_h, axis=0)
    lo, hi = depth_range
    put_text(img, f'{lo:.1f}', (4, y1 - ramp_h - 3), 0.35)
    far = f'{hi:.1f} m'
    (tw, _), _ = cv2.getTextSize(far, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
    put_text(img, far, (max(4, 4 + ramp_w - tw), y1 - ramp_h - 3), 0.35)
    return img


def depth_colour_bar(height: int, depth_range: DepthRange, width: int = 44,
                     background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """RGB uint8 (height, width, 3): a vertical bar, far (blue) at the top, near (red) at the bottom,
    labelled in metres at both ends and the middle; to put beside depth thumbnails."""
    bar = np.empty((height, width, 3), np.uint8)
    bar[:] = background
    ramp = _turbo_near_warm(np.linspace(1, 0, height - 8, dtype=np.float32)[:, None])
    bar[4:height - 4, 2:10] = np.repeat(ramp, 8, axis=1)
    lo, hi = depth_range
    for text, y in ((f'{hi:.1f}m', 12), (f'{(lo + hi) / 2:.1f}m', height // 2 + 4),
                    (f'{lo:.1f}m', height - 4)):
        put_text(bar, text, (12, y), 0.33, (0, 0, 0), outline=None)
    return bar


def thermal_colormap(thermal: np.ndarray, colormap: str = 'grey') -> np.ndarray:
    """Thermal in [0, 1] as RGB uint8: ``'grey'`` (0 black, 1 white) or ``'inferno'``."""
    value = thermal_grey(thermal)
    if colormap == 'grey':
        return np.repeat(value[..., None], 3, axis=2)
    if colormap == 'inferno':
        return np.ascontiguousarray(cv2.applyColorMap(value, cv2.COLORMAP_INFERNO)[..., ::-1])
    raise ValueError(f"thermal colormap must be 'grey' or 'inferno', got {colormap!r}")
