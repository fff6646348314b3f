"""``GuidedDepthHead``: metric depth that starts from the depth sensor's own reading where it has one.

``DepthHead`` regresses depth at stride 4 from the decoder features and enlarges it bilinearly: it
cannot be sharper than a quarter of the image, which is coarser than the x4 input of guided depth
super-resolution (GDSR). This head keeps the full-resolution path open:

    base  = the depth input (metres) where it is valid, else the coarse absolute estimate
    depth = base + coarse residual (stride 4, enlarged) + fine residual (full resolution)

* coarse (stride 4, from the decoder features, as ``DepthHead``): an absolute depth (softplus, used
  where the sensor gave nothing -- RGB only, holes) and a residual for the sensor's reading;
* fine (full resolution): three 3x3 convolutions over the colour image, the depth input, its
  validity, the coarse estimate and a few enlarged feature channels -- the colour edges tell where a
  blurred depth edge really is.

The residuals start at 0, so the untrained head returns its depth input. The sums are done in fp32
whatever the autocast: bf16 keeps 8 bits of mantissa, 1.6 cm at 3 m, as coarse as the errors the head
has to correct. The head reads the network's normalised inputs (``needs_inputs``); ``input_mean`` /
``input_std`` must be the data preprocessor's depth normalisation (the contract's by default), which
sets invalid and absent depth to exactly 0.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.contract import NORMALIZATION
from perception.registry import MODELS

from .depth import DepthHead


@MODELS.register_module()
class GuidedDepthHead(DepthHead):
    """Args (besides ``DepthHead``'s):
        guide_channels: decoder feature channels enlarged to full resolution for the fine branch.
        fine_channels: width of the full-resolution convolutions (their cost grows with its square
            times the pixel count: the nano uses 16).
        input_mean / input_std: depth normalisation of the data preprocessor (metres).
    """
    needs_inputs = True

    def __init__(self, in_channels: Sequence[int], channels: int = 32, num_convs: int = 1,
                 guide_channels: int = 8, fine_channels: int = 16,
                 input_mean: float = NORMALIZATION['depth']['mean'][0],
                 input_std: float = NORMALIZATION['depth']['std'][0],
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), **kwargs):
        self.input_mean, self.input_std = float(input_mean), float(input_std)
        super().__init__(in_channels, channels=channels, num_convs=num_convs, norm_cfg=norm_cfg,
                         act_cfg=act_cfg, **kwargs)
        c = channels if num_convs else in_channels[0]
        self.reg = nn.Conv2d(c, 2, 1)                    # absolute depth, residual (stride 4)
        self.guide = ConvModule(c, guide_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        fine_in = 3 + 3 + guide_channels                 # rgb, depth/valid/coarse, guide
        self.fine = nn.Sequential(
            ConvModule(fine_in, fine_channels, 3, padding=1, norm_cfg=None, act_cfg=act_cfg),
            ConvModule(fine_channels, fine_channels, 3, padding=1, norm_cfg=None,
                       act_cfg=act_cfg),
            nn.Conv2d(fine_channels, 1, 3, padding=1))
        self._init_regressor()

    def _init_regressor(self) -> None:
        nn.init.normal_(self.reg.weight, std=0.01)
        with torch.no_grad():   # channel 0: the absolute depth's prior; 1: the residual, exactly 0
            self.reg.weight[1:] = 0
            self.reg.bias.zero_()
            self.reg.bias[0] = self._bias0
        last = getattr(self, 'fine', None)
        if last is not None:   # the fine residual starts at exactly 0
            nn.init.zeros_(last[-1].weight)
            nn.init.zeros_(last[-1].bias)

    def forward(self, feats: List[Tensor], inputs: Mapping[str, Tensor]) -> Tensor:
        """(B, 1, H, W) metres at the input resolution, from stride-4 features and the inputs."""
        x = self.convs(feats[0])
        coarse = self.reg(x)
        hw = inputs['depth'].shape[-2:]

        def enlarge(t: Tensor) -> Tensor:
            return F.interpolate(t, size=hw, mode='bilinear', align_corners=False)

        normed = inputs['depth']
        valid = normed != 0
        with torch.autocast(normed.device.type, enabled=False):
            depth_in = normed.float() * self.input_std + self.input_mean
            absolute = F.softplus(enlarge(coarse[:, :1].float())) + self.min_depth
            base = torch.where(valid, depth_in, absolute) + enlarge(coarse[:, 1:].float())
        fine_in = torch.cat([inputs['rgb'], normed, valid.to(normed.dtype),
                             base / self.input_std, enlarge(self.guide(x))], dim=1)
        fine = self.fine(fine_in)
        with torch.autocast(normed.device.type, enabled=False):
            return (base + fine.float()).clamp_min(self.min_depth)

    def export(self, raw: Tensor, input_hw: Tuple[int, int]) -> Dict[str, Tensor]:
        if tuple(raw.shape[-2:]) == tuple(input_hw):
            return {'depth_pred': raw}
        return super().export(raw, input_hw)
