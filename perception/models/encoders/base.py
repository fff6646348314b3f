"""What the package's own backbones share: a stem, then stages that each halve the resolution, and
the maps of the chosen stages returned finest first (strides 4, 8, 16, 32 for four stages).

``LiteNet`` and ``RepNet`` differ only in the blocks they stack; the layout lookup, the declared
``out_channels`` and the forward pass live here once.
"""
from __future__ import annotations

from typing import ClassVar, Mapping, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn


class PyramidBackbone(BaseModule):
    """Base of a backbone made of ``stem`` then ``stages``, returning the stages in ``out_indices``.

    A subclass sets ``ARCHS`` (name -> (stem channels, per-stage layout)), builds ``self.stem`` and
    ``self.stages`` (an ``nn.ModuleList``) in its ``__init__`` and calls ``declare_out_channels``.

    The subclasses' constructors share these arguments:

    Args:
        arch: a key of the subclass's ``ARCHS``; ignored when ``stem_channels`` and ``stages`` are
            given.
        in_channels: channels of the sensor the instance encodes (set by ``MultiSensorEncoder``).
        stem_channels / stages: a custom layout, same form as ``ARCHS`` values.
        out_indices: which stages to return (0 = stride 4 ... 3 = stride 32 for four stages).
        init_cfg: mmengine initialisation config.
    """

    #: name -> (stem channels, per-stage layout); the subclass's own table.
    ARCHS: ClassVar[Mapping[str, Tuple[int, Tuple[Tuple[int, ...], ...]]]] = {}

    stem: nn.Module
    stages: nn.ModuleList

    def __init__(self, out_indices: Sequence[int], init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.out_indices: Tuple[int, ...] = tuple(out_indices)
        self.out_channels: Tuple[int, ...] = ()

    @classmethod
    def layout(cls, arch: str, stem_channels: Optional[int],
               stages: Optional[Sequence[Sequence[int]]]
               ) -> Tuple[int, Sequence[Sequence[int]]]:
        """The (stem channels, stages) to build: the custom layout when both are given, else
        ``ARCHS[arch]``.

        Raises:
            KeyError: ``arch`` is not in ``ARCHS`` and no custom layout is given.
        """
        if stem_channels is not None and stages is not None:
            return stem_channels, stages
        if arch not in cls.ARCHS:
            raise KeyError(f'{cls.__name__} arch {arch!r} unknown; choose one of '
                           f'{sorted(cls.ARCHS)} or give stem_channels and stages')
        return cls.ARCHS[arch]

    def declare_out_channels(self, stage_channels: Sequence[int]) -> None:
        """Set ``out_channels`` (one per returned map) from every stage's channels, so the encoder
        reads them instead of probing with an image."""
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """The feature maps of the stages in ``out_indices``.

        Args:
            x: (B, in_channels, H, W) sensor tensor, H and W multiples of 32.

        Returns:
            One (B, out_channels[i], H / stride, W / stride) map per returned stage, finest first.
        """
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
