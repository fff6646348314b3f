"""Evaluation: one mmengine metric for segmentation, detection and depth (``MultiTaskMetric``,
registered in ``perception.registry.METRICS``), its per-task statistics, trivial baselines and
result tables; ``DepthSRMetric`` scores depth super-resolution next to its bicubic baseline;
``ReconstructionMetric`` the held-out reconstructions of masked pretraining.
Definitions and the cross-checks against mmseg/mmdet/pycocotools: docs/evaluation.md.
"""
from .baselines import TrivialBaseline, evaluate_baseline
from .depth_metric import DepthStats, depth_stats, depth_summary
from .depth_sr_metric import DepthSRMetric
from .det_metric import DetRecord, coco_map
from .multitask_metric import FrameStats, MultiTaskMetric
from .reconstruction_metric import ReconstructionMetric
from .seg_metric import confusion_matrix, seg_summary
from .tables import (HEADLINE_KEYS, format_matrix, format_metrics, format_report, format_table,
                     split_groups, to_rich)

__all__ = [
    'MultiTaskMetric', 'DepthSRMetric', 'ReconstructionMetric', 'FrameStats', 'TrivialBaseline',
    'evaluate_baseline',
    'confusion_matrix', 'seg_summary', 'DetRecord', 'coco_map', 'DepthStats', 'depth_stats',
    'depth_summary', 'HEADLINE_KEYS', 'format_table', 'format_metrics', 'format_matrix',
    'format_report', 'split_groups', 'to_rich',
]
