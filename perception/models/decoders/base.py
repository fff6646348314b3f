"""What every decoder takes and returns.

In: the fused pyramid (finest first, strides 4..32) and the modality mask (B, S), which a decoder
may use for routing (``TaskExpertDecoder(mask_routing=True)``). Out: for each task, its features at the levels
its head reads (``out_levels[task]``, e.g. seg/depth ``(0,)`` = stride 4, det ``(1, 2, 3)``), the
gate maps (empty for a decoder without gates) and an auxiliary loss (the expert load balance).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn
import torch.nn.functional as F

from perception.contract import STRIDES


class DecoderOutput(NamedTuple):
    feats: Dict[str, List[Tensor]]   # task -> maps at out_levels[task], finest first
    gates: Dict[str, Tensor]         # 'gate_<task>_s<stride>' -> (B, E + 1, H, W)


class BaseDecoder(BaseModule):
    """Channel/level bookkeeping shared by the decoders."""

    def __init__(self, in_channels: Sequence[int], tasks: Sequence[str],
                 out_levels: Mapping[str, Sequence[int]], channels: Optional[Sequence[int]] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.tasks: Tuple[str, ...] = tuple(tasks)
        self.num_levels = len(in_channels)
        self.in_channels = tuple(in_channels)
        self.channels = tuple(channels) if channels is not None else self.in_channels
        if len(self.channels) != self.num_levels:
            raise ValueError(f'decoder channels {self.channels} vs {self.num_levels} input levels')
        self.out_levels: Dict[str, Tuple[int, ...]] = {}
        for t in self.tasks:
            levels = tuple(sorted(out_levels[t]))
            if not levels or min(levels) < 0 or max(levels) >= self.num_levels:
                raise ValueError(f'decoder: task {t!r} out_levels {levels} outside '
                                 f'0..{self.num_levels - 1}')
            self.out_levels[t] = levels

    @property
    def finest(self) -> int:
        """The finest level any task reads; nothing finer is computed."""
        return min(min(levels) for levels in self.out_levels.values())

    @property
    def out_channels(self) -> Dict[str, Tuple[int, ...]]:
        return {t: tuple(self.channels[lvl] for lvl in self.out_levels[t]) for t in self.tasks}

    def aux_loss(self, gates: Mapping[str, Tensor]) -> Optional[Tensor]:
        """Auxiliary training loss computed from the gates, or None."""
        return None


def upsample_to(x: Tensor, ref: Tensor) -> Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode='bilinear', align_corners=False)


class TopDownPath(nn.Module):
    """FPN-style shared path: ``x_l = lateral(F_l) + up(reduce(x_{l+1}))``, coarse to fine.

    Levels finer than ``finest`` are not built (no task reads them: no unused parameters, which DDP
    would reject). The 1x1 ``reduce`` runs at the coarse resolution before upsampling (4x fewer MACs).
    """

    def __init__(self, in_channels: Sequence[int], channels: Sequence[int], finest: int,
                 norm_cfg: Optional[dict], act_cfg: Optional[dict]):
        super().__init__()
        self.finest = finest
        self.lateral = nn.ModuleDict({
            str(lvl): nn.Identity() if in_channels[lvl] == channels[lvl] else ConvModule(
                in_channels[lvl], channels[lvl], 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for lvl in range(finest, len(channels))})
        self.reduce = nn.ModuleDict({
            str(lvl): ConvModule(channels[lvl + 1], channels[lvl], 1, norm_cfg=norm_cfg,
                                 act_cfg=None)
            for lvl in range(finest, len(channels) - 1)})

    def forward(self, feats: Sequence[Tensor]) -> Dict[int, Tensor]:
        """Returns level -> map for levels ``finest`` .. coarsest."""
        out: Dict[int, Tensor] = {}
        for lvl in reversed(range(self.finest, len(feats))):
            x = self.lateral[str(lvl)](feats[lvl])
            if lvl + 1 < len(feats):
                x = x + upsample_to(self.reduce[str(lvl)](out[lvl + 1]), x)
            out[lvl] = x
        return out
