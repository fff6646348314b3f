"""Pictures of a ``PerceptionResult`` for people: segmentation colours + labelled boxes over the frame,
and a colour-mapped depth image. OpenCV + numpy only (the deployment extra)."""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from perception.contract import IGNORE_INDEX
from perception.drawing import base_image, palette  # noqa: F401  (base_image re-exported)
from perception.results import PerceptionResult


def draw_result(base: np.ndarray, result: PerceptionResult, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8: class colours blended over ``base``, boxes with class name and score."""
    img = base.astype(np.float32)
    if result.seg_labels is not None:
        labels = result.seg_labels
        colours = palette(max(len(result.seg_classes), int(labels.max(initial=0)) + 1))
        valid = (labels >= 0) & (labels != IGNORE_INDEX)
        img[valid] = (1 - alpha) * img[valid] + alpha * colours[labels[valid]].astype(np.float32)
    img = np.ascontiguousarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    if result.det_boxes is not None and len(result.det_boxes):
        names: Sequence[str] = result.det_classes
        colours = palette(max(len(names), int(result.det_labels.max()) + 1))
        for box, score, label in zip(result.det_boxes, result.det_scores, result.det_labels):
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            colour = tuple(int(c) for c in colours[int(label)])
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
            name = names[int(label)] if 0 <= int(label) < len(names) else str(int(label))
            cv2.putText(img, f'{name} {score:.2f}', (x1, max(y1 - 3, 10)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    return img


def depth_colormap(depth: np.ndarray, max_depth: Optional[float] = None) -> np.ndarray:
    """RGB uint8 turbo colour map of metres (near = red); 0/invalid stays black."""
    valid = np.isfinite(depth) & (depth > 0)
    top = max_depth or (float(np.percentile(depth[valid], 99)) if valid.any() else 1.0)
    scaled = np.clip(depth / max(top, 1e-6), 0, 1)
    bgr = cv2.applyColorMap(((1 - scaled) * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    rgb = bgr[:, :, ::-1].copy()
    rgb[~valid] = 0
    return rgb
