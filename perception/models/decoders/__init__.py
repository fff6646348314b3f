"""Decoders: fused pyramid -> per-task features (TaskExpert MoE, or a plain shared FPN)."""
from .base import BaseDecoder, DecoderOutput, TopDownPath
from .plain import PlainDecoder
from .taskexpert import TaskExpertDecoder

__all__ = ['BaseDecoder', 'DecoderOutput', 'TopDownPath', 'PlainDecoder', 'TaskExpertDecoder']
