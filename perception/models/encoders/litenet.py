"""``LiteNet``: the package's own light backbone family (MobileNetV2-style inverted residuals).

Sized for three encoders running at once on a CPU or a Jetson: a stride-2 stem, then four stages that
each halve the resolution, giving the 4-level pyramid (strides 4, 8, 16, 32) the fusion expects.
The blocks are mmseg's ``InvertedResidual`` (depthwise 3x3 between 1x1 convs); only the stage layout
is defined here. ``in_channels`` is set per sensor by ``MultiSensorEncoder``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from mmcv.cnn import ConvModule
from mmseg.models.utils import InvertedResidual
from torch import nn

from perception.registry import MODELS

from .base import PyramidBackbone

#: name -> (stem channels, ((out channels, blocks, expand ratio) per stage)).
#: The first block of a stage downsamples with expand ratio 1 (cheap at high resolution).
ARCHS: Dict[str, Tuple[int, Tuple[Tuple[int, int, int], ...]]] = {
    # ~0.13 GFLOPs at 256x320 with 3 input channels
    'nano': (16, ((24, 2, 2), (48, 2, 3), (96, 3, 3), (160, 2, 3))),
    # a lighter variant for single-channel sensors (thermal, depth) that carry less texture
    'pico': (12, ((16, 2, 2), (32, 2, 3), (64, 2, 3), (128, 2, 3))),
    'small': (24, ((32, 2, 3), (64, 3, 4), (128, 4, 4), (256, 2, 4))),
}


@MODELS.register_module()
class LiteNet(PyramidBackbone):
    """Light inverted-residual backbone returning features at strides 4, 8, 16, 32.

    Args:
        arch, in_channels, stem_channels, stages, out_indices, init_cfg: as ``PyramidBackbone``.
        norm_cfg / act_cfg: of every convolution (mmcv configs).
    """

    ARCHS = ARCHS

    def __init__(self, arch: str = 'nano', in_channels: int = 3,
                 stem_channels: Optional[int] = None,
                 stages: Optional[Sequence[Sequence[int]]] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU6'),
                 init_cfg: Optional[dict] = None):
        super().__init__(out_indices, init_cfg)
        stem_channels, stages = self.layout(arch, stem_channels, stages)
        self.stem = ConvModule(in_channels, stem_channels, 3, stride=2, padding=1,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stages = nn.ModuleList()
        all_channels: List[int] = []
        c_in = stem_channels
        for c_out, blocks, expand in stages:
            layers = []
            for b in range(blocks):
                first = b == 0
                ratio = 1 if first else expand
                layers.append(InvertedResidual(
                    c_in, c_out, stride=2 if first else 1, expand_ratio=ratio,
                    norm_cfg=norm_cfg, act_cfg=act_cfg))
                c_in = c_out
            self.stages.append(nn.Sequential(*layers))
            all_channels.append(c_out)
        self.declare_out_channels(all_channels)
