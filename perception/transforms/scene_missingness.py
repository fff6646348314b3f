"""``ConditionMissingness``: sensors missing *because of the scene* (missing not at random).

``ModalityDropout`` drops sensors independently of what is in the frame. Real robots lose sensors for
reasons tied to the scene: the thermal camera is switched off in daylight to save power, the depth
sensor returns nothing in fog, the RGB camera saturates in glare. A model trained on such data can
learn "no thermal means day" -- a shortcut that breaks when the pattern changes at deployment. This
transform reproduces that situation for the missing-not-at-random study (docs/results.md, study 2):
the probability of dropping each sensor depends on the sample's ``condition``.

Like ``ModalityDropout``, a dropped sensor becomes ``None`` with a False ``modality_mask`` bit, and a
draw that would remove every present sensor leaves the sample unchanged. Random numbers come from
numpy's global RNG; probabilities of exactly 0 or 1 make the transform deterministic (test patterns).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np
from mmcv.transforms import BaseTransform

from perception.contract import SENSORS
from perception.registry import TRANSFORMS

from .sample_checks import check_sample, modality_mask_of, present_sensors


@TRANSFORMS.register_module()
class ConditionMissingness(BaseTransform):
    """Drop each sensor with a probability that depends on the sample's ``condition``.

    Args:
        rules: ``{condition: {sensor: probability}}``, e.g.
            ``{'day': {'thermal': 0.9}, 'fog': {'depth': 0.9}}``. Conditions not listed keep every
            sensor. Sensors are drawn independently within a condition.
        key: the sample field holding the condition name (the synthetic datasets set
            ``condition``).
    """

    def __init__(self, rules: Mapping[str, Mapping[str, float]], key: str = 'condition') -> None:
        self.rules: Dict[str, Dict[str, float]] = {}
        for condition, probs in dict(rules).items():
            checked = {}
            for sensor, p in dict(probs).items():
                if sensor not in SENSORS:
                    raise ValueError(f'ConditionMissingness rule for {condition!r}: unknown sensor '
                                     f'{sensor!r}, expected one of {SENSORS}')
                if not 0.0 <= float(p) <= 1.0:
                    raise ValueError(f'ConditionMissingness rule for {condition!r}: probability '
                                     f'of dropping {sensor!r} must be in [0, 1], got {p!r}')
                checked[sensor] = float(p)
            self.rules[str(condition)] = checked
        self.key = key

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        check_sample(results)
        if self.key not in results:
            raise KeyError(f'ConditionMissingness needs the sample field {self.key!r} (the scene '
                           f'condition; SyntheticRGBTDDataset sets it), got fields '
                           f'{sorted(results)}')
        probs = self.rules.get(str(results[self.key]), {})
        present = present_sensors(results)
        drop = [s for s in present if s in probs and np.random.rand() < probs[s]]
        if len(drop) < len(present):   # never remove every sensor of a frame
            for sensor in drop:
                results[sensor] = None
        results['modality_mask'] = modality_mask_of(results)
        return results

    def __repr__(self) -> str:
        return f'ConditionMissingness(rules={self.rules}, key={self.key!r})'
