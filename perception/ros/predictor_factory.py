"""Build the node's predictor from its parameters, importing the model stack only when asked.

``perception.Predictor`` (the deployment issue) is imported here, at call time: the rest of
``perception.ros`` must import on a robot with only numpy, rosbags and cyclonedds, and a node whose
model fails to load should say so with the parameter values, not with an import traceback at start.
A custom predictor (any callable with the ``predictor(rgb=, thermal=, depth=) -> PerceptionResult``
contract) can be named as ``module:attribute``; it is built by calling it with no arguments when it
is a class or factory function, or used as is when it is already a predictor object.
"""
from __future__ import annotations

import importlib
import inspect
import logging
import re
from pathlib import Path
from typing import Any, Dict, Optional

from perception.contract import SENSORS

from .core import PredictorFn

log = logging.getLogger('perception.ros')
CUSTOM_SPEC = re.compile(r'[A-Za-z_][\w.]*:[A-Za-z_]\w*')


def predictor_of(config) -> PredictorFn:
    """The predictor a node's parameters name (``NodeConfig``: ``model_path``, ``checkpoint_path``,
    ``backend``, the thresholds, ``ort_threads`` and ``ort_providers``): what the rclpy node, the DDS
    runner and bag replay run."""
    options: Dict[str, Any] = {}
    if config.checkpoint_path:
        options['checkpoint'] = config.checkpoint_path
    if config.ort_threads:
        options['threads'] = int(config.ort_threads)
    if config.ort_providers:
        options['providers'] = list(config.ort_providers)
    return build_predictor(config.model_path, config.backend, config.score_thr, config.iou_thr,
                           **options)


def build_predictor(model_path: str, backend: str = 'onnxruntime',
                    score_thr: Optional[float] = None, iou_thr: Optional[float] = None,
                    **options: Any) -> PredictorFn:
    """``perception.Predictor(model_path, backend=..., ...)``; thresholds are passed when it takes them.

    A config (``.py``) needs its weights: ``checkpoint`` (the ``checkpoint_path`` parameter); a config
    alone is refused, since it would run random weights.
    """
    if not model_path:
        raise ValueError('parameter model_path is empty: set it to an ONNX file, a TensorRT engine or '
                         'a config (.py) with checkpoint_path, understood by perception.Predictor')
    if Path(model_path).suffix == '.py' and not options.get('checkpoint'):
        raise ValueError(f'parameter model_path is a config ({model_path}) but checkpoint_path is '
                         'empty: a config alone runs random weights; set checkpoint_path to the '
                         'trained .pth, or model_path to the exported .onnx / .engine')
    if not Path(model_path).exists():
        if CUSTOM_SPEC.fullmatch(model_path):
            return load_custom_predictor(model_path)
        raise FileNotFoundError(f'parameter model_path: {model_path} does not exist (expected a model '
                                'file, or module:attribute naming a custom predictor)')
    try:
        from perception.apis import Predictor
    except ImportError as err:
        raise ImportError(f'perception.Predictor is not importable ({err}); install a deployment '
                          'extra on this machine: pip install "perception[ort]" (ONNX Runtime), '
                          'or "perception[trt]" on a Jetson') from err
    # backend 'auto' (or empty) lets the Predictor pick it from the file suffix; a named backend
    # must match the file (the Predictor says so clearly otherwise).
    kwargs: Dict[str, Any] = {'backend': backend or 'auto', 'score_thr': score_thr,
                              'iou_thr': iou_thr, **options}
    log.info(f'loading predictor: {model_path} (backend {backend})')
    return Predictor(model_path, **kwargs)


def load_custom_predictor(spec: str) -> PredictorFn:
    """``'package.module:attribute'`` -> predictor (see module docstring)."""
    module_name, _, attr = spec.partition(':')
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f'custom predictor {spec!r}: cannot load ({type(err).__name__}: {err})') from err
    if inspect.isclass(obj) or (inspect.isfunction(obj) and not _takes_sensors(obj)):
        obj = obj()
    if not callable(obj):
        raise TypeError(f'custom predictor {spec!r} is not callable: {type(obj).__name__}')
    return obj


def _takes_sensors(fn: Any) -> bool:
    params = inspect.signature(fn).parameters
    return set(SENSORS) <= set(params)
