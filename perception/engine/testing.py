"""One test-loop run of a checkpoint, optionally under extra test-time transforms.

Shared by ``perception test`` (``--modality-subsets`` adds ``KeepSensors``) and the evidence studies
(sensor subsets, missingness patterns), so both score a model exactly the same way.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from perception.contract import SENSORS, sensor_subsets


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


@dataclass
class SubsetPlan:
    """Which sensor subsets ``perception test --modality-subsets`` can evaluate, and on what.

    Attributes:
        model_sensors: the sensors the model is built for.
        trained_sensors: those it saw in training (its checkpoint's count).
        dataset_sensors: the sensors the test set has in at least one frame.
        shared: the sensors of both: their non-empty subsets are the rows.
        frames: test frames that have every shared sensor (the rows are all scored on them).
        total: test frames in all.
        config: the config to evaluate with (its test set restricted to ``frames`` when some lack
            a shared sensor).
    """
    model_sensors: Tuple[str, ...]
    trained_sensors: Tuple[str, ...]
    dataset_sensors: Tuple[str, ...]
    shared: Tuple[str, ...]
    frames: int
    total: int
    config: Config

    def skipped(self) -> List[Tuple[str, str]]:
        """(subset, why) of every subset of the contract's sensors that is not evaluated."""
        out = []
        for subset in sensor_subsets(SENSORS):
            missing = [s for s in subset if s not in self.shared]
            if not missing:
                continue
            whys = []
            for s in missing:
                if s not in self.model_sensors:
                    whys.append(f'the model has no {s} input')
                elif s not in self.trained_sensors:
                    whys.append(f'the model never saw {s} in training')
                else:
                    whys.append(f'the test set has no {s}')
            out.append(('+'.join(subset), '; '.join(whys)))
        return out

    def describe(self) -> str:
        lines = [f'sensor subsets of {"+".join(self.shared)} (model: {"+".join(self.model_sensors)}'
                 f', trained on {"+".join(self.trained_sensors)}; test set: '
                 f'{"+".join(self.dataset_sensors)}), each on the {self.frames} of {self.total} '
                 'test frames that have all of them']
        lines += [f'  skipped {subset}: {why}' for subset, why in self.skipped()]
        return '\n'.join(lines)


def frame_sensors(dataset, index: int) -> Tuple[str, ...]:
    """The sensors frame ``index`` of ``dataset`` has, from its ``data_info`` (file datasets list
    their sensor files); a dataset that makes its frames (synthetic scenes) has all of them."""
    info = dataset.get_data_info(index)
    if 'sensors' not in info:
        return SENSORS
    return tuple(s for s in SENSORS if info['sensors'].get(s))


def subset_plan(cfg: Config, checkpoint: Optional[str]) -> SubsetPlan:
    """The ``SubsetPlan`` of ``cfg``'s model (with ``checkpoint``'s record of the sensors seen in
    training) on ``cfg``'s test set.

    Raises:
        ConfigError: the model and the test set share no sensor.
    """
    from mmengine.registry import DefaultScope

    from perception.contract import ConfigError
    from perception.models.builder import build_model
    from perception.registry import DATASETS
    model = build_model(cfg, checkpoint)
    own = tuple(getattr(model, 'sensors', SENSORS))
    trained = tuple(getattr(model, 'trained_sensors', own))
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'perception')):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    per_frame = [frame_sensors(dataset, i) for i in range(len(dataset))]
    present = tuple(s for s in SENSORS if any(s in f for f in per_frame))
    shared = tuple(s for s in trained if s in present)
    if not shared:
        raise ConfigError(f'the model uses {trained} and the test set has {present}: no sensor in '
                          'common, nothing to evaluate')
    keep = [i for i, f in enumerate(per_frame) if set(shared) <= set(f)]
    cfg = copy.deepcopy(cfg)
    if len(keep) < len(per_frame):
        cfg.test_dataloader.dataset.indices = keep
    return SubsetPlan(own, trained, present, shared, len(keep), len(per_frame), cfg)
