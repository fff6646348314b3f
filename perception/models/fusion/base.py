"""What every fusion module takes and returns.

In: per-sensor pyramids ``{sensor: [stride 4, 8, 16, 32 maps]}`` (the encoder's channels) and the
modality mask (B, S) in ``sensors`` order. Out: one fused pyramid with ``channels[l]`` channels per
level, plus optional per-level sensor weight maps for inspection. Only ``levels`` are fused (the
model passes the ones its decoder reads: a detection-only model skips stride 4); the others are
``None`` in the output list, so list index == pyramid level everywhere.
"""
from __future__ import annotations

from abc import abstractmethod

from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from perception.contract import STRIDES


class FusionOutput(NamedTuple):
    feats: List[Optional[Tensor]]  # fused pyramid, finest first; None at levels not fused
    weights: Dict[str, Tensor]     # e.g. 'fusion_s4' -> (B, S, H, W) per-pixel sensor weights


class BaseFusion(BaseModule):
    """Holds the channel bookkeeping shared by the fusion modules."""

    def __init__(self, in_channels: Mapping[str, Sequence[int]], channels: Sequence[int],
                 sensors: Sequence[str], levels: Optional[Sequence[int]] = None, init_cfg=None):
        super().__init__(init_cfg)
        self.sensors: Tuple[str, ...] = tuple(sensors)
        missing = [s for s in self.sensors if s not in in_channels]
        if missing:
            raise KeyError(f'fusion: no encoder channels for sensors {missing}')
        counts = {len(in_channels[s]) for s in self.sensors}
        if counts != {len(channels)}:
            raise ValueError(f'fusion: channels {tuple(channels)} give {len(channels)} levels, '
                             f'encoders give {sorted(counts)}')
        self.in_channels = {s: tuple(in_channels[s]) for s in self.sensors}
        self.out_channels: Tuple[int, ...] = tuple(channels)
        self.levels: Tuple[int, ...] = tuple(range(len(channels)) if levels is None
                                             else sorted(levels))
        if not self.levels or not set(self.levels) <= set(range(len(channels))):
            raise ValueError(f'fusion: levels {levels} outside 0..{len(channels) - 1}')

    @abstractmethod
    def forward(self, feats: Mapping[str, Sequence[Tensor]], mask: Tensor) -> FusionOutput:
        """Fuse the per-sensor pyramids; ``mask`` (B, M) says which sensors are present."""


class LevelwiseFusion(BaseFusion):
    """A fusion of one module per fused level, ``self.fuse[str(level)]``, each taking that level's
    per-sensor maps (``sensors`` order) and the presence mask (B, S) and returning the fused map and
    the sensors' shares, which ``forward`` reports as ``fusion_s<stride>``."""

    def forward(self, feats: Mapping[str, Sequence[Tensor]], mask: Tensor) -> FusionOutput:
        present = mask > 0.5
        fused: List[Optional[Tensor]] = [None] * len(self.out_channels)
        weights: Dict[str, Tensor] = {}
        for lvl in self.levels:
            fused[lvl], w = self.fuse[str(lvl)]([feats[s][lvl] for s in self.sensors], present)
            weights[f'fusion_s{STRIDES[lvl]}'] = w
        return FusionOutput(fused, weights)
