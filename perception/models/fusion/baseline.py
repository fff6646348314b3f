"""Baseline fusions with no mask awareness, for the robustness comparison (docs/results.md, study 2).

They see the absent sensor as the model's zeroed input, exactly as a naive early/mid fusion would;
nothing renormalises over the present sensors.
"""
from __future__ import annotations

from typing import List, Mapping, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.contract import SENSORS
from perception.registry import MODELS

from .base import BaseFusion, FusionOutput


@MODELS.register_module()
class ConcatFusion(BaseFusion):
    """Per level: concatenate all sensors' features, then a 1x1 conv to ``channels[l]``."""

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str] = SENSORS, levels: Optional[Sequence[int]] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, channels, sensors, levels, init_cfg)
        self.fuse = nn.ModuleDict({
            str(lvl): ConvModule(sum(self.in_channels[s][lvl] for s in self.sensors),
                                 channels[lvl], 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for lvl in self.levels})

    def forward(self, feats: Mapping[str, Sequence[Tensor]], mask: Tensor) -> FusionOutput:
        out: List[Optional[Tensor]] = [None] * len(self.out_channels)
        for lvl in self.levels:
            out[lvl] = self.fuse[str(lvl)](torch.cat([feats[s][lvl] for s in self.sensors], 1))
        return FusionOutput(out, {})


@MODELS.register_module()
class SumFusion(BaseFusion):
    """Per level: project each sensor with a 1x1 conv to ``channels[l]`` and add them."""

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str] = SENSORS, levels: Optional[Sequence[int]] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, channels, sensors, levels, init_cfg)
        self.proj = nn.ModuleDict({
            str(lvl): nn.ModuleList(ConvModule(self.in_channels[s][lvl], channels[lvl], 1,
                                               norm_cfg=norm_cfg, act_cfg=act_cfg)
                                    for s in self.sensors)
            for lvl in self.levels})

    def forward(self, feats: Mapping[str, Sequence[Tensor]], mask: Tensor) -> FusionOutput:
        out: List[Optional[Tensor]] = [None] * len(self.out_channels)
        for lvl in self.levels:
            projs = self.proj[str(lvl)]
            out[lvl] = sum(p(feats[s][lvl]) for p, s in zip(projs, self.sensors))
        return FusionOutput(out, {})
