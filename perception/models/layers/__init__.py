"""Building blocks shared by the encoders, the fusion, the decoders and the heads."""
from .reparam import RepConv, is_reparameterized, reparameterize

__all__ = ['RepConv', 'is_reparameterized', 'reparameterize']
