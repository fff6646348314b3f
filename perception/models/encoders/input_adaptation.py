"""Pretrained weights for a sensor whose channel count the checkpoint was not made for.

ImageNet checkpoints are made for 3 colour channels; thermal and depth have 1. Left alone, the
layers that read the sensor (MiT's first patch embedding, the stem convs of the package's encoders)
do not fit and stay random. The usual practice (timm's ``in_chans``) derives them from the
pretrained filters instead:

* 1 channel: the filters summed over their input channels -- a 1-channel image then gives the
  response the pretrained layer gives to the same image repeated on every colour channel;
* other counts: the filters repeated cyclically over the new channels and rescaled by
  ``old / new``, plus, where ``new`` is not a multiple of ``old``, the per-filter constant that
  keeps that response exact (timm's rescale alone keeps it only on average there).

``adapt_input_conv`` is that rule for one weight. ``init_cfg=dict(type='Pretrained',
checkpoint=...)`` in the ``perception`` scope is mmengine's ``Pretrained`` plus the rule, applied
to every conv weight that differs from the checkpoint's in its input channels alone (in a backbone
built like the checkpoint's: the layers that read the sensor), with one log line naming them.
"""
from __future__ import annotations

import math
from typing import Dict, Mapping, Tuple

from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from torch import Tensor, nn

from perception.registry import WEIGHT_INITIALIZERS

from ..checkpoint import state_dict_of


def adapt_input_conv(weight: Tensor, in_channels: int) -> Tensor:
    """A conv weight made for ``weight.shape[1]`` input channels, for ``in_channels`` instead.

    Args:
        weight: (out, in, kh, kw) pretrained filters.
        in_channels: the input channels of the layer that will use them.

    Returns:
        (out, in_channels, kh, kw) filters, same dtype: the channel sum for 1 channel; the filters
        repeated, scaled and shifted so that an image equal on every channel gives the response it
        gives the pretrained filters (see the module docstring); ``weight`` itself when the counts
        agree.

    Raises:
        ValueError: ``weight`` is not a conv weight with input channels, or ``in_channels < 1``.
    """
    if weight.dim() != 4 or min(weight.shape) < 1:
        raise ValueError(f'adapt_input_conv needs a conv weight (out, in, kh, kw); got shape '
                         f'{tuple(weight.shape)}')
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f'adapt_input_conv: in_channels must be a positive int, got '
                         f'{in_channels!r}')
    old = weight.shape[1]
    if in_channels == old:
        return weight
    w = weight.float()      # half-precision checkpoints: sum in float
    total = w.sum(1, keepdim=True)
    if in_channels == 1:
        return total.to(weight.dtype)
    adapted = w.repeat(1, math.ceil(in_channels / old), 1, 1)[:, :in_channels] * (old / in_channels)
    adapted += (total - adapted.sum(1, keepdim=True)) / in_channels
    return adapted.to(weight.dtype)


def describe_adaptation(old: int, new: int) -> str:
    """How ``adapt_input_conv`` turns ``old`` input channels into ``new`` (for log lines)."""
    if new == 1:
        return f'the pretrained filters summed over their {old} input channels'
    return f'the pretrained filters repeated over the {new} channels and rescaled by {old}/{new}'


def adapt_input_channels(state_dict: Mapping[str, Tensor], module: nn.Module
                         ) -> Tuple[Dict[str, Tensor], Dict[str, Tuple[int, int]]]:
    """``state_dict`` with every conv weight that differs from ``module``'s in its input channels
    alone adapted to them (``adapt_input_conv``), and key -> (checkpoint's, module's) input
    channels of the weights adapted."""
    own = module.state_dict()
    out, adapted = dict(state_dict), {}
    for key, value in state_dict.items():
        target = own.get(key)
        if (target is None or value.dim() != 4 or target.dim() != 4
                or value.shape[1] == target.shape[1]
                or value.shape[:1] + value.shape[2:] != target.shape[:1] + target.shape[2:]):
            continue
        out[key] = adapt_input_conv(value, int(target.shape[1]))
        adapted[key] = (int(value.shape[1]), int(target.shape[1]))
    return out, adapted


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class SensorPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` initialiser (same arguments: ``checkpoint``, ``prefix``,
    ``map_location``) that adapts a first layer made for other input channels instead of leaving it
    random. It is what ``type='Pretrained'`` means in the ``perception`` scope (the Runner's, and
    ``MultiSensorEncoder.init_weights``'s)."""

    def __call__(self, module: nn.Module) -> None:
        print_log(f'load model from: {self.checkpoint}', logger='current')
        checkpoint = CheckpointLoader.load_checkpoint(self.checkpoint,
                                                      map_location=self.map_location)
        state_dict = state_dict_of(checkpoint)
        if self.prefix is not None:
            prefix = self.prefix if self.prefix.endswith('.') else self.prefix + '.'
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                          if k.startswith(prefix)}
            if not state_dict:
                raise ValueError(f'{self.checkpoint} has no weights under {prefix!r}')
        state_dict, adapted = adapt_input_channels(state_dict, module)
        for old, new in sorted(set(adapted.values())):
            keys = ', '.join(k for k, pair in adapted.items() if pair == (old, new))
            print_log(f'{self.checkpoint}: input layer {keys} adapted from {old} to {new} '
                      f'channel(s): {describe_adaptation(old, new)}', logger='current')
        load_state_dict(module, state_dict, strict=False, logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
