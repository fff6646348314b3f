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

from typing import Dict, List, Mapping, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.contract import SENSORS, STRIDES
from perception.registry import MODELS

from ..masking import keep_present, masked_softmax, mean_of_others
from .base import BaseFusion, FusionOutput
from .cross_attention import MaskedCrossAttention


class SensorAttentionLevel(nn.Module):
    """Fusion of the sensors at one pyramid level (steps 1-5 of the module docstring)."""

    def __init__(self, in_channels: Sequence[int], channels: int, reduction: int = 4,
                 spatial_kernel: int = 7, cross_attention: bool = False, num_heads: int = 2,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None):
        super().__init__()
        num = len(in_channels)
        hidden = max(channels // reduction, 8)
        self.proj = nn.ModuleList(ConvModule(c, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
                                  for c in in_channels)
        # inputs: own descriptor and the others' mean -> per-channel gate
        self.channel_gate = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU(inplace=True),
                          nn.Linear(hidden, channels)) for _ in range(num))
        # inputs: own (mean, max) over channels and the others' -> per-pixel gate
        self.spatial_gate = nn.ModuleList(
            nn.Conv2d(4, 1, spatial_kernel, padding=spatial_kernel // 2) for _ in range(num))
        self.score = nn.ModuleList(nn.Conv2d(channels, 1, 1) for _ in range(num))
        self.cross = MaskedCrossAttention(channels, num, num_heads) if cross_attention else None

    def forward(self, feats: Sequence[Tensor], present: Tensor):
        """``feats``: S x (B, C_s, H, W); ``present``: (B, S) bool. Returns fused, weights."""
        b = present.shape[0]
        x = torch.stack([proj(keep_present(f, present[:, i].view(b, 1, 1, 1)))
                         for i, (proj, f) in enumerate(zip(self.proj, feats))], 1)  # (B,S,C,H,W)
        desc = x.mean(dim=(3, 4))                                                  # (B, S, C)
        desc_others = mean_of_others(desc, present)
        stats = torch.stack([x.mean(2), x.amax(2)], 2)                             # (B,S,2,H,W)
        stats_others = mean_of_others(stats, present)
        gated = []
        for i in range(len(self.proj)):
            g_c = torch.sigmoid(self.channel_gate[i](torch.cat([desc[:, i], desc_others[:, i]], 1)))
            g_s = torch.sigmoid(self.spatial_gate[i](
                torch.cat([stats[:, i], stats_others[:, i]], 1)))
            gated.append(x[:, i] * g_c[:, :, None, None] * g_s)
        logits = torch.cat([score(g) for score, g in zip(self.score, gated)], 1)  # (B, S, H, W)
        weights = masked_softmax(logits, present[:, :, None, None], dim=1)
        fused = (torch.stack(gated, 1) * weights.unsqueeze(2)).sum(1)
        if self.cross is not None:
            fused = self.cross(fused, gated, present)
        return fused, weights


@MODELS.register_module()
class AttentionFusion(BaseFusion):
    """Mask-aware attention fusion over the 4 pyramid levels.

    Args:
        in_channels: encoder channels per sensor and level (filled in by the model).
        channels: fused width per level.
        cross_attention_levels: level indices (0 = stride 4) that also get cross-attention.
        reduction / spatial_kernel: channel-gate bottleneck ratio and spatial-gate kernel size.
    """

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str] = SENSORS, levels: Optional[Sequence[int]] = None,
                 cross_attention_levels: Sequence[int] = (2, 3),
                 num_heads: int = 2, reduction: int = 4, spatial_kernel: int = 7,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, channels, sensors, levels, init_cfg)
        self.fuse = nn.ModuleDict({
            str(lvl): SensorAttentionLevel(
                [self.in_channels[s][lvl] for s in self.sensors], channels[lvl], reduction,
                spatial_kernel, lvl in cross_attention_levels, num_heads, norm_cfg, act_cfg)
            for lvl in self.levels})

    def forward(self, feats: Mapping[str, Sequence[Tensor]], mask: Tensor) -> FusionOutput:
        present = mask > 0.5
        fused: List[Optional[Tensor]] = [None] * len(self.out_channels)
        weights: Dict[str, Tensor] = {}
        for lvl in self.levels:
            fused[lvl], w = self.fuse[str(lvl)]([feats[s][lvl] for s in self.sensors], present)
            weights[f'fusion_s{STRIDES[lvl]}'] = w
        return FusionOutput(fused, weights)
