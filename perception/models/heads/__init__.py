"""Task heads: per-task decoder features -> seg logits, detections, metric depth."""
from .base import TaskHead, restore_dense
from .depth import DepthHead
from .det import DenseDetHead
from .guided_depth import GuidedDepthHead
from .seg import SegHead
from .sensor_aux import SensorAuxHeads

__all__ = ['TaskHead', 'restore_dense', 'DepthHead', 'GuidedDepthHead', 'DenseDetHead', 'SegHead',
           'SensorAuxHeads']
