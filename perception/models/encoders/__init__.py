"""Per-sensor encoders: raw sensor tensors -> one 4-level feature pyramid per sensor."""
from .base import PyramidBackbone
from .litenet import LiteNet
from .multi_sensor import STRIDES, MultiSensorEncoder
from .repnet import RepNet

__all__ = ['LiteNet', 'MultiSensorEncoder', 'PyramidBackbone', 'RepNet', 'STRIDES']
