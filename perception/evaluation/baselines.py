"""Trivial baselines a trained model must clearly beat: predict the majority class everywhere, the
training set's mean depth everywhere, and no boxes at all.

The constants come from the *training* ground truth (``TrivialBaseline.fit``), and the baselines are
scored by the same ``MultiTaskMetric`` as the model, so their numbers share every definition with the
model's (mIoU of a constant map, COCO mAP of an empty detection set = 0, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional

import numpy as np

from ..contract import IGNORE_INDEX
from .multitask_metric import MultiTaskMetric
from .sample_fields import as_sample_dict, pixel_map


@dataclass(frozen=True)
class TrivialBaseline:
    """``majority_class`` / ``mean_depth`` are ``None`` when the training set has no such target."""
    majority_class: Optional[int]
    mean_depth: Optional[float]

    @classmethod
    def fit(cls, train_samples: Iterable[Any], num_seg_classes: int,
            ignore_index: int = IGNORE_INDEX, depth_min: float = 0.0,
            depth_max: float = float('inf')) -> 'TrivialBaseline':
        """Most frequent labelled class and mean valid depth (pixel-pooled) of the training targets.

        Samples may be data samples, their ``to_dict()`` form, or decoded dicts holding (H, W) arrays.
        """
        counts = np.zeros(num_seg_classes, np.int64)
        depth_sum, depth_n = 0.0, 0
        for sample in train_samples:
            sample = as_sample_dict(sample)
            seg = pixel_map(sample, 'gt_sem_seg')
            if seg is not None:
                labels = seg[seg != ignore_index].astype(np.int64)
                counts += np.bincount(labels, minlength=num_seg_classes)[:num_seg_classes]
            depth = pixel_map(sample, 'gt_depth')
            if depth is not None:
                depth = depth.astype(np.float64)
                with np.errstate(invalid='ignore'):
                    valid = np.isfinite(depth) & (depth > depth_min) & (depth < depth_max)
                depth_sum += float(depth[valid].sum())
                depth_n += int(valid.sum())
        return cls(majority_class=int(counts.argmax()) if counts.any() else None,
                   mean_depth=depth_sum / depth_n if depth_n else None)

    def predict(self, sample: Any) -> Dict[str, Any]:
        """A copy of ``sample`` (dict form) with the baseline's predictions for each target it has."""
        out = dict(as_sample_dict(sample))
        seg = pixel_map(out, 'gt_sem_seg')
        if seg is not None:
            out['pred_sem_seg'] = {'data': np.full((1, ) + seg.shape, self._need('majority_class'),
                                                   np.int64)}
        depth = pixel_map(out, 'gt_depth')
        if depth is not None:
            out['pred_depth'] = {'data': np.full((1, ) + depth.shape, self._need('mean_depth'),
                                                 np.float32)}
        if out.get('gt_instances') is not None:
            out['pred_instances'] = {'bboxes': np.zeros((0, 4), np.float32),
                                     'scores': np.zeros((0, ), np.float32),
                                     'labels': np.zeros((0, ), np.int64)}
        return out

    def _need(self, name: str):
        value = getattr(self, name)
        if value is None:
            raise ValueError(f'the baseline has no {name}: the training samples had no such target')
        return value


def evaluate_baseline(baseline: TrivialBaseline, eval_samples: Iterable[Any],
                      metric: MultiTaskMetric) -> Dict[str, float]:
    """Score ``baseline`` on ``eval_samples`` with ``metric`` (same keys as the model's results)."""
    metric.results.clear()
    predictions = [baseline.predict(s) for s in eval_samples]
    metric.process(None, predictions)
    return metric.evaluate(len(predictions))
