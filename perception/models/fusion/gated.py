"""Attention fusions that keep what concatenation can express (issue 24; docs/model.md).

``AttentionFusion`` ends in a per-pixel convex combination of the sensors, which can express less than
a concatenation followed by a convolution -- and concatenation beat it in study 2. These two keep the
concatenation and its convolution, and add attention on top, each mask-aware:

* ``GatedConcatFusion`` (after SSMA, AdapNet++): gates computed from the concatenated streams
  re-weight the concatenation per channel and position, then a 1x1 convolution merges it -- concat
  plus a per-position choice of what to keep;
* ``RectifyFusion`` (after CMX's feature rectification): each stream is rectified by the other present
  streams' features, weighted by channel attention (from pooled descriptors of both) and spatial
  attention (from both maps), then the rectified streams are concatenated and merged.

Mask awareness, both: an absent sensor's features are replaced by 0 before its projection and its
projection is 0 again after it (the concatenation's slot of an absent sensor is exactly zero, as with
modality dropout), the "other sensors" are the mean over the present ones only
(``masking.mean_of_others``), so an absent sensor has exactly no influence on any output; the weights
returned for inspection (``fusion_s<stride>``) are each sensor's mean gate, renormalised over the
present sensors.
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


class _ConcatLevel(nn.Module):
    """The part both fusions share at one level: per-sensor 1x1 projections to ``channels`` (absent
    sensors exactly 0 before and after) and the merge of the S streams by a 1x1 convolution."""

    def __init__(self, in_channels: Sequence[int], channels: int, norm_cfg, act_cfg):
        super().__init__()
        self.num, self.channels = len(in_channels), channels
        self.proj = nn.ModuleList(ConvModule(c, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
                                  for c in in_channels)
        self.merge = ConvModule(self.num * channels, channels, 1, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)

    def streams(self, feats: Sequence[Tensor], present: Tensor) -> Tensor:
        """(B, S, C, H, W) projected streams, absent ones exactly 0."""
        b = present.shape[0]
        return torch.stack([keep_present(proj(keep_present(f, present[:, i].view(b, 1, 1, 1))),
                                         present[:, i].view(b, 1, 1, 1))
                            for i, (proj, f) in enumerate(zip(self.proj, feats))], 1)

    def merged(self, x: Tensor) -> Tensor:
        b, s, c, h, w = x.shape
        return self.merge(x.reshape(b, s * c, h, w))

    @staticmethod
    def shares(gates: Tensor, present: Tensor) -> Tensor:
        """(B, S, H, W) each sensor's mean gate, renormalised over the present sensors (0 absent)."""
        mean = gates.mean(2).clamp_min(1e-6)
        return masked_softmax(mean.log(), present[:, :, None, None], dim=1)


