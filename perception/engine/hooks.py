"""Hooks: a progress bar with ETA for interactive runs, and a DDP weight-consistency check."""
from __future__ import annotations

import hashlib
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook

from ..registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A tqdm bar over training iterations (loss and ETA), next to mmengine's periodic log lines."""

    priority = 'VERY_LOW'

    def __init__(self, desc: str = 'train'):
        self.desc = desc
        self._bar = None

    def before_train(self, runner) -> None:
        if get_rank() == 0:
            from tqdm import tqdm
            self._bar = tqdm(total=runner.max_iters, initial=runner.iter, desc=self.desc,
                             unit='it', dynamic_ncols=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if outputs and 'loss' in outputs:
            self._bar.set_postfix(loss=f"{float(outputs['loss'].detach()):.3f}", refresh=False)

    def after_train(self, runner) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def state_digest(module: torch.nn.Module) -> str:
    """SHA-256 over every parameter, in name order (bitwise identity).

    Buffers are left out on purpose: DDP broadcasts rank 0's BatchNorm statistics at the start of
    each forward, and that forward then updates each rank's copy from its own shard, so running
    statistics legitimately differ after the last step (SyncBuffersHook / SyncBN align them).
    """
    h = hashlib.sha256()
    for name, tensor in sorted(module.named_parameters()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class DDPConsistencyHook(Hook):
    """After training, check that every rank ends with bitwise-identical parameters.

    DDP keeps replicas in sync only if every rank sees the same gradients (all-reduced) and the same
    buffers; a rank-dependent branch or an unsynchronised buffer makes them drift silently. Each rank
    writes its digest to ``work_dir/weights_digest_rank{r}.txt``; rank 0 raises if they differ.
    """

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        from mmengine.model import is_model_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        digest = state_digest(model)
        with open(osp.join(runner.work_dir, f'weights_digest_rank{get_rank()}.txt'), 'w') as f:
            f.write(digest + '\n')
        digests = all_gather_object(digest)
        if len(set(digests)) != 1:
            raise RuntimeError(f'DDP replicas diverged: weight digests per rank {digests}')
        runner.logger.info(f'DDP check: weights identical across {get_world_size()} rank(s) '
                           f'(sha256 {digest[:16]})')


@HOOKS.register_module()
class SensorsSeenHook(Hook):
    """Keep the model's count of the sensors seen in training in every checkpoint it saves
    (``meta['sensors_seen']``, ``{sensor: samples}``) and restore it on ``--resume``.

    ``build_model`` reads it back, so that export checks parity, ``perception test
    --modality-subsets`` evaluates, and inference uses only the sensors a model was trained on. A
    model without the count (``seen_counts``) is left alone. Under DDP each rank counts its own
    samples and rank 0's count is saved. ``runner_config`` adds this hook to every run.
    """

    priority = 'NORMAL'

    @staticmethod
    def _model(runner):
        from mmengine.model import is_model_wrapper
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = self._model(runner)
        if hasattr(model, 'seen_counts'):
            checkpoint.setdefault('meta', {})['sensors_seen'] = model.seen_counts()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = self._model(runner)
        counts = (checkpoint.get('meta') or {}).get('sensors_seen')
        if counts and hasattr(model, 'set_seen_counts'):
            model.set_seen_counts(counts)
