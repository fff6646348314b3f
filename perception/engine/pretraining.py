"""The two outputs of masked multi-sensor pretraining, as Runner hooks (configs/pretrain/):

* ``PretrainedWeightsHook``: after training, the encoder + fusion weights under the names
  ``MultiTaskPerceptor`` gives them, in a weights-only checkpoint that a training config loads with
  ``load_from = PATH`` or ``model = dict(init_cfg=dict(type='Pretrained', checkpoint=PATH))``;
* ``ReconstructionFigureHook``: at every validation (the held-out frames), a PNG of the first few
  frames -- per sensor, what the encoders saw | the reconstruction | the frame.
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS


def _model(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def save_pretrained_weights(model, path: str, meta: Optional[dict] = None) -> Dict[str, int]:
    """Write ``model.transferable_state_dict()`` with plain ``meta`` to ``path`` and read it back
    with the safe (weights-only) loader, as any training run will. Returns tensors per prefix."""
    state = model.transferable_state_dict()
    torch.save({'state_dict': state, 'meta': dict(meta or {})}, path)
    torch.load(path, map_location='cpu', weights_only=True)
    counts: Dict[str, int] = {}
    for key in state:
        prefix = key.split('.', 1)[0]
        counts[prefix] = counts.get(prefix, 0) + 1
    return counts


@HOOKS.register_module()
class PretrainedWeightsHook(Hook):
    """After training, write the transferable weights to ``work_dir/filename`` (module docstring).

    Attributes:
        path: the file written (None until training ends).
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'pretrained_encoders.pth'):
        self.filename = filename
        self.path: Optional[str] = None

    def after_train(self, runner) -> None:
        model = _model(runner)
        path = osp.join(runner.work_dir, self.filename)
        meta = dict(pretraining=dict(
            model=type(model).__name__, sensors=list(model.sensors), iterations=runner.iter,
            patch_size=model.patch_size, mask_ratio=list(model.mask_ratio),
            dirichlet_alpha=model.alpha, experiment=runner.experiment_name))
        counts = save_pretrained_weights(model, path, meta)
        self.path = path
        tensors = ', '.join(f'{n} {k}.* tensors' for k, n in counts.items())
        runner.logger.info(f'pretrained weights ({tensors}) written to {path}: a training config '
                           f'loads them with load_from = {path!r}')


@HOOKS.register_module()
class ReconstructionFigureHook(Hook):
    """At every validation, draw the first ``num_frames`` held-out frames to
    ``work_dir/filename`` (PNG), tiles ``height`` px tall.

    Attributes:
        path: the figure written last (None before the first validation).
    """

    priority = 'LOW'

    def __init__(self, num_frames: int = 4, filename: str = 'reconstruction.png',
                 height: int = 160):
        self.num_frames, self.filename, self.height = int(num_frames), filename, int(height)
        self.path: Optional[str] = None
        self._frames: List[dict] = []
        self._titles: List[str] = []

    def before_val_epoch(self, runner) -> None:
        self._frames, self._titles = [], []

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        for sample in outputs or ():
            views = sample.get('reconstruction')
            if len(self._frames) >= self.num_frames or not views:
                continue
            self._frames.append({sensor: {k: v.numpy() for k, v in tiles.items()}
                                 for sensor, tiles in views.items()})
            self._titles.append(str(sample.metainfo.get('img_id', len(self._frames))))

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        if not self._frames:
            return
        from perception.visualization.panels import save_rgb
        from perception.visualization.reconstruction import reconstruction_figure
        caption = (f'iteration {runner.iter}, held-out frames: per sensor what the encoders saw '
                   '(hidden patches grey) | reconstruction (a hidden patch\'s prediction shown '
                   'with that patch\'s own mean and spread, as MAE) | frame')
        figure = reconstruction_figure(self._frames, _model(runner).sensors, self._titles,
                                       caption, self.height)
        self.path = osp.join(runner.work_dir, self.filename)
        save_rgb(self.path, figure)
