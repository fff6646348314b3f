"""``MultiTaskMetric``: one mmengine metric for segmentation, detection and depth, with breakdowns.

``process`` reduces every frame to compact statistics right away (a C x C confusion matrix, the
frame's boxes, four depth sums), so evaluating thousands of frames never holds full maps, and the
statistics are what mmengine gathers across ranks. ``compute_metrics`` sums them, overall and per
group-by value (e.g. per ``condition`` or per sensor subset), and logs the tables.

A task whose ground truth a frame lacks is skipped for that frame only: a mixed set (seg-only,
box-only, depth-only frames) is evaluated task by task on the frames that carry each target.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..contract import IGNORE_INDEX, TASKS
from ..registry import METRICS
from .depth_metric import AVERAGES, DepthStats, depth_stats, depth_summary
from .det_metric import DetRecord, coco_map
from .sample_fields import Sample, as_sample_dict, group_value, instance_arrays, pixel_map
from .seg_metric import confusion_matrix, seg_summary
from .tables import GROUP_SEPARATOR, format_report


@dataclass
class FrameStats:
    """What one frame contributes; a task is ``None`` when the frame has no ground truth for it."""
    groups: Dict[str, str] = field(default_factory=dict)  # group-by key -> value
    seg: Optional[np.ndarray] = None       # (C, C) int64 confusion matrix
    det: Optional[DetRecord] = None
    depth: Optional[DepthStats] = None


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Segmentation (mIoU, aAcc, mAcc, IoU per class), detection (COCO mAP, mAP_50, mAP_75) and depth
    (AbsRel, RMSE, delta1) in one pass; see docs/evaluation.md.

    Args:
        tasks: which of ('seg', 'det', 'depth') to evaluate.
        seg_classes / det_classes: class names; default to ``dataset_meta['seg_classes']`` /
            ``['det_classes']``, which mmengine sets from the dataset's metainfo.
        ignore_index: segmentation label left out of the metrics.
        depth_min / depth_max: valid ground truth is ``depth_min < gt < depth_max`` (metres).
        depth_average: 'pixel' (pool all valid pixels) or 'image' (mean of per-frame metrics).
        group_by: metainfo keys to break the metrics down by, e.g. ('condition', 'modality_mask');
            results appear as ``<task>/<metric>@<value>``.
        det_classwise: also report ``det/AP.<class>`` (IoU 0.50:0.95) and ``det/<class>/AP_50``,
            overall and per group (``det/person/AP_50@night``).
    """
    # Output keys already carry their task ('seg/mIoU'); '' rather than None keeps mmengine from both
    # warning about a missing prefix and prefixing. A config may still set ``prefix``.
    default_prefix = ''

    def __init__(self,
                 tasks: Sequence[str] = TASKS,
                 seg_classes: Optional[Sequence[str]] = None,
                 det_classes: Optional[Sequence[str]] = None,
                 ignore_index: int = IGNORE_INDEX,
                 depth_min: float = 0.0,
                 depth_max: Optional[float] = None,
                 depth_average: str = 'pixel',
                 group_by: Sequence[str] = (),
                 det_classwise: bool = False,
                 log_tables: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        unknown = set(tasks) - set(TASKS)
        if unknown or not tasks:
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, got {tuple(tasks)}')
        if depth_average not in AVERAGES:
            raise ValueError(f'depth_average must be one of {AVERAGES}, got {depth_average!r}')
        self.tasks = tuple(t for t in TASKS if t in tasks)
        self._seg_classes = tuple(seg_classes) if seg_classes is not None else None
        self._det_classes = tuple(det_classes) if det_classes is not None else None
        self.ignore_index = ignore_index
        self.depth_min = float(depth_min)
        self.depth_max = float('inf') if depth_max is None else float(depth_max)
        self.depth_average = depth_average
        self.group_by = tuple(group_by)
        self.det_classwise = det_classwise
        self.log_tables = log_tables

    # --- class names ----------------------------------------------------------------------------
    @property
    def seg_classes(self) -> tuple:
        return self._class_names('seg_classes', self._seg_classes)

    @property
    def det_classes(self) -> tuple:
        return self._class_names('det_classes', self._det_classes)

    def _class_names(self, key: str, configured: Optional[tuple]) -> tuple:
        if configured is not None:
            return configured
        names = (self.dataset_meta or {}).get(key)
        if not names:
            raise ValueError(f'MultiTaskMetric needs {key}: set it in the metric config or in the '
                             f"dataset's metainfo (dataset_meta has {sorted(self.dataset_meta or {})})")
        return tuple(names)

    # --- per frame ------------------------------------------------------------------------------
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            self.results.append(self.frame_stats(as_sample_dict(sample)))

    def frame_stats(self, sample: Sample) -> FrameStats:
        """Reduce one sample (``MultiTaskDataSample.to_dict()``) to its statistics."""
        stats = FrameStats()
        for key in self.group_by:
            value = group_value(sample, key)
            if value is not None:
                stats.groups[key] = value
        if 'seg' in self.tasks:
            stats.seg = self._seg_stats(sample)
        if 'det' in self.tasks:
            stats.det = self._det_stats(sample)
        if 'depth' in self.tasks:
            stats.depth = self._depth_stats(sample)
        return stats

    def _seg_stats(self, sample: Sample) -> Optional[np.ndarray]:
        gt = pixel_map(sample, 'gt_sem_seg')
        if gt is None:
            return None
        pred = _require(pixel_map(sample, 'pred_sem_seg'), 'pred_sem_seg', sample)
        return confusion_matrix(pred, gt, len(self.seg_classes), self.ignore_index)

    def _det_stats(self, sample: Sample) -> Optional[DetRecord]:
        gt = instance_arrays(sample, 'gt_instances', ('bboxes', 'labels'))
        if gt is None:
            return None
        pred = _require(instance_arrays(sample, 'pred_instances', ('bboxes', 'scores', 'labels')),
                        'pred_instances', sample)
        # Score 0 marks an empty slot of the static-shape (top-K) outputs, not a detection.
        keep = pred['scores'].reshape(-1) > 0
        return DetRecord.create(gt['bboxes'], gt['labels'], pred['bboxes'][keep],
                                pred['scores'][keep], pred['labels'][keep])

    def _depth_stats(self, sample: Sample) -> Optional[DepthStats]:
        gt = pixel_map(sample, 'gt_depth')
        if gt is None:
            return None
        pred = _require(pixel_map(sample, 'pred_depth'), 'pred_depth', sample)
        return depth_stats(pred, gt, self.depth_min, self.depth_max)

    # --- whole set ------------------------------------------------------------------------------
    def compute_metrics(self, results: List[FrameStats]) -> Dict[str, float]:
        metrics = self.summarise(results, per_class=True)
        for label, subset in self._groups(results).items():
            for key, value in self.summarise(subset, per_class=False).items():
                metrics[f'{key}{GROUP_SEPARATOR}{label}'] = value
        if self.log_tables:
            print_log('\n' + format_report(metrics), logger='current')
        return metrics

    def summarise(self, results: Sequence[FrameStats], per_class: bool = True) -> Dict[str, float]:
        """Metrics of a set of frames, keys ``<task>/<metric>`` plus ``<task>/num_samples``."""
        out: Dict[str, float] = {}
        if 'seg' in self.tasks:
            names = self.seg_classes
            confusion = np.zeros((len(names), len(names)), np.int64)
            seg = [r.seg for r in results if r.seg is not None]
            for c in seg:
                confusion += c
            summary = seg_summary(confusion, names)
            if not per_class:
                summary = {k: v for k, v in summary.items() if not k.startswith('IoU.')}
            out.update(_with_task('seg', summary, len(seg)))
        if 'det' in self.tasks:
            det = [r.det for r in results if r.det is not None]
            # groups (night/day, ...) keep the per-class AP of a classwise run: the question is
            # often one class under one condition (person at night)
            summary = coco_map(det, self.det_classes, classwise=self.det_classwise)
            out.update(_with_task('det', summary, len(det)))
        if 'depth' in self.tasks:
            depth = [r.depth for r in results if r.depth is not None]
            out.update(_with_task('depth', depth_summary(depth, self.depth_average), len(depth)))
        return out

    def _groups(self, results: Sequence[FrameStats]) -> Dict[str, List[FrameStats]]:
        """Label -> frames, for every group-by key and value. A value seen under an earlier key is
        labelled ``key=value`` so that two keys sharing a value never merge their rows."""
        groups: Dict[str, List[FrameStats]] = {}
        for key in self.group_by:
            for value in sorted({r.groups[key] for r in results if key in r.groups}):
                label = value if value not in groups else f'{key}={value}'
                groups[label] = [r for r in results if r.groups.get(key) == value]
        return groups


def _with_task(task: str, summary: Dict[str, float], num_samples: int) -> Dict[str, float]:
    out = {f'{task}/{k}': v for k, v in summary.items()}
    out[f'{task}/num_samples'] = num_samples
    return out


def _require(value: Any, name: str, sample: Sample) -> Any:
    if value is None:
        raise KeyError(f'sample {sample.get("img_id", sample.get("sample_idx", "?"))!r} has the '
                       f'ground truth but no {name}: the model did not predict this task')
    return value
