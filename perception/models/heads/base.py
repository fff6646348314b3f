"""The interface every task head adapter offers the model, and shared post-processing helpers.

A head adapter wraps the actual head (an mmseg decode head, an mmdet dense head, or our depth head)
and adds what the multi-task model needs on top of it:
  ``forward(feats)``   raw outputs from the decoder features of its task;
  ``export(raw, hw)``  static-shape tensors named as in the contract (``seg_logits``, ...);
  ``loss(raw, samples, keep)`` the loss over the samples ``keep`` (those with this task's target);
                       with ``keep`` empty, graph-connected zeros (DDP needs every parameter used);
  ``predict(outs, samples)`` fill the data samples' prediction fields, in original image coordinates.
"""
from __future__ import annotations

from abc import abstractmethod

from typing import Dict, List, Mapping, Sequence, Tuple

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from perception.structures import MultiTaskDataSample


class TaskHead(BaseModule):
    task: str = ''
    #: ``forward(feats, inputs)`` also gets the network's normalised sensor inputs (absent sensors
    #: zeroed), e.g. a depth head that refines the depth sensor's own reading
    needs_inputs: bool = False

    @classmethod
    def input_levels(cls, cfg: Mapping) -> Tuple[int, ...]:
        """Pyramid levels (0 = stride 4) the head built from ``cfg`` reads; the model asks before
        building the decoder, which must produce them. Dense heads read stride 4."""
        return (0, )

    @abstractmethod
    def forward(self, feats: List[Tensor]):
        """Raw head outputs from the task's decoder features."""

    @abstractmethod
    def export(self, raw, input_hw: Tuple[int, int]) -> Dict[str, Tensor]:
        """Named, static-shape export outputs at the input resolution."""

    @abstractmethod
    def loss(self, raw, samples: Sequence[MultiTaskDataSample],
             keep: Sequence[int]) -> Dict[str, Tensor]:
        """Losses over the samples that carry this task's target."""

    @abstractmethod
    def predict(self, outs: Dict[str, Tensor], samples: Sequence[MultiTaskDataSample]) -> None:
        """Write this task's predictions into the data samples."""


def connected_zero(tensors) -> Tensor:
    """0 that depends on every tensor given (keeps the whole head in the autograd graph)."""
    flat = [t for t in _iter_tensors(tensors)]
    return sum(t.sum() for t in flat) * 0.0


def _iter_tensors(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _iter_tensors(o)


def restore_dense(x: Tensor, sample: MultiTaskDataSample, mode: str = 'bilinear') -> Tensor:
    """(C, H_pad, W_pad) network-resolution map -> (C, H_ori, W_ori): crop the batch padding
    (bottom/right, ``img_shape``), then resize to ``ori_shape`` when the pipeline resized."""
    h, w = sample.metainfo.get('img_shape', x.shape[-2:])[:2]
    x = x[:, :h, :w]
    ori = sample.metainfo.get('ori_shape')
    if ori is not None and tuple(ori[:2]) != (h, w):
        kw = dict(align_corners=False) if mode == 'bilinear' else {}
        x = F.interpolate(x[None], size=tuple(ori[:2]), mode=mode, **kw)[0]
    return x