class GatedConcatLevel(_ConcatLevel):
    """Concatenate, gate every channel of every stream per position from the whole concatenation
    (bottleneck 1x1 -> ReLU -> 1x1 -> sigmoid), merge."""

    def __init__(self, in_channels: Sequence[int], channels: int, reduction: int = 4,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None):
        super().__init__(in_channels, channels, norm_cfg, act_cfg)
        total = self.num * channels
        hidden = max(total // reduction, 8)
        self.gate = nn.Sequential(nn.Conv2d(total, hidden, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, total, 1))

    def forward(self, feats: Sequence[Tensor], present: Tensor):
        x = self.streams(feats, present)                                     # (B, S, C, H, W)
        b, s, c, h, w = x.shape
        g = torch.sigmoid(self.gate(x.reshape(b, s * c, h, w))).view(b, s, c, h, w)
        g = keep_present(g, present.view(b, s, 1, 1, 1))    # absent slots: 0 gate on 0 features
        return self.merged(x * g), self.shares(g, present)


class RectifyLevel(_ConcatLevel):
    """Rectify each stream with the mean of the other present streams (channel and spatial
    attention from both, CMX's feature rectification: ``x + lambda_c g_c o + lambda_s g_s o``),
    concatenate the rectified streams, merge."""

    def __init__(self, in_channels: Sequence[int], channels: int, reduction: int = 4,
                 lambda_c: float = 0.5, lambda_s: float = 0.5,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None):
        super().__init__(in_channels, channels, norm_cfg, act_cfg)
        s, c = self.num, channels
        hidden = max(c // reduction, 8)
        self.lambda_c, self.lambda_s = float(lambda_c), float(lambda_s)
        # per sensor: (avg, max of itself, avg, max of the others) -> channel gate; grouped by sensor
        self.channel_gate = nn.Sequential(
            nn.Conv1d(s * 4 * c, s * hidden, 1, groups=s), nn.ReLU(inplace=True),
            nn.Conv1d(s * hidden, s * c, 1, groups=s))
        # per sensor: (itself, the others) -> per-pixel gate
        self.spatial_gate = nn.Sequential(
            nn.Conv2d(s * 2 * c, s * hidden, 1, groups=s), nn.ReLU(inplace=True),
            nn.Conv2d(s * hidden, s, 1, groups=s))

    def forward(self, feats: Sequence[Tensor], present: Tensor):
        x = self.streams(feats, present)                                     # (B, S, C, H, W)
        b, s, c, h, w = x.shape
        others = mean_of_others(x, present)                                  # 0 with no partner
        desc = torch.cat([x.mean((3, 4)), x.amax((3, 4)), others.mean((3, 4)),
                          others.amax((3, 4))], 2)                           # (B, S, 4C)
        g_c = torch.sigmoid(self.channel_gate(desc.reshape(b, s * 4 * c, 1))).view(b, s, c, 1, 1)
        pair = torch.cat([x, others], 2).reshape(b, s * 2 * c, h, w)
        g_s = torch.sigmoid(self.spatial_gate(pair)).view(b, s, 1, h, w)
        rect = x + self.lambda_c * g_c * others + self.lambda_s * g_s * others
        rect = keep_present(rect, present.view(b, s, 1, 1, 1))
        gates = (g_c * g_s).expand(b, s, c, h, w)
        return self.merged(rect), self.shares(gates, present)


class _LevelwiseFusion(LevelwiseFusion):
    """One ``level_cls`` module per fused level; returns the fused pyramid and each level's sensor
    shares as ``fusion_s<stride>``."""
    level_cls = None

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str] = SENSORS, levels: Optional[Sequence[int]] = None,
                 reduction: int = 4, norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None, **level_kwargs):
        super().__init__(in_channels, channels, sensors, levels, init_cfg)
        self.fuse = nn.ModuleDict({
            str(lvl): self.level_cls([self.in_channels[s][lvl] for s in self.sensors],
                                     channels[lvl], reduction=reduction, norm_cfg=norm_cfg,
                                     act_cfg=act_cfg, **level_kwargs)
            for lvl in self.levels})


@MODELS.register_module()
class GatedConcatFusion(_LevelwiseFusion):
    """SSMA-style gated concatenation at every fused level (module docstring).

    Args:
        in_channels / channels / sensors / levels: as every fusion (the model fills them in).
        reduction: bottleneck ratio of the gate (over the S x C concatenated channels).
        norm_cfg / act_cfg: of the projections and the merge.
    """
    level_cls = GatedConcatLevel


@MODELS.register_module()
class RectifyFusion(_LevelwiseFusion):
    """CMX-style cross-sensor rectification, then concatenation, at every fused level (module
    docstring).

    Args:
        in_channels / channels / sensors / levels: as every fusion (the model fills them in).
        reduction: bottleneck ratio of the channel and spatial gates.
        lambda_c / lambda_s: weights of the channel- and spatial-rectified parts (CMX: 0.5, 0.5).
        norm_cfg / act_cfg: of the projections and the merge.
    """
    level_cls = RectifyLevel
