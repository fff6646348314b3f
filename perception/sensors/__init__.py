"""Sensor file encodings: named, documented decoders from files to the decoded-sample arrays.

numpy + OpenCV only, so the deployment path (``perception infer`` on an ONNX model, the ROS node)
decodes sensor files without the training stack.
"""
from .encodings import (ENCODINGS, Encoding, decode_file, get_encoding,  # noqa: F401
                        register_encoding)
