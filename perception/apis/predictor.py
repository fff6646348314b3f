"""``Predictor``: one frame in (any subset of rgb / thermal / depth), one ``PerceptionResult`` out.

    p = Predictor('configs/nano.py', 'nano.pth')      # PyTorch (needs the training stack)
    p = Predictor('nano.onnx')                         # ONNX Runtime (deployment extra only)
    p = Predictor('nano.engine')                       # TensorRT (on the Jetson)
    result = p(rgb=rgb_u8, thermal=None, depth=depth_m)

Every backend goes through the same ``preprocess`` and ``postprocess`` (perception.apis.preprocess /
postprocess), driven by the backend's ``ModelSpec``; backends only map input tensors to output tensors.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from perception.contract import PerceptionWarning
from perception.results import PerceptionResult

from .backends.base import Backend
from .postprocess import Thresholds, postprocess
from .preprocess import FrameInfo, preprocess
from .spec import ModelSpec

ONNX_SUFFIXES = ('.onnx', )
ENGINE_SUFFIXES = ('.engine', '.plan', '.trt')
CONFIG_SUFFIXES = ('.py', )
ALIASES = {'pytorch': 'torch', 'ort': 'onnxruntime', 'trt': 'tensorrt'}


class IgnoredSensorWarning(PerceptionWarning):
    """A frame brought a sensor the model does not use (not built for it, or never trained on it);
    the sensor was left out. Issued once per sensor and Predictor."""


_SUFFIX_HELP = (f'configs {CONFIG_SUFFIXES} run on torch, {ONNX_SUFFIXES} on onnxruntime, '
                f'{ENGINE_SUFFIXES} on tensorrt')


class Predictor:
    """Runs one model on frames: ``predictor(rgb=..., thermal=..., depth=...) -> PerceptionResult``.

    Args:
        model: a config (path or mmengine ``Config``) [+ ``checkpoint``], an ``.onnx`` file, a
            TensorRT engine (``.engine``/``.plan``/``.trt``), or a ready backend object.
        checkpoint: weights of a config model (random initialisation without).
        backend: ``'torch'``, ``'onnxruntime'`` or ``'tensorrt'``; optional, must agree with
            ``model``.
        device: PyTorch device of a config model.
        providers: ONNX Runtime execution providers.
        threads: ONNX Runtime intra-op threads (None: its default, every core).
        input_size: (H, W) a config model runs at (default: the config's ``input_size``).
        score_thr, iou_thr, max_det: detection settings overriding the model's
            (``contract.DETECTION_SETTINGS``).
        registration: ``perception.sensors.registration.Registration`` (e.g. from
            ``load_calibration(FILE)``): thermal and depth are warped onto the colour camera's grid
            first.

    Attributes:
        spec: the model's ``ModelSpec`` (classes, input size, normalisation, NMS mode).
        thresholds: the detection settings in force.
    """

    def __init__(self, model: Union[str, Path, Backend, object], checkpoint: Optional[str] = None,
                 *, backend: Optional[str] = None, device: str = 'cpu',
                 providers: Optional[Sequence] = None, input_size: Optional[Sequence[int]] = None,
                 score_thr: Optional[float] = None, iou_thr: Optional[float] = None,
                 max_det: Optional[int] = None, registration=None, threads: Optional[int] = None):
        # the registration's calibration tables are built now (seconds at VGA), not on frame 1
        self.registration = registration.prepare() if registration is not None else None
        self.backend: Backend = _make_backend(model, checkpoint, device, providers, input_size,
                                              threads)
        if backend not in (None, 'auto') and ALIASES.get(backend, backend) != self.backend.name:
            raise ValueError(f'backend={backend!r} does not fit {model!r}, which runs on '
                             f'{self.backend.name!r} ({_SUFFIX_HELP})')
        self.thresholds = Thresholds.from_spec(self.backend.spec, score_thr, iou_thr, max_det)
        self._warned_ignored: set = set()

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config, checkpoint: Optional[str] = None, device: str = 'cpu',
                    input_size: Optional[Sequence[int]] = None, **thresholds) -> 'Predictor':
        """A PyTorch predictor built from a config (needs the training stack).

        Args:
            config: config path or mmengine ``Config``.
            checkpoint: weights to load (random initialisation without).
            device: PyTorch device.
            input_size: (H, W) to run at (default: the config's ``input_size``).
            **thresholds: the constructor's keywords (``score_thr``, ``iou_thr``, ``max_det``,
                ``registration``).

        Returns:
            A ``Predictor`` on a ``TorchBackend``.
        """
        from .backends.torch import TorchBackend
        return cls(TorchBackend.from_config(config, checkpoint, device, input_size), **thresholds)

    @classmethod
    def from_onnx(cls, path: Union[str, Path], providers: Optional[Sequence] = None,
                  **thresholds) -> 'Predictor':
        """An ONNX Runtime predictor for an exported ``.onnx`` file (deployment extra only).

        Args:
            path: the ``.onnx`` file; its ``ModelSpec`` is read from the file's metadata.
            providers: ONNX Runtime execution providers (default: fastest available, CPU last).
            **thresholds: the constructor's keywords (``score_thr``, ``iou_thr``, ``max_det``,
                ``registration``).

        Returns:
            A ``Predictor`` on an ``OnnxRuntimeBackend``.
        """
        from .backends.onnxruntime import OnnxRuntimeBackend
        return cls(OnnxRuntimeBackend(path, providers=providers), **thresholds)

    @classmethod
    def from_tensorrt(cls, engine_path: Union[str, Path], **thresholds) -> 'Predictor':
        """A TensorRT predictor for a serialized engine (on the target GPU).

        Args:
            engine_path: the engine; its ``ModelSpec`` is the JSON sidecar next to it.
            **thresholds: the constructor's keywords (``score_thr``, ``iou_thr``, ``max_det``,
                ``registration``).

        Returns:
            A ``Predictor`` on a ``TensorRTBackend``.
        """
        from .backends.tensorrt import TensorRTBackend
        return cls(TensorRTBackend(engine_path), **thresholds)

    # --- use -------------------------------------------------------------------------------------
    @property
    def spec(self) -> ModelSpec:
        """The backend's ``ModelSpec``: input size, class names, normalisation, NMS mode."""
        return self.backend.spec

    def prepare(self, rgb=None, thermal=None, depth=None) -> Tuple[Dict[str, np.ndarray], FrameInfo]:
        """The network inputs for one frame (what calibration and parity feed the graphs).

        Args:
            rgb, thermal, depth: as ``__call__``; registered first when ``registration`` is set.

        Returns:
            ``(inputs, info)``: float32 batches of one named by ``spec.input_names`` (the model's
            sensors and ``modality_mask``) and the ``FrameInfo`` ``postprocess`` maps the outputs
            back with (it names the sensors given that the model does not use, which are left out
            with one ``IgnoredSensorWarning`` per sensor).
        """
        if self.registration is not None:   # outside the thermal view: the mean, i.e. 0 after norm
            fill = self.spec.normalization['thermal']['mean'][0]
            on_rgb = self.registration.apply(rgb, thermal, depth, thermal_fill=fill)
            rgb, thermal, depth = on_rgb['rgb'], on_rgb['thermal'], on_rgb['depth']
        inputs, info = preprocess(self.spec, rgb=rgb, thermal=thermal, depth=depth)
        self._warn_ignored(info.ignored)
        return inputs, info

    def _warn_ignored(self, ignored: Sequence[str]) -> None:
        """One warning per sensor, the first time a frame brings one the model does not use."""
        for s in ignored:
            if s in self._warned_ignored:
                continue
            self._warned_ignored.add(s)
            why = ("it never appeared in the model's training" if s in self.spec.sensors
                   else f"it is not one of the model's sensors {self.spec.sensors}")
            warnings.warn(f'{s} is ignored: {why} (warned once)', IgnoredSensorWarning,
                          stacklevel=3)

    def __call__(self, rgb: Optional[np.ndarray] = None, thermal: Optional[np.ndarray] = None,
                 depth: Optional[np.ndarray] = None) -> PerceptionResult:
        """Predict one frame from any non-empty subset of its sensors.

        Args:
            rgb: uint8 (H, W, 3) RGB, or None when absent.
            thermal: float32 (H, W) relative intensity in [0, 1], or None.
            depth: float32 (H, W) metres, 0 / non-finite where invalid, or None.

        Returns:
            ``PerceptionResult`` at the frame's resolution (segmentation labels, kept detections,
            depth in metres, the sensors used, timings). Bad input raises ``SensorError`` naming the
            sensor and the field.
        """
        t0 = time.perf_counter()
        inputs, info = self.prepare(rgb=rgb, thermal=thermal, depth=depth)
        t1 = time.perf_counter()
        raw = self.backend.run(inputs)
        t2 = time.perf_counter()
        result = postprocess(raw, self.spec, info, self.thresholds)
        t3 = time.perf_counter()
        result.timings_ms = {'preprocess': (t1 - t0) * 1e3, 'inference': (t2 - t1) * 1e3,
                             'postprocess': (t3 - t2) * 1e3}
        return result

    def __repr__(self) -> str:
        h, w = self.spec.input_size
        return (f'Predictor(backend={self.backend.name}, input={h}x{w}, nms={self.spec.nms}, '
                f'precision={self.spec.precision})')


def _make_backend(model, checkpoint, device, providers, input_size, threads=None) -> Backend:
    if isinstance(model, Backend):
        return model
    path = Path(str(model)) if isinstance(model, (str, Path)) else None
    suffix = path.suffix.lower() if path is not None else ''
    if suffix in ONNX_SUFFIXES:
        from .backends.onnxruntime import OnnxRuntimeBackend
        return OnnxRuntimeBackend(path, providers=providers, threads=threads)
    if suffix in ENGINE_SUFFIXES:
        from .backends.tensorrt import TensorRTBackend
        return TensorRTBackend(path)
    if path is None or suffix in CONFIG_SUFFIXES:   # a path to a config, or a Config object
        from .backends.torch import TorchBackend
        return TorchBackend.from_config(model, checkpoint, device, input_size)
    raise ValueError(f'cannot tell the backend of {model!r}: {_SUFFIX_HELP}')
