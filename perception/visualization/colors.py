"""The class palette and the background every overlay is drawn on (CLI, demo, Runner visualiser, ROS
node, gate maps).

numpy only on import: the ROS node core imports this without OpenCV or torch (OpenCV, a base
dependency, is loaded only to draw a frame that has depth alone), and one palette means a class has
the same colour in RViz as in ``perception infer`` overlays.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def palette(num_colors: int) -> np.ndarray:
    """(N, 3) uint8 RGB colours, well separated hues (golden-ratio steps), same for every run."""
    hue = (np.arange(num_colors) * 0.618033988749895) % 1.0
    sat = np.where(np.arange(num_colors) % 2 == 0, 0.85, 0.6)
    val = np.full(num_colors, 0.95)
    i = np.floor(hue * 6).astype(int) % 6          # HSV -> RGB, vectorised
    f = hue * 6 - np.floor(hue * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    table = np.stack([np.choose(i, [val, q, p, p, t, val]),
                      np.choose(i, [t, val, val, q, p, p]),
                      np.choose(i, [p, p, t, val, val, q])], axis=1)
    return np.rint(table * 255).astype(np.uint8)


def thermal_grey(thermal: np.ndarray) -> np.ndarray:
    """Thermal relative intensity in [0, 1] as (H, W) uint8 grey levels (0 black, 1 white), never
    rescaled per frame; NaN reads as 0."""
    value = np.rint(np.clip(np.nan_to_num(np.asarray(thermal, np.float32)), 0, 1) * 255)
    return value.astype(np.uint8)


def base_image(rgb: Optional[np.ndarray], thermal: Optional[np.ndarray],
               depth: Optional[np.ndarray], shape: Tuple[int, ...]) -> np.ndarray:
    """RGB uint8 background to draw on, from the sensors a frame has.

    Args:
        rgb: (H, W, 3) uint8 RGB, or None.
        thermal: (H, W) relative intensity in [0, 1], or None.
        depth: (H, W) metres, 0 = no reading, or None.
        shape: (H, W, ...) of the frame, for the black background when nothing is drawable.

    Returns:
        (H, W, 3) uint8: the RGB frame; else thermal as grey (``thermal_grey``);
        else depth in the package's one depth convention (``maps.depth_colormap``: near warm, far
        cool, linear in metres, its range printed); else black.
    """
    if rgb is not None:
        return rgb.copy()
    if thermal is not None:
        return np.repeat(thermal_grey(thermal)[..., None], 3, axis=2)
    if depth is not None and np.any(depth > 0):
        from .maps import depth_colormap   # OpenCV, imported only when a frame has depth alone
        return depth_colormap(depth)
    return np.zeros(tuple(shape[:2]) + (3, ), np.uint8)
