"""Deployment: ONNX export with parity checks, in-graph NMS variants, TensorRT op compatibility,
INT8 Q/DQ quantisation. Needs the training stack (torch) and the deployment extra (onnx, onnxruntime,
onnxsim, polygraphy, onnx-graphsurgeon); running an exported model needs only ``perception.apis``.
"""
