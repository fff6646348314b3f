"""``AttentionFusion``: mask-aware sensor fusion at every pyramid level.

Per level, for the sensors present in each sample:
  1. project each sensor to the level width (absent sensors' features are replaced by 0 *before*
     the projection, so nothing computed later can depend on their values, even NaN);
  2. channel re-weighting of each sensor by a gate computed from its own pooled descriptor and the
     mean descriptor of the *other present* sensors (cross-modal squeeze-excitation);
  3. spatial re-weighting the same way, from mean/max maps of itself and of the other present sensors;
  4. per-pixel sensor weights: a masked softmax over sensors (absent -> exactly 0, present renormalised)
     and the weighted sum;
  5. at the coarse levels, cross-attention from the fused map to all present sensors' tokens.
So an absent sensor has no influence on any output, in train mode too (BatchNorm sees only zeros in
its place), which the tests check for every non-empty subset.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.contract import SENSORS
from perception.registry import MODELS

from ..masking import keep_present, masked_softmax, mean_of_others
from .base import LevelwiseFusion
from .cross_attention import MaskedCrossAttention


class SensorAttentionLevel(nn.Module):
    """Fusion of the sensors at one pyramid level (steps 1-5 of the module docstring).

    Every per-sensor operation after the projection runs for all sensors at once, as one grouped
    convolution (``groups`` = number of sensors): the same function as one small layer per sensor,
    in a handful of kernel calls instead of a dozen (latency on CPUs is per call, not per MAC).
    ``channel_gate`` / ``spatial_gate`` switch steps 2 and 3 off (latency vs accuracy studies).
    """

    def __init__(self, in_channels: Sequence[int], channels: int, reduction: int = 4,
                 spatial_kernel: int = 7, cross_attention: bool = False, num_heads: int = 2,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None,
                 channel_gate: bool = True, spatial_gate: bool = True):
        super().__init__()
        num = len(in_channels)
        hidden = max(channels // reduction, 8)
        self.num, self.channels = num, channels
        self.proj = nn.ModuleList(ConvModule(c, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
                                  for c in in_channels)
        # per sensor: (own descriptor, the others' mean) -> per-channel gate; one group per sensor
        self.channel_gate = nn.Sequential(
            nn.Conv1d(num * 2 * channels, num * hidden, 1, groups=num), nn.ReLU(inplace=True),
            nn.Conv1d(num * hidden, num * channels, 1, groups=num)) if channel_gate else None
        # per sensor: own (mean, max) over channels and the others' -> per-pixel gate
        self.spatial_gate = nn.Conv2d(num * 4, num, spatial_kernel, padding=spatial_kernel // 2,
                                      groups=num) if spatial_gate else None
        self.score = nn.Conv2d(num * channels, num, 1, groups=num)
        self.cross = MaskedCrossAttention(channels, num, num_heads) if cross_attention else None

    def forward(self, feats: Sequence[Tensor], present: Tensor):
        """``feats``: S x (B, C_s, H, W); ``present``: (B, S) bool. Returns fused, weights."""
        b, s, c = present.shape[0], self.num, self.channels
        x = torch.stack([proj(keep_present(f, present[:, i].view(b, 1, 1, 1)))
                         for i, (proj, f) in enumerate(zip(self.proj, feats))], 1)  # (B,S,C,H,W)
        h, w = x.shape[-2:]
        gated = x
        if self.channel_gate is not None:
            desc = x.mean(dim=(3, 4))                                              # (B, S, C)
            pair = torch.cat([desc, mean_of_others(desc, present)], 2)             # (B, S, 2C)
            g_c = torch.sigmoid(self.channel_gate(pair.reshape(b, s * 2 * c, 1)))
            gated = gated * g_c.view(b, s, c, 1, 1)
        if self.spatial_gate is not None:
            stats = torch.stack([x.mean(2), x.amax(2)], 2)                         # (B,S,2,H,W)
            pair = torch.cat([stats, mean_of_others(stats, present)], 2)           # (B,S,4,H,W)
            g_s = torch.sigmoid(self.spatial_gate(pair.reshape(b, s * 4, h, w)))   # (B, S, H, W)
            gated = gated * g_s.unsqueeze(2)
        logits = self.score(gated.reshape(b, s * c, h, w))                         # (B, S, H, W)
        weights = masked_softmax(logits, present[:, :, None, None], dim=1)
        fused = (gated * weights.unsqueeze(2)).sum(1)
        if self.cross is not None:
            fused = self.cross(fused, gated.unbind(1), present)
        return fused, weights


@MODELS.register_module()
class AttentionFusion(LevelwiseFusion):
    """Mask-aware attention fusion over the 4 pyramid levels.

    Args:
        in_channels: encoder channels per sensor and level (filled in by the model).
        channels: fused width per level.
        cross_attention_levels: level indices (0 = stride 4) that also get cross-attention.
        reduction / spatial_kernel: channel-gate bottleneck ratio and spatial-gate kernel size.
        channel_gate_levels / spatial_gate_levels: levels with step 2 / step 3 (None = all): on a
            CPU each gate costs more in kernel calls than in multiply-adds (docs/benchmarks.md).
    """

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str] = SENSORS, levels: Optional[Sequence[int]] = None,
                 cross_attention_levels: Sequence[int] = (2, 3),
                 num_heads: int = 2, reduction: int = 4, spatial_kernel: int = 7,
                 channel_gate_levels: Optional[Sequence[int]] = None,
                 spatial_gate_levels: Optional[Sequence[int]] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, channels, sensors, levels, init_cfg)
        self.fuse = nn.ModuleDict({
            str(lvl): SensorAttentionLevel(
                [self.in_channels[s][lvl] for s in self.sensors], channels[lvl], reduction,
                spatial_kernel, lvl in cross_attention_levels, num_heads, norm_cfg, act_cfg,
                channel_gate=channel_gate_levels is None or lvl in channel_gate_levels,
                spatial_gate=spatial_gate_levels is None or lvl in spatial_gate_levels)
            for lvl in self.levels})
