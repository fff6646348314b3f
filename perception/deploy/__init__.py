"""Deployment: ONNX export with parity checks, in-graph NMS variants, TensorRT op compatibility,
INT8 Q/DQ quantisation. Needs torch and the deployment extra (onnx, onnxruntime, onnxsim, polygraphy,
onnx-graphsurgeon); running an exported model needs only ``perception.apis``.

Depends on ``perception.apis`` (the exported graph is checked through the Predictor's own pre- and
post-processing) and ``perception.models`` (the ``ExportWrapper`` it traces); neither depends on it.
Models are built inside the functions that export them: importing a deploy module does not load the
OpenMMLab training stack (tests/test_architecture.py).
"""
