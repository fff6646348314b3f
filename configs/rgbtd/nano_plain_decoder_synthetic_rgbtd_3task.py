# nano with a plain shared decoder in place of the TaskExpert mixture-of-experts decoder, widened
# 4x (strides 4-32) so that its deployed latency equals the MoE's (docs/results.md, study 3's match
# in ONNX Runtime). Trained 4x longer than the studies' 500 iterations (study 7: 2,000 iterations,
# seeds 0 and 1) it beats the MoE on segmentation and detection and ties it on depth: the option to
# pick when those two tasks matter most. Everything else (encoders, fusion, heads, export, the ROS
# node) is the same; it has no gate maps to export.
_base_ = ['./nano_synthetic_rgbtd_3task.py']
model = dict(decoder=dict(_delete_=True, type='PlainDecoder', channels=(128, 192, 256, 384),
                          norm_cfg=dict(type='BN')))
