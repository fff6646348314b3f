"""``RepNet``: the nano model's encoder, built from re-parameterisable dense 3x3 convs (RepVGG).

Chosen by measured latency (tools/analysis/block_latency.py, docs/benchmarks.md): on the CPUs and
Jetson GPUs this package targets, a dense 3x3 conv runs near the machine's peak while the depthwise
3x3 of MobileNet-style blocks is memory-bound, so a shallow stack of dense convs with few, wide
stages is faster than an inverted-residual network with 4x fewer multiply-adds. Training uses the
branches of ``RepConv``; ``reparameterize`` collapses each block to one conv for inference/export.

Layout: a stride-2 stem, then four stages that each start with a stride-2 block, giving the 4-level
pyramid (strides 4, 8, 16, 32) the fusion expects.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from torch import nn

from perception.registry import MODELS

from ..layers.reparam import RepConv
from .base import PyramidBackbone

#: name -> (stem channels, ((out channels, blocks after the stride-2 block) per stage)).
ARCHS: Dict[str, Tuple[int, Tuple[Tuple[int, int], ...]]] = {
    'nano': (16, ((32, 0), (64, 1), (96, 1), (128, 1))),
    # single-channel sensors (thermal, depth) carry less texture: narrower
    'pico': (16, ((16, 0), (32, 1), (64, 1), (96, 1))),
    'small': (24, ((48, 1), (96, 2), (160, 2), (256, 1))),
}


@MODELS.register_module()
class RepNet(PyramidBackbone):
    """Dense re-parameterisable backbone returning features at strides 4, 8, 16, 32.

    Args:
        arch, in_channels, stem_channels, stages, out_indices, init_cfg: as ``PyramidBackbone``;
            ``stages`` must have four entries.
    """

    ARCHS = ARCHS

    def __init__(self, arch: str = 'nano', in_channels: int = 3,
                 stem_channels: Optional[int] = None,
                 stages: Optional[Sequence[Sequence[int]]] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3), init_cfg: Optional[dict] = None):
        super().__init__(out_indices, init_cfg)
        stem_channels, stages = self.layout(arch, stem_channels, stages)
        if len(stages) != 4:
            raise ValueError(f'RepNet needs 4 stages (strides 4, 8, 16, 32), got {len(stages)}')
        self.stem = RepConv(in_channels, stem_channels, stride=2)
        self.stages = nn.ModuleList()
        c_in = stem_channels
        all_channels: List[int] = []
        for c_out, blocks in stages:
            layers = [RepConv(c_in, c_out, stride=2)]
            layers += [RepConv(c_out, c_out) for _ in range(blocks)]
            self.stages.append(nn.Sequential(*layers))
            all_channels.append(c_out)
            c_in = c_out
        self.declare_out_channels(all_channels)
