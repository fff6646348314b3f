"""Host-side non-maximum suppression in numpy (the ``--nms host`` path and the parity reference).

Semantics follow ONNX ``NonMaxSuppression`` as onnxruntime implements it, so the in-graph and host paths
select the same boxes: a candidate is kept only if its score is *greater* than ``score_thr``; a box is
suppressed when its IoU with a kept box of the same class is *greater* than ``iou_thr``; ties in score
keep the lower index first (stable sort). Classes never suppress each other.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with (N, 4) xyxy boxes (corners may come in any order, as ONNX allows)."""
    x1, x2 = np.minimum(box[0], box[2]), np.maximum(box[0], box[2])
    y1, y2 = np.minimum(box[1], box[3]), np.maximum(box[1], box[3])
    bx1, bx2 = np.minimum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 0], boxes[:, 2])
    by1, by2 = np.minimum(boxes[:, 1], boxes[:, 3]), np.maximum(boxes[:, 1], boxes[:, 3])
    iw = np.clip(np.minimum(x2, bx2) - np.maximum(x1, bx1), 0, None)
    ih = np.clip(np.minimum(y2, by2) - np.maximum(y1, by1), 0, None)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (bx2 - bx1) * (by2 - by1) - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4)."""
    out = np.zeros((len(a), len(b)), np.float64)
    for i in range(len(a)):
        out[i] = box_iou(a[i].astype(np.float64), b.astype(np.float64))
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Indices of the kept boxes, highest score first (single class)."""
    order = np.argsort(-scores, kind='stable')
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        if not rest.size:
            break
        order = rest[box_iou(boxes[i], boxes[rest]) <= iou_thr]
    return np.asarray(keep, np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_thr: float,
                score_thr: float, max_det: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class-aware NMS of (N, 4) boxes; returns boxes, scores, labels of at most ``max_det``
    detections sorted by score (descending)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    valid = scores > score_thr
    idx = np.flatnonzero(valid)
    kept = []
    for c in np.unique(labels[idx]):
        members = idx[labels[idx] == c]
        kept.append(members[nms(boxes[members], scores[members], iou_thr)])
    if not kept:
        return (np.zeros((0, 4), np.float32), np.zeros((0, ), np.float32),
                np.zeros((0, ), np.int32))
    keep = np.concatenate(kept)
    keep = keep[np.argsort(-scores[keep], kind='stable')][:max_det]
    return boxes[keep], scores[keep], labels[keep].astype(np.int32)
