"""Semantic segmentation statistics: a per-frame confusion matrix, summed, then IoU / accuracy.

Definitions are mmseg's ``IoUMetric`` (the test suite cross-checks against it): pixels whose ground
truth equals the ignore index are dropped; per class, IoU = TP / (TP + FP + FN) and Acc = TP / (TP + FN);
a class absent from both ground truth and prediction has IoU NaN and is left out of the mean (nanmean).

Why a confusion matrix rather than mmseg's ``intersect_and_union``: it is exact (int64 ``bincount``,
where mmseg's ``torch.histc`` counts in float32 and drifts above 2**24 pixels per class), it is what
per-condition breakdowns sum, and it needs only numpy. Everything IoUMetric reports is derived from it.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = ground-truth class, columns = predicted class.

    Raises ``ValueError`` on labels outside ``[0, num_classes)`` (other than ``ignore_index`` in the
    ground truth): a wrong class count is a config bug that must not pass as a quiet drop of pixels.
    """
    if pred.shape != gt.shape:
        raise ValueError(f'segmentation prediction shape {pred.shape} != ground truth {gt.shape}')
    keep = gt != ignore_index
    gt_k = gt[keep].astype(np.int64, copy=False)
    pred_k = pred[keep].astype(np.int64, copy=False)
    for name, labels in (('ground truth', gt_k), ('prediction', pred_k)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f'segmentation {name} has labels in [{labels.min()}, {labels.max()}], expected '
                f'[0, {num_classes}) or ignore index {ignore_index}; check seg_classes')
    flat = np.bincount(gt_k * num_classes + pred_k, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def seg_summary(confusion: np.ndarray, class_names: Sequence[str]) -> Dict[str, float]:
    """Metrics of a summed confusion matrix, as fractions (not mmseg's rounded percentages).

    Keys: ``mIoU``, ``aAcc``, ``mAcc`` and ``IoU.<class>`` for every class.
    """
    if confusion.shape != (len(class_names), len(class_names)):
        raise ValueError(f'confusion matrix {confusion.shape} does not match {len(class_names)} classes')
    conf = confusion.astype(np.float64)
    tp = np.diag(conf)
    area_gt = conf.sum(axis=1)
    area_pred = conf.sum(axis=0)
    union = area_gt + area_pred - tp
    with np.errstate(divide='ignore', invalid='ignore'):  # 0/0 -> NaN marks an absent class
        iou = tp / union
        acc = tp / area_gt
        a_acc = tp.sum() / area_gt.sum()
    out = {
        'mIoU': _nanmean(iou),
        'aAcc': float(a_acc),
        'mAcc': _nanmean(acc),
    }
    out.update({f'IoU.{name}': float(v) for name, v in zip(class_names, iou)})
    return out


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float('nan')
