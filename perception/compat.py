"""Compatibility of the OpenMMLab stack (mmengine 0.10.7) with current PyTorch and numpy.

The one problem, and the fix kept deliberately narrow:

* Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: a restricted unpickler that
  builds tensors and plain containers only. mmengine saves its ``MessageHub`` in every checkpoint
  (loss/lr history as ``HistoryBuffer`` objects, numpy scalars in the runtime info), so resuming,
  ``load_from`` and ``load_checkpoint`` fail with ``Unsupported global: ...HistoryBuffer``.
  ``HistoryBuffer``'s default pickle even stores ``builtins.getattr`` (for its statistics methods),
  which no safe allow-list may contain.

What we do (never ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` nor ``weights_only=False``):

1. ``HistoryBuffer`` pickles as plain data: ``HistoryBuffer(log_history, count_history, max_length)``
   with python lists -- the constructor mmengine already has.
2. An explicit allow-list for the weights-only unpickler: ``HistoryBuffer`` (now only rebuilt from
   numbers) and numpy's array/scalar/dtype reconstruction (no code, just typed bytes).

Checkpoints written by this package then load with ``weights_only=True`` everywhere (resume, test,
predictor). Files with anything else in them -- including checkpoints saved by stock mmengine with the
old ``HistoryBuffer`` pickle -- are refused; ``perception.models.checkpoint`` explains how to strip
them to weights.

A second, smaller problem: mmengine's ``launcher='pytorch'`` calls ``torch.cuda.set_device`` before
``init_process_group`` unconditionally, which raises on CPU-only PyTorch builds, so DDP on gloo (CPU
machines, CI) cannot start. Where CUDA is unavailable we initialise the process group directly; with
CUDA, mmengine's own function runs unchanged.
"""
from __future__ import annotations

import numpy as np

_APPLIED = False


def _history_buffer_reduce(self):
    return (type(self), (self._log_history.tolist(), self._count_history.tolist(),
                         self.max_length))


def safe_checkpoint_globals() -> list:
    """The classes/functions the weights-only unpickler may use for our checkpoints."""
    import numpy.dtypes
    from mmengine.logging.history_buffer import HistoryBuffer
    dtype_classes = [getattr(numpy.dtypes, n) for n in dir(numpy.dtypes) if n.endswith('DType')]
    return [HistoryBuffer, np.ndarray, np.dtype, np._core.multiarray._reconstruct,
            np._core.multiarray.scalar, *dtype_classes]


def _init_dist_pytorch_cpu_aware(backend: str = 'nccl', init_backend: str = 'torch', **kwargs):
    import torch
    import torch.distributed as torch_dist
    if torch.cuda.is_available() or init_backend != 'torch':
        return _ORIGINAL_INIT_DIST_PYTORCH(backend, init_backend=init_backend, **kwargs)
    torch_dist.init_process_group(backend=backend, **kwargs)


_ORIGINAL_INIT_DIST_PYTORCH = None


def apply_compat_patches() -> None:
    """Idempotent; called when ``perception.registry`` is imported (every training entry point)."""
    global _APPLIED
    if _APPLIED:
        return
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__reduce__ = _history_buffer_reduce
    torch.serialization.add_safe_globals(safe_checkpoint_globals())

    global _ORIGINAL_INIT_DIST_PYTORCH
    import mmengine.dist.utils as dist_utils
    _ORIGINAL_INIT_DIST_PYTORCH = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu_aware
    _APPLIED = True
