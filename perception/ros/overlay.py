"""Colour overlay for RViz/Foxglove: segmentation blended over the best available sensor, boxes drawn.

numpy only (no cv2 on the node's import path), deterministic colours so overlays of two runs compare.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from perception.contract import IGNORE_INDEX


def palette(num_colors: int) -> np.ndarray:
    """(N, 3) uint8 colours, well separated hues (golden-ratio steps), same for every run."""
    hue = (np.arange(num_colors) * 0.618033988749895) % 1.0
    sat = np.where(np.arange(num_colors) % 2 == 0, 0.85, 0.6)
    val = np.full(num_colors, 0.95)
    # HSV -> RGB, vectorised
    i = np.floor(hue * 6).astype(int) % 6
    f = hue * 6 - np.floor(hue * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    table = np.stack([np.choose(i, [val, q, p, p, t, val]),
                      np.choose(i, [t, val, val, q, p, p]),
                      np.choose(i, [p, p, t, val, val, q])], axis=1)
    return np.rint(table * 255).astype(np.uint8)


def base_image(inputs: Mapping[str, Optional[np.ndarray]], shape: tuple) -> np.ndarray:
    """RGB uint8 background: the RGB frame, else thermal as grey, else depth scaled to grey, else black."""
    rgb = inputs.get('rgb')
    if rgb is not None:
        return rgb.copy()
    thermal = inputs.get('thermal')
    if thermal is not None:
        grey = np.clip(thermal * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    depth = inputs.get('depth')
    if depth is not None and np.any(depth > 0):
        grey = np.clip(depth / float(depth.max()) * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.zeros(tuple(shape[:2]) + (3, ), np.uint8)


def render_overlay(base: np.ndarray, seg_labels: Optional[np.ndarray], boxes: Optional[np.ndarray],
                   box_labels: Optional[np.ndarray], alpha: float = 0.5,
                   thickness: int = 2) -> np.ndarray:
    """Blend class colours over ``base`` (IGNORE_INDEX pixels untouched) and outline the boxes."""
    img = base
    if seg_labels is not None:
        # Whole-image arithmetic and one lookup: boolean-mask indexing costs ~10x more at VGA.
        labels = np.asarray(seg_labels)
        valid = (labels >= 0) & (labels != IGNORE_INDEX)
        top = int(np.where(valid, labels, -1).max(initial=-1))
        if top >= 0:
            lut = palette(top + 1).astype(np.float32)
            colour = np.take(lut, np.clip(labels, 0, top), axis=0)   # take: ~5x faster than lut[...]
            blended = base.astype(np.float32) * np.float32(1 - alpha) + colour * np.float32(alpha)
            blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
            img = np.where(valid[..., None], blended, base)
    img = np.array(img, np.uint8, copy=True)
    if boxes is not None and len(boxes):
        height, width = img.shape[:2]
        colours = palette(int(np.max(box_labels)) + 1 if box_labels is not None and len(box_labels)
                          else 1)
        for k, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float64)):
            c = colours[int(box_labels[k]) if box_labels is not None else 0]
            xa, xb = int(np.clip(np.floor(x1), 0, width - 1)), int(np.clip(np.ceil(x2) - 1, 0, width - 1))
            ya, yb = int(np.clip(np.floor(y1), 0, height - 1)), int(np.clip(np.ceil(y2) - 1, 0, height - 1))
            if xb < xa or yb < ya:
                continue
            img[ya:min(ya + thickness, yb + 1), xa:xb + 1] = c
            img[max(yb - thickness + 1, ya):yb + 1, xa:xb + 1] = c
            img[ya:yb + 1, xa:min(xa + thickness, xb + 1)] = c
            img[ya:yb + 1, max(xb - thickness + 1, xa):xb + 1] = c
    return img
