"""The class palette and the background every overlay is drawn on (CLI, demo, Runner visualiser, ROS
node, gate maps).

numpy only: the ROS node core imports this without OpenCV or torch, and one palette means a class has
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


def base_image(rgb: Optional[np.ndarray], thermal: Optional[np.ndarray],
               depth: Optional[np.ndarray], shape: Tuple[int, ...]) -> np.ndarray:
    """RGB uint8 background to draw on: the RGB frame, else thermal as grey, else depth scaled to
    grey, else black."""
    if rgb is not None:
        return rgb.copy()
    if thermal is not None:
        grey = np.clip(thermal * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if depth is not None and np.any(depth > 0):
        grey = np.clip(depth / float(depth.max()) * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.zeros(tuple(shape[:2]) + (3, ), np.uint8)
