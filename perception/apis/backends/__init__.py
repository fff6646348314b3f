"""Inference backends: each turns the pre-processed input dict into the raw graph outputs.

Modules are imported only when their backend is built (``torch``, ``onnxruntime`` and ``tensorrt`` are
each optional), so this package imports nothing heavy.
"""
from .base import Backend  # noqa: F401
