"""Cross-attention from the fused map to every present sensor's tokens, mask inside the softmax.

Used at the coarse levels only (strides 16 and 32), where attending over all positions of all
sensors is affordable (at 256x320: 320 queries x 960 keys at stride 16). Written with plain matmuls
rather than ``nn.MultiheadAttention`` so the mask handling is ours (exact zeros, no NaN on an
all-absent row) and the graph exports to ONNX opset 17 without an ``Attention`` op.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..masking import masked_softmax


class MaskedCrossAttention(nn.Module):
    """Queries: fused map. Keys/values: all positions of all sensors, tagged by a sensor embedding.

    Position enters through a depthwise 3x3 conv on queries and keys (conditional positional
    encoding: no fixed table, so any input size works). LayerNorm (per token) rather than BatchNorm,
    so no statistic is shared across samples or sensors.
    """

    def __init__(self, channels: int, num_sensors: int, num_heads: int = 2):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'cross-attention: channels {channels} not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.scale = (channels // num_heads) ** -0.5
        self.pos = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.sensor_embed = nn.Parameter(torch.zeros(num_sensors, channels))
        nn.init.trunc_normal_(self.sensor_embed, std=0.02)
        self.norm_q = nn.LayerNorm(channels)
        self.norm_kv = nn.LayerNorm(channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * channels)
        self.proj = nn.Linear(channels, channels)

    def _tokens(self, x: Tensor) -> Tensor:
        return (x + self.pos(x)).flatten(2).transpose(1, 2)  # (B, HW, C)

    def forward(self, fused: Tensor, sensor_feats: Sequence[Tensor], present: Tensor) -> Tensor:
        """``fused`` (B, C, H, W); ``sensor_feats`` S x (B, C, H, W); ``present`` (B, S) bool."""
        b, c, h, w = fused.shape
        n, heads = h * w, self.num_heads
        q = self.q(self.norm_q(self._tokens(fused)))
        kv = torch.cat([self._tokens(f) + self.sensor_embed[i]
                        for i, f in enumerate(sensor_feats)], 1)  # (B, S*HW, C)
        k, v = self.kv(self.norm_kv(kv)).chunk(2, dim=-1)
        q = q.reshape(b, n, heads, -1).transpose(1, 2)            # (B, h, HW, d)
        k = k.reshape(b, -1, heads, c // heads).transpose(1, 2)   # (B, h, S*HW, d)
        v = v.reshape(b, -1, heads, c // heads).transpose(1, 2)
        key_present = present[:, :, None].expand(b, present.shape[1], n).reshape(b, 1, 1, -1)
        attn = masked_softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, key_present, -1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
        return fused + self.proj(out).transpose(1, 2).reshape(b, c, h, w)
