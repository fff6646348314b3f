"""``ModalityDropout``: remove sensors from a sample so the network learns every sensor subset.

A dropped sensor becomes ``None`` and its ``modality_mask`` entry False -- exactly what a loader
produces for a sensor that is really missing, so the rest of the pipeline (and the model) cannot
tell a simulated dropout from a dead cable. Targets are never touched.
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from perception.contract import SENSORS, SensorError
from perception.registry import TRANSFORMS

from .sample_checks import check_sample, modality_mask_of, present_sensors

SubsetSpec = Union[str, Sequence[str]]
#: ``{subset: p}`` or ``[(subset, p), ...]``.
SubsetProbs = Union[Mapping[Any, float], Iterable[Tuple[Any, float]]]


def _parse_subset(spec: SubsetSpec) -> FrozenSet[str]:
    # 'rgb', 'rgb+thermal' or ('rgb', 'thermal'): strings keep configs dumpable to YAML/JSON,
    # where tuple keys are not allowed.
    names = spec.split('+') if isinstance(spec, str) else list(spec)
    subset = frozenset(n.strip() for n in names)
    unknown = subset.difference(SENSORS)
    if not subset or unknown:
        raise ValueError(f'a dropped subset must name sensors of {SENSORS}, got {spec!r}')
    return subset


@TRANSFORMS.register_module()
class ModalityDropout(BaseTransform):
    """Drop sensors at random; never all present ones, never adding an absent one.

    Two ways to say what to drop, usable together:

    * ``drop_subsets``: explicit patterns with their probabilities, e.g.
      ``{'rgb': 0.2, 'rgb+thermal': 0.05}`` (or ``[(('rgb', 'thermal'), 0.05), ...]``): at most one
      pattern is drawn per sample (their sum must be <= 1). Use it for correlated failures such as
      night (rgb useless) or fog (rgb and depth degraded together).
    * ``drop_probs``: independent per-sensor probabilities, e.g. ``{'depth': 0.3}``, used when no
      pattern was drawn. The joint draw is conditioned on keeping at least one present sensor
      (exact: the up to 2**3 outcomes are enumerated), so a sensor's marginal drop rate is its
      probability renormalised over the outcomes that keep something.

    A drawn pattern is intersected with the present sensors; if it would remove all of them (or
    none of it is present) the sample is left unchanged. Random numbers come from numpy's global
    RNG.

    Args:
        drop_subsets: mapping or pairs ``subset -> probability``.
        drop_probs: mapping ``sensor -> probability``.
    """

    def __init__(self, drop_subsets: Optional[SubsetProbs] = None,
                 drop_probs: Optional[Mapping[str, float]] = None) -> None:
        pairs = (drop_subsets.items() if isinstance(drop_subsets, Mapping)
                 else list(drop_subsets or []))
        self.drop_subsets: List[Tuple[FrozenSet[str], float]] = [
            (_parse_subset(spec), float(p)) for spec, p in pairs]
        if any(not 0.0 <= p <= 1.0 for _, p in self.drop_subsets):
            raise ValueError('drop_subsets probabilities must be in [0, 1]')
        if sum(p for _, p in self.drop_subsets) > 1.0 + 1e-9:
            raise ValueError('drop_subsets probabilities must sum to <= 1 (one pattern per sample)')
        self.drop_probs: Dict[str, float] = {}
        for sensor, p in (drop_probs or {}).items():
            if sensor not in SENSORS or not 0.0 <= float(p) <= 1.0:
                raise ValueError(f'drop_probs needs sensors of {SENSORS} -> probability in [0, 1], '
                                 f'got {sensor!r}: {p!r}')
            self.drop_probs[sensor] = float(p)

    def _draw_subset(self) -> Optional[FrozenSet[str]]:
        u = np.random.rand()
        for subset, p in self.drop_subsets:
            if u < p:
                return subset
            u -= p
        return None

    def _draw_independent(self, present: Tuple[str, ...]) -> FrozenSet[str]:
        outcomes, weights = [], []
        for dropped in itertools.product((False, True), repeat=len(present)):
            if all(dropped):
                continue  # never drop every present sensor
            weight = 1.0
            for sensor, drop in zip(present, dropped):
                p = self.drop_probs.get(sensor, 0.0)
                weight *= p if drop else 1.0 - p
            outcomes.append(frozenset(s for s, d in zip(present, dropped) if d))
            weights.append(weight)
        total = sum(weights)
        if total <= 0:  # every present sensor has drop probability 1: nothing else is possible
            return frozenset()
        return outcomes[np.random.choice(len(outcomes), p=np.asarray(weights) / total)]

    def sample_drop(self, present: Tuple[str, ...]) -> FrozenSet[str]:
        """The sensors to drop from a sample whose present sensors are ``present``."""
        if len(present) <= 1:
            return frozenset()
        subset = self._draw_subset() if self.drop_subsets else None
        if subset is not None:
            drop = subset.intersection(present)
            return frozenset() if len(drop) == len(present) else frozenset(drop)
        return self._draw_independent(present) if self.drop_probs else frozenset()

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        check_sample(results)
        for sensor in self.sample_drop(present_sensors(results)):
            results[sensor] = None
        results['modality_mask'] = modality_mask_of(results)
        return results

    def __repr__(self) -> str:
        subsets = {'+'.join(s for s in SENSORS if s in k): p for k, p in self.drop_subsets}
        return f'ModalityDropout(drop_subsets={subsets}, drop_probs={self.drop_probs})'


@TRANSFORMS.register_module()
class KeepSensors(BaseTransform):
    """Keep only ``sensors`` (deterministic): how ``tools/test.py --modality-subsets`` evaluates
    one sensor subset. The others become absent exactly as a missing sensor would.

    A sample left with no sensor at all cannot be evaluated and raises ``SensorError`` (e.g. the
    synthetic ``dropout`` condition removed the only kept sensor: evaluate subsets on conditions
    without simulated dropout).
    """

    def __init__(self, sensors: SubsetSpec):
        self.sensors = _parse_subset(sensors)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        check_sample(results)
        for sensor in SENSORS:
            if sensor not in self.sensors:
                results[sensor] = None
        results['modality_mask'] = modality_mask_of(results)
        if not results['modality_mask'].any():
            raise SensorError('+'.join(s for s in SENSORS if s in self.sensors), 'modality_mask',
                              'at least one kept sensor present in the sample',
                              got=f"sample {results.get('img_id', '?')} has none of them")
        return results

    def __repr__(self) -> str:
        return f"KeepSensors(sensors={'+'.join(s for s in SENSORS if s in self.sensors)!r})"
