"""Predictions over a frame: segmentation colours blended in and boxes outlined in their class colour
(``render_overlay``, numpy only: the ROS node draws its RViz overlay with it, without OpenCV), plus
each box's class name and score for people (``draw_result``: the CLI, the demo, the Runner
visualiser). Deterministic colours (``colors.palette``), so overlays of two runs compare.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from perception.contract import IGNORE_INDEX
from perception.results import PerceptionResult

from .colors import palette


def render_overlay(base: np.ndarray, seg_labels: Optional[np.ndarray], boxes: Optional[np.ndarray],
                   box_labels: Optional[np.ndarray], alpha: float = 0.5,
                   thickness: int = 2) -> np.ndarray:
    """Class colours blended over ``base`` and box outlines, as a new RGB uint8 picture.

    Args:
        base: RGB uint8 (H, W, 3) background (``colors.base_image``).
        seg_labels: (H, W) class ids or None; IGNORE_INDEX and negative pixels stay untouched.
        boxes: (K, 4) xyxy pixels or None; outlines drawn inside the box, clipped to the picture.
        box_labels: (K,) class ids of ``boxes`` (colour of each outline); None = colour 0.
        alpha: weight of the class colour (1 = the colour alone).
        thickness: outline width in pixels.

    Returns:
        RGB uint8 (H, W, 3).
    """
    img = base
    if seg_labels is not None:
        labels = np.asarray(seg_labels)
        valid = (labels >= 0) & (labels != IGNORE_INDEX)
        # (max over the valid pixels without a -1 that uint8 labels, e.g. a label PNG, cannot hold)
        top = int(labels.max(where=valid, initial=0)) if valid.any() else -1
        if top >= 0:
            # One lookup per pixel and channel in a table of every blend: class c (the last row:
            # no class, the pixel unchanged), channel, background value -> the float32 blend,
            # rounded; 256 values per class and channel instead of float arithmetic on the whole
            # frame (3x faster at VGA, the same bytes).
            table = _blend_table(top + 1, float(alpha))
            row = np.where(valid, labels, top + 1).astype(np.intp)
            row *= 3 * 256
            index = row[..., None] + _CHANNEL_OFFSETS
            index += base
            img = np.take(table, index)
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


#: Offsets of the three channels' rows in a ``_blend_table``.
_CHANNEL_OFFSETS = np.arange(3, dtype=np.intp) * 256
_BLEND_TABLES: dict = {}


def _blend_table(classes: int, alpha: float) -> np.ndarray:
    """Flat uint8 table, (classes + 1) x 3 channels x 256 background values: the class colour
    blended over each value as ``rint(base * (1 - alpha) + colour * alpha)`` in float32, clipped
    to 0-255; the last class leaves the value as it is. Kept per (classes, alpha)."""
    key = (classes, alpha)
    table = _BLEND_TABLES.get(key)
    if table is None:
        colours = palette(classes).astype(np.float32)                       # (C, 3)
        values = np.arange(256, dtype=np.float32)
        blended = values[None, None, :] * np.float32(1 - alpha) + \
            colours[:, :, None] * np.float32(alpha)
        blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)        # (C, 3, 256)
        same = np.broadcast_to(np.arange(256, dtype=np.uint8), (1, 3, 256))
        table = _BLEND_TABLES[key] = np.concatenate([blended, same]).ravel()
    return table


def draw_result(base: np.ndarray, result: PerceptionResult, alpha: float = 0.45,
                text_scale: float = 0.4, display_thr: Optional[float] = None,
                with_seg: bool = True) -> np.ndarray:
    """``render_overlay`` of a result, each box labelled with its class name (and score).

    Args:
        base: RGB uint8 (H, W, 3) background, at the result's resolution.
        result: the prediction (or ground truth: ``det_scores`` None labels boxes by name only).
        alpha: weight of the segmentation colours.
        text_scale: font scale of the box labels.
        display_thr: draw only the boxes scored this or more (the model's ``display_thr``);
            None: every box of the result.
        with_seg: blend the segmentation in (False: boxes only, e.g. a model whose segmentation
            classes are the synthetic scenes' drawn on a real frame).

    Returns:
        RGB uint8 (H, W, 3).
    """
    result = result.displayed(display_thr)
    img = render_overlay(base, result.seg_labels if with_seg else None, result.det_boxes,
                         result.det_labels, alpha)
    if result.det_boxes is None or not len(result.det_boxes):
        return img
    from .text import put_text   # OpenCV: only for the labels
    names = result.det_classes
    colours = palette(max(len(names), int(np.max(result.det_labels)) + 1))
    scores = result.det_scores if result.det_scores is not None else [None] * len(result.det_boxes)
    for box, score, label in zip(result.det_boxes, scores, result.det_labels):
        label = int(label)
        name = names[label] if 0 <= label < len(names) else str(label)
        text = name if score is None else f'{name} {float(score):.2f}'
        # a dark outline: the label reads over any background (a red label on red boxes did not)
        put_text(img, text, (int(round(float(box[0]))), max(int(round(float(box[1]))) - 3, 10)),
                 text_scale, colours[label], outline=(0, 0, 0))
    return img
