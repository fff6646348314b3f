"""2D detection: COCO box mAP by pycocotools, on COCO objects built in memory from per-frame boxes.

The computation is pycocotools' ``COCOeval`` (iouType 'bbox', default parameters: IoU 0.50:0.95, up to
100 detections per image and class, area range 'all'), exactly what mmdet's ``CocoMetric`` runs; the
test suite cross-checks both. What this module owns is only the conversion, where the pitfalls are:

* boxes come as xyxy pixels and COCO wants xywh;
* annotation ids must start at 1: ``COCOeval`` stores the matched gt id in its match table and reads
  0 as "unmatched", so a gt with id 0 could never produce a true positive;
* every annotated frame is an image, also one without ground-truth boxes (its detections are false
  positives) and one without detections (its boxes are misses);
* ``COCO.loadRes([])`` fails (it reads ``anns[0]``), so "no detections at all" uses an empty COCO
  object and scores 0, the honest value of the no-detection baseline;
* a class without ground truth anywhere has AP -1 in COCOeval and is left out of the mean; when no
  class has ground truth, mAP is undefined and reported as NaN (COCOeval's -1).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

#: Output name -> index into ``COCOeval.stats``.
COCO_STATS = {'mAP': 0, 'mAP_50': 1, 'mAP_75': 2}


@dataclass(frozen=True)
class DetRecord:
    """Ground truth and predictions of one annotated frame (boxes xyxy, pixels)."""
    gt_bboxes: np.ndarray    # (N, 4) float
    gt_labels: np.ndarray    # (N,) int
    pred_bboxes: np.ndarray  # (K, 4) float
    pred_scores: np.ndarray  # (K,) float
    pred_labels: np.ndarray  # (K,) int

    @classmethod
    def create(cls, gt_bboxes, gt_labels, pred_bboxes, pred_scores, pred_labels) -> 'DetRecord':
        rec = cls(np.asarray(gt_bboxes, np.float64).reshape(-1, 4),
                  np.asarray(gt_labels, np.int64).reshape(-1),
                  np.asarray(pred_bboxes, np.float64).reshape(-1, 4),
                  np.asarray(pred_scores, np.float64).reshape(-1),
                  np.asarray(pred_labels, np.int64).reshape(-1))
        if len(rec.gt_bboxes) != len(rec.gt_labels):
            raise ValueError(f'{len(rec.gt_bboxes)} gt boxes but {len(rec.gt_labels)} gt labels')
        if not len(rec.pred_bboxes) == len(rec.pred_scores) == len(rec.pred_labels):
            raise ValueError('predicted bboxes, scores and labels differ in length: '
                             f'{len(rec.pred_bboxes)}, {len(rec.pred_scores)}, {len(rec.pred_labels)}')
        return rec


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    out = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    out[:, 2:] -= out[:, :2]
    return out


def coco_map(records: Sequence[DetRecord], class_names: Sequence[str],
             classwise: bool = False) -> Dict[str, float]:
    """``mAP``, ``mAP_50``, ``mAP_75`` (fractions) over ``records``; with ``classwise`` also
    ``AP.<class>`` (IoU 0.50:0.95) and ``<class>/AP_50`` (IoU 0.50) per class, NaN for a class
    without ground truth."""
    keys = list(COCO_STATS) + ([k for c in class_names for k in (f'AP.{c}', f'{c}/AP_50')]
                               if classwise else [])
    if not records or not any(len(r.gt_labels) for r in records):
        return {k: float('nan') for k in keys}
    _check_labels(records, len(class_names))
    coco_gt = _coco_from_dataset(_gt_dataset(records, class_names))
    dets = _detections(records)
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its progress and summary
        coco_dt = coco_gt.loadRes(dets) if dets else _coco_from_dataset(
            dict(images=coco_gt.dataset['images'], categories=coco_gt.dataset['categories'],
                 annotations=[]))
        ev = COCOeval(coco_gt, coco_dt, iouType='bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out = {k: _undefined_to_nan(ev.stats[i]) for k, i in COCO_STATS.items()}
    if classwise:
        # precision: (iou thresholds, recall points, classes, area ranges, max dets); area 'all' and
        # the largest max-dets setting, as stats[0] and as mmdet's classwise table.
        precision = ev.eval['precision'][:, :, :, 0, -1]
        at_50 = int(np.argmin(np.abs(ev.params.iouThrs - 0.5)))
        for k, name in enumerate(class_names):
            for key, p in ((f'AP.{name}', precision[:, :, k]),
                           (f'{name}/AP_50', precision[at_50, :, k])):
                p = p[p > -1]
                out[key] = float(p.mean()) if p.size else float('nan')
    return out


def _check_labels(records: Sequence[DetRecord], num_classes: int) -> None:
    for r in records:
        for name, labels in (('ground-truth', r.gt_labels), ('predicted', r.pred_labels)):
            if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
                raise ValueError(f'{name} box labels in [{labels.min()}, {labels.max()}], '
                                 f'expected [0, {num_classes}); check det_classes')


def _gt_dataset(records: Sequence[DetRecord], class_names: Sequence[str]) -> dict:
    images = [dict(id=i + 1) for i in range(len(records))]
    categories = [dict(id=k, name=str(n)) for k, n in enumerate(class_names)]
    annotations: List[dict] = []
    for i, r in enumerate(records):
        for box, label in zip(xyxy_to_xywh(r.gt_bboxes), r.gt_labels):
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=int(label),
                                    bbox=[float(v) for v in box], area=float(box[2] * box[3]),
                                    iscrowd=0))
    return dict(images=images, categories=categories, annotations=annotations)


def _detections(records: Sequence[DetRecord]) -> List[dict]:
    return [dict(image_id=i + 1, category_id=int(label), bbox=[float(v) for v in box],
                 score=float(score))
            for i, r in enumerate(records)
            for box, score, label in zip(xyxy_to_xywh(r.pred_bboxes), r.pred_scores, r.pred_labels)]


def _coco_from_dataset(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _undefined_to_nan(value: float) -> float:
    return float('nan') if value < 0 else float(value)
