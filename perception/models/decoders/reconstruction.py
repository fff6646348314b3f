"""``ReconstructionDecoder``: one sensor's light decoder in masked multi-sensor pretraining.

It reads only the fused pyramid -- what the package's own encoders and fusion made of the visible
patches of *all* sensors -- plus where each sensor's patches were visible (so that a hidden patch is
told apart from a visible one whose content is the mean, 0 in the input space), and predicts the
sensor's pixels in per-patch normalised units (``losses.masked_reconstruction``). Pretraining only:
it is not part of the model that fine-tunes.

    fused pyramid -> top-down path (FPN, ``channels`` wide) to the finest fused level
      -> concat(visible-patch maps of every sensor) -> 3x3 conv -> 1x1 conv to C * stride^2
      -> pixel shuffle to the input resolution
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from perception.contract import STRIDES
from perception.registry import MODELS

from .base import TopDownPath


@MODELS.register_module()
class ReconstructionDecoder(BaseModule):
    """Args:
        in_channels: the fused pyramid's channels per level (the model sets them).
        levels: the fused levels, contiguous up to the coarsest (the model sets them).
        out_channels: the channels of the sensor it reconstructs (the model sets them).
        num_sensors: how many visible-patch maps it reads, one per model sensor (the model sets it).
        channels: width of the decoder.
    """

    def __init__(self, in_channels: Sequence[int], levels: Sequence[int], out_channels: int,
                 num_sensors: int, channels: int = 32,
                 norm_cfg: Optional[dict] = dict(type='BN'), init_cfg=None):
        super().__init__(init_cfg)
        self.finest = min(levels)
        self.stride = STRIDES[self.finest]
        self.top_down = TopDownPath(tuple(in_channels), (channels, ) * len(in_channels),
                                    self.finest, norm_cfg, dict(type='ReLU'))
        self.head = nn.Sequential(
            ConvModule(channels + num_sensors, channels, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=dict(type='ReLU')),
            nn.Conv2d(channels, out_channels * self.stride ** 2, 1),
            nn.PixelShuffle(self.stride))

    def forward(self, fused: Sequence[Optional[Tensor]], visible: Tensor) -> Tensor:
        """``fused``: the fusion's pyramid (None below its finest level); ``visible``: (B, S, rows,
        cols) float, each sensor's visible patches. Returns (B, C, H, W) at the input size."""
        x = self.top_down(fused)[self.finest]
        grid = F.interpolate(visible.to(x.dtype), size=x.shape[-2:], mode='nearest')
        return self.head(torch.cat([x, grid], 1))
