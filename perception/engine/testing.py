"""One test-loop run of a checkpoint, optionally under extra test-time transforms.

Shared by ``perception test`` (``--modality-subsets`` adds ``KeepSensors``) and the evidence studies
(sensor subsets, missingness patterns), so both score a model exactly the same way.
"""
from __future__ import annotations

import copy
from typing import Dict, Optional, Sequence

from mmengine.config import Config


def run_test_loop(cfg: Config, checkpoint: str, transforms: Sequence[dict] = (),
                    conditions: Optional[Sequence[str]] = None,
                    experiment_name: Optional[str] = None) -> Dict[str, float]:
    """Metrics of ``checkpoint`` on ``cfg``'s test loader.

    ``transforms`` run just before the last step of the test pipeline (packing): after loading and
    resizing, so the rest of the pipeline is as configured. ``conditions`` restricts the scenes of
    a synthetic test set.
    """
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)  # Config.copy() is shallow: pipelines would pile up across calls
    cfg.load_from = checkpoint
    dataset = cfg.test_dataloader.dataset
    if transforms:
        pipeline = list(dataset.pipeline)
        dataset.pipeline = pipeline[:-1] + list(transforms) + pipeline[-1:]
    if conditions is not None:
        dataset.conditions = list(conditions)
    if experiment_name is not None:
        cfg.experiment_name = experiment_name
    return {k: float(v) for k, v in Runner.from_cfg(cfg).test().items()}
