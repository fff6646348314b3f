"""TensorRT backend: runs a serialized engine built on the target by ``export/build_trt_engine.py``.

Buffers and execution go through polygraphy's ``TrtRunner`` (a thin layer over the TensorRT runtime and
its own CUDA bindings), so this needs ``tensorrt`` and ``polygraphy`` but neither torch nor pycuda. The
engine's spec (input size, classes, normalisation, NMS mode) is the JSON sidecar the build script writes
next to the engine (``model.engine.json``), copied from the ONNX metadata.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from ..spec import ModelSpec, sidecar_path


def _import_tensorrt():
    try:
        import tensorrt  # noqa: F401
        from polygraphy.backend.common import BytesFromPath
        from polygraphy.backend.trt import EngineFromBytes, TrtRunner
    except ImportError as exc:  # keep the reason: wrong CUDA, missing plugin lib, ...
        raise ImportError(
            'the TensorRT backend needs the `tensorrt` Python package (JetPack ships it: '
            '`sudo apt install python3-libnvinfer`) and `polygraphy`; '
            f'import failed with: {exc}') from exc
    return BytesFromPath, EngineFromBytes, TrtRunner


def _numpy_dtype(dtype) -> np.dtype:
    """The numpy dtype of an engine binding's dtype as polygraphy reports it: a ``DataType`` member
    from polygraphy 0.49 on (an instance of ``DataTypeEntry``, not of ``DataType``: an isinstance
    test against ``DataType`` never matches), a numpy dtype before."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        return np.dtype(dtype)
    except TypeError:
        from polygraphy.datatype import DataType
        return np.dtype(DataType.to_dtype(dtype, 'numpy'))


class TensorRTBackend:
    """A TensorRT engine run by polygraphy's ``TrtRunner``; its ``ModelSpec`` is the JSON sidecar
    next to the engine (``sidecar_path``) unless ``spec`` is given."""
    name = 'tensorrt'

    def __init__(self, engine_path: Union[str, Path], spec: Optional[ModelSpec] = None):
        self.path = Path(engine_path)
        if not self.path.is_file():
            raise FileNotFoundError(f'TensorRT engine not found: {self.path}')
        if spec is None:
            side = sidecar_path(self.path)
            if not side.is_file():
                raise FileNotFoundError(
                    f'{side} not found: the engine spec sidecar written by build_trt_engine.py '
                    '(input size, classes, normalisation, NMS mode)')
            spec = ModelSpec.read_json(side)
        self.spec = spec
        BytesFromPath, EngineFromBytes, TrtRunner = _import_tensorrt()
        import tensorrt as trt
        # EfficientNMS_TRT lives in the plugin library; register it before deserialising.
        trt.init_libnvinfer_plugins(trt.Logger(trt.Logger.WARNING), '')
        self._runner = TrtRunner(EngineFromBytes(BytesFromPath(str(self.path))))
        self._runner.activate()

    def run(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """``Backend.run``: one engine execution, outputs copied to the host.

        Args:
            inputs: batches named by ``spec.input_names`` (the model's sensors and
                ``modality_mask``); each engine input is fed in the dtype the engine declares.

        Returns:
            Every engine output by name, numpy.
        """
        feed = {}
        for name, meta in self._runner.get_input_metadata().items():
            feed[name] = np.ascontiguousarray(inputs[name], dtype=_numpy_dtype(meta.dtype))
        out = self._runner.infer(feed, copy_outputs_to_host=True)
        return {k: np.asarray(v) for k, v in out.items()}

    def close(self) -> None:
        if getattr(self, '_runner', None) is not None and self._runner.is_active:
            self._runner.deactivate()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: CUDA may already be gone
            pass
