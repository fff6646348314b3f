"""The one post-processing of every backend: raw graph outputs -> ``PerceptionResult`` at frame size.

Detections: host NMS when the graph left it to the host (``spec.nms == 'host'``), then the score
threshold, then boxes scaled from network to frame pixels. Segmentation: argmax when only logits were
exported, nearest-neighbour back to the frame (labels must not blend). Depth: bilinear back to the frame
(a smooth field; nearest would add blocks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from perception.results import PerceptionResult

from .nms import batched_nms
from .preprocess import FrameInfo
from .spec import ModelSpec


@dataclass(frozen=True)
class Thresholds:
    """The detection settings a Predictor applies (``contract.DETECTION_SETTINGS``): the spec's,
    unless the caller overrides them (``from_spec``)."""
    score_thr: float
    iou_thr: float
    max_det: int

    @classmethod
    def from_spec(cls, spec: ModelSpec, score_thr: Optional[float] = None,
                  iou_thr: Optional[float] = None, max_det: Optional[int] = None) -> 'Thresholds':
        return cls(spec.score_thr if score_thr is None else float(score_thr),
                   spec.iou_thr if iou_thr is None else float(iou_thr),
                   spec.max_det if max_det is None else int(max_det))


def nearest_resize(labels: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize by pixel centres (exact for integer label maps of any dtype)."""
    h, w = labels.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * h / shape[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * w / shape[1]).astype(np.int64), w - 1)
    return labels[rows[:, None], cols[None, :]]


def detections(raw: Dict[str, np.ndarray], spec: ModelSpec, thr: Thresholds, index: int = 0
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept detections of batch item ``index`` in network pixels: boxes (K, 4), scores, labels."""
    boxes = raw['det_boxes'][index].astype(np.float32)
    scores = raw['det_scores'][index].astype(np.float32)
    labels = raw['det_labels'][index].astype(np.int32)
    if spec.nms == 'host':
        return batched_nms(boxes, scores, labels, thr.iou_thr, thr.score_thr, thr.max_det)
    # In-graph NMS: fixed K slots sorted by score, empty slots have score 0.
    keep = np.flatnonzero(scores > max(thr.score_thr, 0.0))[:thr.max_det]
    return boxes[keep], scores[keep], labels[keep]


def seg_labels_of(raw: Dict[str, np.ndarray], index: int = 0) -> Optional[np.ndarray]:
    """(H, W) int32 class ids of batch item ``index`` from ``seg_labels`` or the argmax of
    ``seg_logits``; None when the graph has no segmentation output."""
    if 'seg_labels' in raw:
        return raw['seg_labels'][index].astype(np.int32)
    if 'seg_logits' in raw:
        return raw['seg_logits'][index].argmax(0).astype(np.int32)
    return None


def postprocess(raw: Dict[str, np.ndarray], spec: ModelSpec, info: FrameInfo, thr: Thresholds,
                index: int = 0) -> PerceptionResult:
    """Graph outputs -> the frame's ``PerceptionResult``, the same for every backend.

    Args:
        raw: graph outputs by name (``contract.OUTPUT_NAMES``), batch first.
        spec: the model's spec (input size, classes, NMS mode).
        info: the frame ``preprocess`` saw (its size, the sensors present).
        thr: detection settings (host NMS when ``spec.nms == 'host'``, else the score cut of the
            in-graph NMS's fixed-K slots).
        index: the batch item.

    Returns:
        Labels (nearest) and depth (bilinear) resized to the frame, boxes scaled to frame pixels and
        clipped, the classes and the modality mask.
    """
    out_h, out_w = info.shape
    net_h, net_w = spec.input_size
    result = PerceptionResult(modality_mask=info.modality_mask, seg_classes=spec.seg_classes,
                              det_classes=spec.det_classes, ignored_sensors=info.ignored)
    labels = seg_labels_of(raw, index)
    if labels is not None:
        result.seg_labels = (labels if labels.shape == (out_h, out_w)
                             else nearest_resize(labels, (out_h, out_w))).astype(np.int32)
    if 'depth_pred' in raw:
        depth = raw['depth_pred'][index, 0].astype(np.float32)
        if depth.shape != (out_h, out_w):
            depth = cv2.resize(depth, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        result.depth = depth
    if spec.has_det:
        boxes, scores, det_labels = detections(raw, spec, thr, index)
        scale = np.asarray([out_w / net_w, out_h / net_h] * 2, np.float32)
        boxes = boxes * scale
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, out_w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, out_h)
        result.det_boxes = boxes.astype(np.float32)
        result.det_scores = scores.astype(np.float32)
        result.det_labels = det_labels.astype(np.int32)
    return result
