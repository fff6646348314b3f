"""The "why it is fast" section of docs/benchmarks.md: the design rules the nano model follows, each
pointing at the measurement in the same report (or the block benchmark) that decided it."""

WHY_NANO_IS_FAST = [
    '## Why nano is fast', '',
    'The design was chosen by measured latency, block by block '
    '(`python tools/analysis/block_latency.py`: every candidate block at the feature sizes of a '
    '256x320 input, in PyTorch eager fp32/bf16 and ONNX Runtime), then as a whole (the tables '
    'above). What decided it:', '',
    '1. **Dense 3x3 convolutions, re-parameterised.** A dense 3x3 conv runs near the backend\'s '
    'peak; the depthwise 3x3 of MobileNet-style blocks is memory-bound, so an inverted residual '
    'costs about the time of a dense 3x3 conv with a quarter of its multiply-adds and less '
    'capacity. The encoders are RepVGG-style `RepNet`s: three parallel branches (3x3, 1x1, '
    'identity, each with BatchNorm) while training, one 3x3 conv with a bias after '
    '`reparameterize()`, which the exporter and the PyTorch backend call '
    '(`perception/models/layers/reparam.py`).',
    '2. **Kernel calls, not multiply-adds, are the cost of the small layers.** The fusion and the '
    'decoder compute every sensor and every task at once: one grouped conv per layer (a group per '
    'sensor or per task), experts as one conv with E x C outputs, the gates\' BatchNorm folded '
    'into both of their convs. In the profile above, the earlier design runs many more nodes and '
    'spends a larger share of its time outside `Conv`/`FusedConv` (element-wise ops, reductions, '
    'layout reorders between ONNX Runtime\'s blocked NCHWc convolutions and plain ops).',
    '3. **Gates only where they pay.** Each attention gate of the fusion costs a few tiny kernels '
    'per level, and at stride 4 (5120 positions at 256x320) they cost more than the convolutions '
    'around them: nano keeps the per-pixel masked softmax over sensors at every level (the '
    'mask-aware attention that makes an absent sensor count for nothing), the cross-modal channel '
    'gates at strides 16/32, cross-attention at stride 32 only, and experts at strides 8-32.',
    '4. **Precision where the CPU has it.** Where the CPU computes bf16 natively (AVX-512 BF16 or '
    'AMX), training runs under bf16 autocast (`precision` in the config, `perception train --amp`); '
    'channels_last stays off for training because its batch-norm and element-wise backward kernels '
    'cost more than the convolutions gain on this model (docs/training.md).', '',
]
