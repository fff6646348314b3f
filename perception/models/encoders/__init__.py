"""Per-sensor encoders: raw sensor tensors -> one 4-level feature pyramid per sensor."""
from .base import PyramidBackbone
from .input_adaptation import SensorPretrainedInit, adapt_input_conv
from .litenet import LiteNet
from .multi_sensor import STRIDES, MultiSensorEncoder
from .repnet import RepNet
from .timm_encoder import TimmEncoder

__all__ = ['LiteNet', 'MultiSensorEncoder', 'PyramidBackbone', 'RepNet', 'STRIDES',
           'SensorPretrainedInit', 'TimmEncoder', 'adapt_input_conv']
