"""Sensor fusion: per-sensor pyramids + modality mask -> one fused pyramid."""
from .attention import AttentionFusion, SensorAttentionLevel
from .base import BaseFusion, FusionOutput, LevelwiseFusion
from .baseline import ConcatFusion, SumFusion
from .cross_attention import MaskedCrossAttention
from .gated import GatedConcatFusion, RectifyFusion

__all__ = ['AttentionFusion', 'SensorAttentionLevel', 'BaseFusion', 'FusionOutput',
           'LevelwiseFusion', 'ConcatFusion', 'SumFusion', 'MaskedCrossAttention', 'GatedConcatFusion',
           'RectifyFusion']
