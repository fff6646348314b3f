"""ONNX Runtime backend: runs an exported ``.onnx`` file; the spec comes from its metadata_props."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np
import onnxruntime as ort

from ..spec import ModelSpec


def default_providers() -> list:
    """Fastest available first; CPU last so a session always builds."""
    preferred = ('TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider')
    available = ort.get_available_providers()
    return [p for p in preferred if p in available] or available


class OnnxRuntimeBackend:
    """An exported ``.onnx`` file in an ONNX Runtime session; its ``ModelSpec`` is read from the
    file's metadata unless ``spec`` is given."""
    name = 'onnxruntime'

    def __init__(self, path: Union[str, Path], providers: Optional[Sequence] = None,
                 threads: Optional[int] = None, spec: Optional[ModelSpec] = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f'ONNX model not found: {self.path}')
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(self.path), sess_options=options,
                                            providers=list(providers or default_providers()))
        meta = self.session.get_modelmeta().custom_metadata_map
        self.spec = spec or ModelSpec.from_metadata(meta, where=str(self.path))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        unknown = [n for n in self.input_names if n not in self.spec.input_names]
        if unknown:
            raise ValueError(f'{self.path}: graph inputs {unknown} are not among the inputs its '
                             f'metadata declares {self.spec.input_names}; re-export the model '
                             'with `perception export`')

    @property
    def providers(self) -> list:
        return self.session.get_providers()

    def run(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """``Backend.run``: one ONNX Runtime session call.

        Args:
            inputs: batches named by ``spec.input_names`` (the model's sensors and
                ``modality_mask``); only the graph's own inputs are fed, as contiguous float32.

        Returns:
            Every graph output by name, in the graph's order.
        """
        # Feed only what the graph takes (an exporter may drop an input the graph never reads).
        feed = {n: np.ascontiguousarray(inputs[n], np.float32) for n in self.input_names}
        values = self.session.run(self.output_names, feed)
        return dict(zip(self.output_names, values))
