"""``TimmEncoder``: any timm model as one sensor's backbone (the 4-level pyramid the fusion reads).

timm builds the model ``features_only`` for the sensor's channels (``in_chans``); the encoder
returns its maps at strides 4, 8, 16, 32 and declares their channels, so ``MultiSensorEncoder``
takes it per sensor like the package's own backbones::

    backbone=dict(type='TimmEncoder', model_name='mobilenetv3_large_100',
                  checkpoint='checkpoints/mobilenetv3_large_100.pth')

ImageNet weights load in ``init_weights`` (when training starts), as mmengine's ``init_cfg`` does,
never when the model is built: exporting or running a trained model needs neither the file nor the
internet.

* ``checkpoint``: a local file of the timm model's weights (its ``state_dict``: the
  ``pytorch_model.bin`` / ``model.safetensors`` of the model's Hugging Face page, or
  ``torch.save(timm.create_model(name, pretrained=True).state_dict(), path)`` where there is
  internet);
* ``pretrained=True``: timm's own source (the Hugging Face hub: internet, cached by timm).

Either way timm reads them (with its key conversions) and adapts the first layer to the sensor's
channels: for a 1-channel sensor the pretrained filters summed over the colour channels, the rule
of ``input_adaptation.adapt_input_conv``.

timm is optional: it is imported when a ``TimmEncoder`` is built, and its absence is an
``ImportError`` naming the fix.
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmengine.model import BaseModule, initialize
from torch import Tensor, nn

from perception.contract import STRIDES
from perception.registry import MODELS

from .input_adaptation import describe_adaptation

TIMM_FIX = ('`pip install timm`, with a torchvision built for the installed torch (timm imports '
            'torchvision; a torchvision of another build, e.g. a CUDA one next to a CPU-only '
            'torch, fails to import)')


def import_timm() -> ModuleType:
    """timm, or an ``ImportError`` naming the fix."""
    try:
        import timm
    except Exception as err:   # noqa: BLE001 -- a torchvision that does not fit torch: RuntimeError
        raise ImportError(f'TimmEncoder needs timm, which does not import here '
                          f'({type(err).__name__}: {err}): {TIMM_FIX}') from err
    return timm


def stride_levels(model_name: str, returned: Sequence[int], available: Sequence[int]
                  ) -> Tuple[int, ...]:
    """Positions, among the maps a timm features model returns (at strides ``returned``), of the
    deepest map at each of ``STRIDES``.

    Raises:
        ValueError: a stride has no map; says whether ``out_indices`` can pick one (the model has
            it among ``available``, all its levels) or the model lacks it.
    """
    missing = [s for s in STRIDES if s not in returned]
    if missing:
        hint = (f'; its feature levels are at strides {list(available)}: choose them with '
                f'out_indices' if all(s in available for s in STRIDES) else '')
        raise ValueError(f'timm model {model_name!r} gives feature maps at strides '
                         f'{list(returned)}, none at {missing}: the fusion needs one at each of '
                         f'{STRIDES}{hint}')
    return tuple(max(i for i, r in enumerate(returned) if r == s) for s in STRIDES)


@MODELS.register_module()
class TimmEncoder(BaseModule):
    """A timm model's feature maps at strides 4, 8, 16, 32, finest first.

    Args:
        model_name: a timm model name (``timm.list_models()``), e.g. ``'resnet18'``.
        in_channels: the sensor's channels (``MultiSensorEncoder`` sets them).
        checkpoint: local file of the model's ImageNet weights, read by ``init_weights``.
        pretrained: read timm's own weights (internet) in ``init_weights`` instead.
        out_indices: the timm feature levels to build (default: timm's); only needed where those
            lack one of the strides, or to leave out a level deeper than stride 32.
        model_kwargs: further ``timm.create_model`` arguments (``drop_path_rate``, ...).
        init_cfg: mmengine initialisation config, applied after the weights above.

    Attributes:
        out_channels / strides: of the four returned maps, from timm's ``feature_info``.

    Raises:
        ImportError: timm does not import (the message names the fix).
        ValueError: both ``checkpoint`` and ``pretrained``; no map at one of the strides.
    """

    def __init__(self, model_name: str, in_channels: int = 3, checkpoint: Optional[str] = None,
                 pretrained: bool = False, out_indices: Optional[Sequence[int]] = None,
                 model_kwargs: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if checkpoint and pretrained:
            raise ValueError('TimmEncoder: give checkpoint (a local file) or pretrained=True '
                             "(timm's source), not both")
        self.model_name, self.in_channels = model_name, in_channels
        self.checkpoint, self.pretrained = checkpoint, pretrained
        self._timm_kwargs = dict(model_kwargs or {}, features_only=True, in_chans=in_channels)
        if out_indices is not None:
            self._timm_kwargs['out_indices'] = tuple(out_indices)
        self.model = self._create(pretrained=False)
        info = self.model.feature_info
        returned = list(info.reduction())
        self.levels = stride_levels(model_name, returned,
                                    info.reduction(list(range(len(info)))))
        self.out_channels: Tuple[int, ...] = tuple(info.channels()[i] for i in self.levels)
        self.strides: Tuple[int, ...] = tuple(returned[i] for i in self.levels)
        # timm's features of some models (Swin, ...) come channels-last
        self._channels_last = getattr(self.model, 'output_fmt', 'NCHW') == 'NHWC'

    def _create(self, **weights) -> nn.Module:
        return import_timm().create_model(self.model_name, **self._timm_kwargs, **weights)

    def init_weights(self) -> None:
        """The ImageNet weights (``checkpoint`` or ``pretrained``), then ``init_cfg``. timm
        initialised the model when it built it; the ``init_weights`` some timm modules have is not
        run again (it would overwrite what was loaded)."""
        if self._is_init:
            return
        if self.checkpoint or self.pretrained:
            self._load_imagenet_weights()
        if self.init_cfg:
            initialize(self, self.init_cfg)
        self._is_init = True

    def _load_imagenet_weights(self) -> None:
        """timm builds the model again with its weights (read, converted and adapted to
        ``in_chans`` by timm); they are copied here."""
        if self.checkpoint and not os.path.isfile(self.checkpoint):
            raise FileNotFoundError(f'TimmEncoder {self.model_name}: checkpoint '
                                    f'{self.checkpoint} not found')
        source = dict(pretrained_cfg_overlay=dict(file=str(self.checkpoint))) \
            if self.checkpoint else {}
        loaded = self._create(pretrained=True, **source)
        self.model.load_state_dict(loaded.state_dict())
        line = f"TimmEncoder {self.model_name}: weights from {self.checkpoint or 'timm'}"
        cfg = getattr(loaded, 'pretrained_cfg', None) or {}
        old = (cfg.get('input_size') or (3, ))[0]
        if cfg.get('first_conv') and old != self.in_channels:
            line += (f'; input layer {cfg["first_conv"]} adapted by timm from {old} to '
                     f'{self.in_channels} channel(s): {describe_adaptation(old, self.in_channels)}')
        print_log(line, logger='current')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, in_channels, H, W) -> one (B, out_channels[i], H / strides[i], W / strides[i]) map
        per stride."""
        feats = self.model(x)
        maps = (feats[i] for i in self.levels)
        return tuple(f.permute(0, 3, 1, 2) if self._channels_last else f for f in maps)
