"""``ReconstructionMetric``: how well masked pretraining reconstructs held-out frames.

``MaskedMultiSensorAutoencoder`` in 'predict' mode hides the patches of each frame with a fixed
mask (its ``eval_seed``) and records per frame and present sensor the masked-reconstruction loss
(the training loss: per-patch normalised squared error on the hidden patches; 1.0 is what
predicting each patch's own mean scores). This metric averages it per sensor over the frames that
have the sensor: ``recon/<sensor>``, plus ``recon/frames_<sensor>`` (how many frames).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from ..registry import METRICS


@METRICS.register_module()
class ReconstructionMetric(BaseMetric):
    """Mean held-out reconstruction loss per sensor (module docstring)."""

    default_prefix = 'recon'

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(dict(sample.get('recon_loss') or {}))

    def compute_metrics(self, results: List[Dict[str, float]]) -> Dict[str, float]:
        per_sensor: Dict[str, List[float]] = defaultdict(list)
        for frame in results:
            for sensor, value in frame.items():
                per_sensor[sensor].append(float(value))
        out: Dict[str, float] = {}
        for sensor, values in per_sensor.items():
            out[sensor] = float(np.mean(values))
            out[f'frames_{sensor}'] = float(len(values))
        return out
