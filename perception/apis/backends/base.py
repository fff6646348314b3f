"""The backend interface the Predictor drives (structural: any object with these members works)."""
from __future__ import annotations

from typing import Dict, Protocol, runtime_checkable

import numpy as np

from ..spec import ModelSpec


@runtime_checkable
class Backend(Protocol):
    #: short name for reports and timings: 'torch', 'onnxruntime', 'tensorrt'
    name: str
    #: the deployed network's input size, classes, normalisation and NMS mode
    spec: ModelSpec

    def run(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """``{rgb, thermal, depth, modality_mask}`` float32 batches -> graph outputs by name."""
        ...
