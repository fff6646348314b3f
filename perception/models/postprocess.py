"""Detection post-processing in plain torch: score filter, top-k, class-aware NMS, fixed-size output.

The same function serves the PyTorch ``predict`` mode and is the reference the exporter's
ONNX/TensorRT NMS variants are compared against. Output shapes are static (``max_det`` slots per
image);
unused slots have score 0, box 0 and label -1 (check the score, never index class names with -1).
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU matrix of xyxy boxes (N, 4) x (M, 4)."""
    area_a = (a[:, 2] - a[:, 0]).clamp_min(0) * (a[:, 3] - a[:, 1]).clamp_min(0)
    area_b = (b[:, 2] - b[:, 0]).clamp_min(0) * (b[:, 3] - b[:, 1]).clamp_min(0)
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp_min(1e-9)


def greedy_nms(boxes: Tensor, scores: Tensor, iou_thr: float) -> Tensor:
    """Indices kept by greedy NMS, highest score first (the classic algorithm, exact)."""
    order = scores.argsort(descending=True)
    over = (box_iou(boxes[order], boxes[order]) > iou_thr).cpu()
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.long, device=order.device)]


def topk_nms(det_boxes: Tensor, det_scores: Tensor, max_det: int = 100, score_thr: float = 0.05,
             iou_thr: float = 0.6, pre_nms_topk: int = 1000) -> Tuple[Tensor, Tensor, Tensor]:
    """Per image: keep (prior, class) pairs with score > ``score_thr``, the ``pre_nms_topk`` best,
    class-aware NMS at ``iou_thr``, then the ``max_det`` best (contract.DETECTION_SETTINGS).

    Args:
        det_boxes: (B, N, 4) xyxy per prior; det_scores: (B, N, C) per-class scores in [0, 1].
    Returns:
        boxes (B, max_det, 4), scores (B, max_det), labels (B, max_det) long -- padded as the module
        docstring says.
    """
    b, n, c = det_scores.shape
    out_boxes = det_boxes.new_zeros(b, max_det, 4)
    out_scores = det_scores.new_zeros(b, max_det)
    out_labels = torch.full((b, max_det), -1, dtype=torch.long, device=det_scores.device)
    for i in range(b):
        scores = det_scores[i].reshape(-1)
        cand = torch.nonzero(scores > score_thr).squeeze(1)
        if cand.numel() == 0:
            continue
        if cand.numel() > pre_nms_topk:
            cand = cand[scores[cand].topk(pre_nms_topk).indices]
        s = scores[cand]
        labels = cand % c
        boxes = det_boxes[i, cand // c]
        # class-aware in one call: shift each class to its own region of the plane
        offset = labels.to(boxes.dtype)[:, None] * (boxes.max() - boxes.min() + 1)
        kept = greedy_nms(boxes + offset, s, iou_thr)[:max_det]
        m = len(kept)
        out_boxes[i, :m] = boxes[kept]
        out_scores[i, :m] = s[kept]
        out_labels[i, :m] = labels[kept]
    return out_boxes, out_scores, out_labels
