"""Decoders: fused pyramid -> per-task features (TaskExpert MoE, or a plain shared FPN); one
sensor's pixels in masked pretraining (``ReconstructionDecoder``)."""
from .base import BaseDecoder, DecoderOutput, TopDownPath
from .plain import PlainDecoder
from .reconstruction import ReconstructionDecoder
from .taskexpert import TaskExpertDecoder

__all__ = ['BaseDecoder', 'DecoderOutput', 'TopDownPath', 'PlainDecoder', 'ReconstructionDecoder',
           'TaskExpertDecoder']
