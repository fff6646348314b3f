"""The backend interface the Predictor drives (structural: any object with these members works)."""
from __future__ import annotations

from typing import Dict, Protocol, runtime_checkable

import numpy as np

from ..spec import ModelSpec


@runtime_checkable
class Backend(Protocol):
    """What ``Predictor`` needs from a backend: a name, the model's ``ModelSpec`` and ``run``.

    Structural (``typing.Protocol``): any object with these members is a backend, without
    subclassing; ``isinstance(obj, Backend)`` checks that the members exist. The package's backends:
    ``TorchBackend``, ``OnnxRuntimeBackend``, ``TensorRTBackend``.

    Attributes:
        name: short name for reports and timings.
        spec: the deployed network's ``ModelSpec``.
    """

    #: short name for reports and timings: 'torch', 'onnxruntime', 'tensorrt'
    name: str
    #: the deployed network's input size, classes, normalisation and NMS mode
    spec: ModelSpec

    def run(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Run the network on one batch.

        Args:
            inputs: ``{rgb, thermal, depth, modality_mask}`` float32 arrays, (B, C, H, W) at
                ``spec.input_size`` and (B, S), normalised as ``spec.normalization`` says.

        Returns:
            The graph's outputs by name (``spec.outputs``), as numpy arrays.
        """
        ...
