"""Re-parameterisable convolution (RepVGG, Ding et al. CVPR 2021) and the model-wide fusing step.

Training sees three parallel branches -- 3x3 conv + BN, 1x1 conv + BN and, where the shapes allow,
an identity BN -- whose sum is easier to optimise than a plain 3x3 conv. All three are linear in the
input, so after training they collapse into **one dense 3x3 convolution with a bias**: the block the
CPU and the Jetson run fastest (a dense 3x3 conv is compute-bound; the depthwise convs of MobileNet
blocks are memory-bound, see docs/benchmarks.md).

``reparameterize(model)`` is the step the exporter and the inference backends call: every module
with a ``reparameterize()`` method (``RepConv``, the decoder's task gates) collapses itself, then every
conv that is followed by a BatchNorm *in data flow* -- inside an mmcv ``ConvModule`` or between
consecutive children of an ``nn.Sequential`` -- is folded. (mmcv's ``fuse_conv_bn`` folds any
conv/BN pair of consecutive *registered* children, which is wrong for a module whose BN follows a
sum of two convs.) Outputs are unchanged up to float rounding (tested <= 1e-4 on the whole model).
"""
from __future__ import annotations

import copy
from typing import Optional, Tuple

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn


def bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> Tuple[Tensor, Tensor]:
    """(scale, shift) with ``bn(y) == y * scale + shift`` per channel (eval-mode statistics)."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    return scale, bn.bias - bn.running_mean * scale


def _fold_bn(weight: Tensor, bn: nn.BatchNorm2d) -> Tuple[Tensor, Tensor]:
    """(kernel, bias) of ``bn(conv(x))`` for a bias-free conv with ``weight``."""
    scale, shift = bn_scale_shift(bn)
    return weight * scale.reshape(-1, *([1] * (weight.dim() - 1))), shift


@torch.no_grad()
def fold_bn_into_conv(conv: nn.modules.conv._ConvNd, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """``conv`` becomes ``bn(conv(.))`` (the BN must then be removed from the data flow)."""
    scale, shift = bn_scale_shift(bn)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    conv.weight.mul_(scale.reshape(-1, *([1] * (conv.weight.dim() - 1))))
    conv.bias = nn.Parameter(bias * scale + shift)


class RepConv(nn.Module):
    """3x3 conv block that trains with branches and infers as one 3x3 conv.

    Args:
        in_channels / out_channels / stride / groups: as ``nn.Conv2d`` (kernel 3, padding 1).
        identity: add the identity-BN branch when ``in == out`` and ``stride == 1``.
        act: apply ReLU after the sum (fused into the conv by ONNX Runtime, oneDNN and TensorRT).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1,
                 identity: bool = True, act: bool = True):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'RepConv: channels {in_channels}->{out_channels} not divisible by '
                             f'groups={groups}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.groups = stride, groups
        self.conv3 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        # A strided 1x1 conv is applied as a 1x1 conv on x[..., ::s, ::s] (the same
        # function): PyTorch 2.13's channels_last backward of a strided 1x1 conv with few input
        # channels corrupts the heap (seen with 1 and 3 channels, the stems of the encoders)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1, 1, 0, groups=groups, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn_id: Optional[nn.BatchNorm2d] = (
            nn.BatchNorm2d(out_channels)
            if identity and in_channels == out_channels and stride == 1 else None)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()
        self.fused: Optional[nn.Conv2d] = None

    def forward(self, x: Tensor) -> Tensor:
        if self.fused is not None:
            return self.act(self.fused(x))
        s = self.stride
        y = self.bn3(self.conv3(x)) + self.bn1(self.conv1(x if s == 1 else x[..., ::s, ::s]))
        if self.bn_id is not None:
            y = y + self.bn_id(x)
        return self.act(y)

    @torch.no_grad()
    def equivalent_kernel(self) -> Tuple[Tensor, Tensor]:
        """The (kernel, bias) of the single 3x3 conv equal to the three branches (eval-mode BN)."""
        k3, b3 = _fold_bn(self.conv3.weight, self.bn3)
        k1, b1 = _fold_bn(self.conv1.weight, self.bn1)
        kernel = k3 + nn.functional.pad(k1, [1, 1, 1, 1])
        bias = b3 + b1
        if self.bn_id is not None:
            per_group = self.in_channels // self.groups
            eye = torch.zeros_like(self.conv3.weight)
            idx = torch.arange(self.out_channels)
            eye[idx, idx % per_group, 1, 1] = 1.0
            kid, bid = _fold_bn(eye, self.bn_id)
            kernel, bias = kernel + kid, bias + bid
        return kernel, bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Collapse the branches into ``self.fused`` (irreversible; call in eval mode)."""
        if self.fused is not None:
            return
        kernel, bias = self.equivalent_kernel()
        self.fused = nn.Conv2d(self.in_channels, self.out_channels, 3, self.stride, 1,
                               groups=self.groups, bias=True).to(kernel)
        self.fused.weight.copy_(kernel)
        self.fused.bias.copy_(bias)
        for name in ('conv3', 'bn3', 'conv1', 'bn1', 'bn_id'):
            if getattr(self, name, None) is not None:
                delattr(self, name)
        self.bn_id = None


def _is_bn(m: nn.Module) -> bool:
    return isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats


def _fold_sequential_pairs(model: nn.Module) -> None:
    # a conv shared by several ConvModules (RTMDet's share_conv, one BN per level) gets its own
    # copy first, so that each level's BN folds into its own weights
    seen = set()
    for module in list(model.modules()):
        if isinstance(module, ConvModule):
            if id(module.conv) in seen:
                module.conv = copy.deepcopy(module.conv)
            seen.add(id(module.conv))
    for module in list(model.modules()):
        if isinstance(module, ConvModule):
            if (module.with_norm and module.order.index('norm') == module.order.index('conv') + 1
                    and _is_bn(module.norm)):
                fold_bn_into_conv(module.conv, module.norm)
                setattr(module, module.norm_name, nn.Identity())
        elif isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in zip(names, names[1:]):
                conv, bn = module._modules[a], module._modules[b]
                if isinstance(conv, nn.modules.conv._ConvNd) and _is_bn(bn):
                    fold_bn_into_conv(conv, bn)
                    module._modules[b] = nn.Identity()


def reparameterize(model: nn.Module) -> nn.Module:
    """Inference form of ``model``, in place: every module with a ``reparameterize()`` method
    collapses itself (``RepConv`` branches -> one conv), then every conv + BatchNorm pair that is
    sequential in data flow is folded. Puts the model in eval mode (folding freezes BN
    statistics) and returns it."""
    model.eval()
    for module in list(model.modules()):
        if module is not model and callable(getattr(module, 'reparameterize', None)):
            module.reparameterize()
    _fold_sequential_pairs(model)
    return model


def is_reparameterized(model: nn.Module) -> bool:
    """True when no training-only branch or BatchNorm is left."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
