"""Baseline fusions with no mask awareness, for the robustness comparison (docs/results.md, study 2).

They see the absent sensor as the model's zeroed input, exactly as a naive early/mid fusion would;
nothing renormalises over the present sensors.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Callable, List, Mapping, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.contract import SENSORS
from perception.registry import MODELS

from .base import BaseFusion, FusionOutput


class ConvBaselineFusion(BaseFusion):
    """The baselines' shared part: one module per fused level, built by the subclass's
    ``build_levels`` from 1x1 ``ConvModule`` s of one norm and activation, and a forward that
    fuses each level with ``fuse_level``, not reading the mask.

    Args:
        in_channels: sensor -> the encoder's channels per level.
        channels: the fused pyramid's channels per level.
        sensors: the fused sensors, in the modality mask's order.
        levels: the levels fused (default: all); the others are ``None`` in the output.
        norm_cfg / act_cfg: of every 1x1 convolution.
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str] = SENSORS, levels: Optional[Sequence[int]] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, channels, sensors, levels, init_cfg)
        self.norm_cfg, self.act_cfg = norm_cfg, act_cfg
        self.build_levels()

    def conv1x1(self, c_in: int, c_out: int) -> ConvModule:
        """A 1x1 conv + norm + activation with this fusion's ``norm_cfg`` / ``act_cfg``."""
        return ConvModule(c_in, c_out, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def per_level(self, make: Callable[[int], nn.Module]) -> nn.ModuleDict:
        """``{str(level): make(level)}`` over the fused levels."""
        return nn.ModuleDict({str(lvl): make(lvl) for lvl in self.levels})

    def forward(self, feats: Mapping[str, Sequence[Tensor]], mask: Tensor) -> FusionOutput:
        """Fuse each level in ``levels`` with ``fuse_level``; the mask is not read (no mask
        awareness: an absent sensor arrives as the model's zeroed features).

        Args:
            feats: sensor -> its pyramid, finest first.
            mask: (B, S) modality mask (unused).

        Returns:
            The fused pyramid (``None`` at levels not fused) and no sensor weights.
        """
        out: List[Optional[Tensor]] = [None] * len(self.out_channels)
        for lvl in self.levels:
            out[lvl] = self.fuse_level(lvl, [feats[s][lvl] for s in self.sensors])
        return FusionOutput(out, {})

    @abstractmethod
    def build_levels(self) -> None:
        """Create the learned modules of every fused level (called at the end of ``__init__``)."""

    @abstractmethod
    def fuse_level(self, lvl: int, level_feats: List[Tensor]) -> Tensor:
        """One level's fused map from the sensors' maps at that level, in ``sensors`` order."""


@MODELS.register_module()
class ConcatFusion(ConvBaselineFusion):
    """Per level: concatenate all sensors' features, then a 1x1 conv to ``channels[l]``."""

    def build_levels(self) -> None:
        self.fuse = self.per_level(lambda lvl: self.conv1x1(
            sum(self.in_channels[s][lvl] for s in self.sensors), self.out_channels[lvl]))

    def fuse_level(self, lvl: int, level_feats: List[Tensor]) -> Tensor:
        return self.fuse[str(lvl)](torch.cat(level_feats, 1))


@MODELS.register_module()
class SumFusion(ConvBaselineFusion):
    """Per level: project each sensor with a 1x1 conv to ``channels[l]`` and add the projections."""

    def build_levels(self) -> None:
        self.proj = self.per_level(lambda lvl: nn.ModuleList(
            self.conv1x1(self.in_channels[s][lvl], self.out_channels[lvl]) for s in self.sensors))

    def fuse_level(self, lvl: int, level_feats: List[Tensor]) -> Tensor:
        return sum(p(x) for p, x in zip(self.proj[str(lvl)], level_feats))
