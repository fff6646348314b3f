"""``MultiSensorEncoder``: one backbone per sensor (any registered backbone), or one shared backbone.

A backbone is anything the registry builds that maps (B, C, H, W) to four feature maps at strides
4, 8, 16, 32: the package's ``LiteNet``, ``mmseg.MixVisionTransformer``, ``mmdet.ResNet``, ... The
encoder sets each sensor's input channels in the config (``in_channels_key``), so one template serves
RGB (3 channels) and thermal/depth (1 channel). Pretrained weights come through each backbone's own
``init_cfg`` (``dict(type='Pretrained', checkpoint='/local/path.pth')``): nothing is downloaded
here, and a 3-channel checkpoint's first layer is adapted to a 1-channel sensor
(``input_adaptation``).
"""
from __future__ import annotations

import copy
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule, ModuleDict
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from perception.contract import SENSOR_CHANNELS, SENSORS, STRIDES, check_sensors
from perception.registry import MODELS

from ..builder import build_module


def sensor_backbone_cfg(template: Mapping, override: Optional[Mapping], in_channels: int,
                        in_channels_key: str) -> dict:
    """The backbone config of one sensor.

    An override with a ``type`` replaces the template (a different backbone for that sensor); one
    without is merged over it key by key (e.g. another ``arch`` or an ``init_cfg``).
    """
    override = dict(override or {})
    cfg = override if 'type' in override else {**copy.deepcopy(dict(template)), **override}
    cfg[in_channels_key] = in_channels
    return cfg


@MODELS.register_module()
class MultiSensorEncoder(BaseModule):
    """Encode each sensor into a 4-level pyramid.

    Args:
        backbone: the backbone config used for every sensor.
        sensor_overrides: per-sensor changes, e.g. ``dict(thermal=dict(arch='pico'))``; entries of
            contract sensors outside ``sensors`` are ignored.
        share_weights: one backbone for all sensors. Sensors with fewer channels than the widest go
            through a learned 1x1 adapter (initialised to replicate the channel, like greyscale->RGB),
            and all sensors run as one batch (one backbone call instead of three).
        sensors: the sensors encoded (the model's ``sensors``, which ``MultiTaskPerceptor`` sets).
        in_channels_key: the backbone's name for its input channels (``in_chans`` for some;
            ``TimmEncoder`` takes ``in_channels`` like the package's own).
        probe_size: side of the zero image run once at build time through a backbone that does not
            declare ``out_channels`` (a sequence, one per returned map: LiteNet, RepNet do), to read
            its output channels and check its strides (third-party backbones do not expose them
            uniformly).
    """

    def __init__(self, backbone: dict, sensor_overrides: Optional[Dict[str, dict]] = None,
                 share_weights: bool = False, sensors: Sequence[str] = SENSORS,
                 in_channels_key: str = 'in_channels', probe_size: int = 64,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.sensors = check_sensors(sensors, 'encoder.sensors')
        unknown = set(sensor_overrides or {}) - set(SENSORS)
        if unknown:
            raise KeyError(f'sensor_overrides for unknown sensors {sorted(unknown)}; '
                           f'sensors are {SENSORS}')
        # overrides of contract sensors the model is not built for are unused: a base config's
        # ``depth=dict(arch='pico')`` does not stop a child config from dropping depth
        sensor_overrides = {s: v for s, v in (sensor_overrides or {}).items() if s in self.sensors}
        if share_weights and sensor_overrides:
            raise ValueError('share_weights=True uses one backbone: sensor_overrides must be empty')
        self.share_weights = share_weights
        # mmengine's ModuleDict (not torch's) so init_weights reaches each backbone's init_cfg
        self.backbones = ModuleDict()
        self.adapters = nn.ModuleDict()
        if share_weights:
            width = max(SENSOR_CHANNELS[s] for s in self.sensors)
            self.backbones['shared'] = build_module(
                sensor_backbone_cfg(backbone, None, width, in_channels_key))
            for s in self.sensors:
                if SENSOR_CHANNELS[s] != width:
                    adapter = nn.Conv2d(SENSOR_CHANNELS[s], width, 1)
                    nn.init.constant_(adapter.weight, 1.0)
                    nn.init.zeros_(adapter.bias)
                    self.adapters[s] = adapter
        else:
            for s in self.sensors:
                self.backbones[s] = build_module(sensor_backbone_cfg(
                    backbone, (sensor_overrides or {}).get(s), SENSOR_CHANNELS[s], in_channels_key))
        self.out_channels: Dict[str, Tuple[int, ...]] = {
            s: self._declared(s) or self._probe(s, probe_size) for s in self.sensors}

    def init_weights(self) -> None:
        """Each backbone's own initialisation and ``init_cfg``, in the ``perception`` scope: there
        ``type='Pretrained'`` adapts a first layer made for other input channels (a 3-channel
        checkpoint in a thermal encoder), with or without a Runner around."""
        with DefaultScope.overwrite_default_scope('perception'):
            super().init_weights()

    def _backbone(self, sensor: str) -> nn.Module:
        return self.backbones['shared' if self.share_weights else sensor]

    def _check_levels(self, sensor: str, count: int) -> None:
        if count != len(STRIDES):
            raise ValueError(f'sensor {sensor!r}: backbone {type(self._backbone(sensor)).__name__} '
                             f'returns {count} feature maps, expected {len(STRIDES)} at strides '
                             f'{STRIDES} (set out_indices=(0, 1, 2, 3))')

    def _declared(self, sensor: str) -> Optional[Tuple[int, ...]]:
        """The backbone's own ``out_channels`` (one per returned map), or None if it has none."""
        declared = getattr(self._backbone(sensor), 'out_channels', None)
        if not isinstance(declared, Sequence) or isinstance(declared, str):
            return None   # absent, or an int meaning something else: probe
        self._check_levels(sensor, len(declared))
        return tuple(int(c) for c in declared)

    @torch.no_grad()
    def _probe(self, sensor: str, size: int) -> Tuple[int, ...]:
        """Channels of a backbone that does not declare them, from one zero image; strides checked."""
        net = self._backbone(sensor)
        was_training = net.training
        net.eval()  # no BatchNorm statistics update from the probe
        c = SENSOR_CHANNELS[sensor] if not self.share_weights else max(
            SENSOR_CHANNELS[x] for x in self.sensors)
        feats = net(torch.zeros(1, c, size, size))
        net.train(was_training)
        self._check_levels(sensor, len(feats))
        for f, stride in zip(feats, STRIDES):
            if tuple(f.shape[-2:]) != (size // stride, size // stride):
                raise ValueError(f'sensor {sensor!r}: backbone {type(net).__name__} gives a '
                                 f'{tuple(f.shape[-2:])} map where stride {stride} needs '
                                 f'{(size // stride, size // stride)}')
        return tuple(int(f.shape[1]) for f in feats)

    def forward(self, inputs: Mapping[str, Tensor]) -> Dict[str, List[Tensor]]:
        """``inputs``: sensor -> (B, C, H, W). Returns sensor -> 4 maps, strides 4..32."""
        if not self.share_weights:
            return {s: list(self._backbone(s)(inputs[s])) for s in self.sensors}
        x = [self.adapters[s](inputs[s]) if s in self.adapters else inputs[s]
             for s in self.sensors]
        batch = x[0].shape[0]
        feats = self.backbones['shared'](torch.cat(x, 0))
        return {s: [f[i * batch:(i + 1) * batch] for f in feats]
                for i, s in enumerate(self.sensors)}
