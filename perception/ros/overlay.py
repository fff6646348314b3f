"""Colour overlay for RViz/Foxglove: segmentation blended over the best available sensor, boxes drawn.

numpy only (no cv2 on the node's import path), deterministic colours so overlays of two runs compare.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from perception.contract import IGNORE_INDEX
from perception.drawing import base_image as _base_image
from perception.drawing import palette


def base_image(inputs: Mapping[str, Optional[np.ndarray]], shape: tuple) -> np.ndarray:
    """RGB uint8 background from the node's decoded sensors (see perception.drawing.base_image)."""
    return _base_image(inputs.get('rgb'), inputs.get('thermal'), inputs.get('depth'), shape)


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
