"""``DropTargets``: a labelled sample made unlabelled -- how masked pretraining reads a labelled
source (the synthetic scenes) without its labels: segmentation, boxes and depth targets become
``None`` (not annotated), so no later transform spends time on them and nothing can reach the model.
"""
from __future__ import annotations

from typing import Any, Dict

from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from .sample_checks import DENSE_TARGETS, PER_BOX_KEYS


@TRANSFORMS.register_module()
class DropTargets(BaseTransform):
    """Set every target of the sample to ``None`` (docs/contract.md section 1)."""

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        for key in (*DENSE_TARGETS, 'gt_bboxes', *PER_BOX_KEYS):
            if key in results:
                results[key] = None
        return results
