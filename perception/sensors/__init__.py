"""Sensors as they come: named file encodings, radiometric thermal scaling and registration.

numpy + OpenCV (+ numba for the registration's compiled passes, optional), so the deployment path
(``perception infer`` on an ONNX model, the ROS node) decodes sensor files and registers cameras
without the training stack.
"""
from .encodings import (ENCODINGS, Encoding, decode_file, get_encoding,  # noqa: F401
                        register_encoding)
from .thermal import ThermalScaling, thermal_scaling_of  # noqa: F401  (registers u16_radiometric)
