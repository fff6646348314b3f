"""``DepthHead``: dense metric depth regressed at stride 4, positive by construction.

Softplus (not exp) keeps the output positive with a gradient that does not explode for far points;
the last bias starts at softplus^-1(init_depth) so the untrained model predicts a plausible range.
The prediction is upsampled to the input size before the loss, so the loss sees the target's
valid-pixel mask at full resolution.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.structures import PixelData
from torch import Tensor, nn

from perception.registry import MODELS

from ..builder import build_module

from .base import TaskHead, connected_zero, restore_dense


@MODELS.register_module()
class DepthHead(TaskHead):
    """Args:
        in_channels: set by the model (decoder width at stride 4).
        channels / num_convs: width and number of 3x3 conv blocks before the 1x1 regressor.
        losses: depth loss configs (``SILogLoss``, ``DepthL1Loss``), summed under their names.
        min_depth / init_depth: output floor (metres) and starting value.
    """
    task = 'depth'

    def __init__(self, in_channels: Sequence[int], channels: int = 32, num_convs: int = 1,
                 losses: Sequence[dict] = (dict(type='SILogLoss'), ),
                 min_depth: float = 1e-3, init_depth: float = 3.0,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(init_cfg)
        if len(in_channels) != 1:
            raise ValueError(f'DepthHead reads one level (stride 4), got channels {in_channels}')
        layers, c = [], in_channels[0]
        for _ in range(num_convs):
            layers.append(ConvModule(c, channels, 3, padding=1, norm_cfg=norm_cfg,
                                     act_cfg=act_cfg))
            c = channels
        self.convs = nn.Sequential(*layers)
        self.reg = nn.Conv2d(c, 1, 1)
        self.min_depth = min_depth
        self._bias0 = math.log(math.expm1(max(init_depth - min_depth, 1e-3)))
        self.losses = nn.ModuleList(build_module(cfg) for cfg in losses)
        self.loss_names = tuple(l.loss_name for l in self.losses)
        self._init_regressor()

    def _init_regressor(self) -> None:
        nn.init.normal_(self.reg.weight, std=0.01)
        nn.init.constant_(self.reg.bias, self._bias0)

    def init_weights(self) -> None:
        super().init_weights()
        self._init_regressor()  # a generic init_cfg must not undo the depth prior

    def forward(self, feats: List[Tensor]) -> Tensor:
        return F.softplus(self.reg(self.convs(feats[0]))) + self.min_depth  # (B, 1, H/4, W/4)

    def export(self, raw: Tensor, input_hw: Tuple[int, int]) -> Dict[str, Tensor]:
        return {'depth_pred': F.interpolate(raw, size=input_hw, mode='bilinear',
                                            align_corners=False)}

    def loss(self, raw: Tensor, samples, keep: Sequence[int]) -> Dict[str, Tensor]:
        if not keep:
            zero = connected_zero(raw)
            return {name: zero for name in self.loss_names}
        idx = torch.as_tensor(list(keep), device=raw.device)
        target = torch.stack([samples[i].gt_depth.data for i in keep]).to(raw)
        pred = F.interpolate(raw.index_select(0, idx), size=target.shape[-2:], mode='bilinear',
                             align_corners=False)
        out: Dict[str, Tensor] = {}
        for loss in self.losses:
            value = loss(pred, target)
            out[loss.loss_name] = out[loss.loss_name] + value if loss.loss_name in out else value
        return out

    def predict(self, outs: Dict[str, Tensor], samples) -> None:
        for depth, sample in zip(outs['depth_pred'], samples):
            sample.pred_depth = PixelData(data=restore_dense(depth, sample))
