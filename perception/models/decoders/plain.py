"""``PlainDecoder``: one shared FPN-style decoder for all tasks (the ablation of the MoE decoder).

Same inputs and outputs as ``TaskExpertDecoder`` (no gates, no auxiliary loss): every head reads
the same shared maps, so the comparison isolates the experts, gates and task memory.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.registry import MODELS

from .base import BaseDecoder, DecoderOutput, TopDownPath


@MODELS.register_module()
class PlainDecoder(BaseDecoder):
    """Top-down path plus a depthwise-separable 3x3 smoothing block per level."""

    def __init__(self, in_channels: Sequence[int], tasks: Sequence[str],
                 out_levels: Mapping[str, Sequence[int]], channels: Optional[Sequence[int]] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, tasks, out_levels, channels, init_cfg)
        self.top_down = TopDownPath(self.in_channels, self.channels, self.finest, norm_cfg, act_cfg)
        used = sorted({lvl for levels in self.out_levels.values() for lvl in levels})
        ch = self.channels
        self.smooth = nn.ModuleDict({
            str(l): nn.Sequential(
                ConvModule(ch[l], ch[l], 3, padding=1, groups=ch[l], norm_cfg=norm_cfg,
                           act_cfg=act_cfg),
                ConvModule(ch[l], ch[l], 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
            for l in used})

    def forward(self, feats: Sequence[Tensor], mask: Optional[Tensor] = None) -> DecoderOutput:
        """``mask`` (the modality mask) is accepted for the decoders' common interface, unused."""
        xs = self.top_down(feats)
        shared = {int(l): m(xs[int(l)]) for l, m in self.smooth.items()}
        outs: Dict[str, List[Tensor]] = {t: [shared[l] for l in self.out_levels[t]]
                                         for t in self.tasks}
        return DecoderOutput(outs, {})
