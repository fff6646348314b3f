"""Inference API: one ``Predictor`` over PyTorch, ONNX Runtime and TensorRT backends.

Importing this package needs numpy and OpenCV only; a backend imports its runtime when it is built, so
an exported model runs with the deployment extra alone (no torch, mmengine, mmcv, mmseg, mmdet).
"""
from .predictor import Predictor  # noqa: F401
from .spec import ModelSpec  # noqa: F401

__all__ = ['Predictor', 'ModelSpec']
