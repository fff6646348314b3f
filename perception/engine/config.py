"""The config mmengine's Runner gets, shared by ``train``, ``test``, ``demo`` and the studies (the mmseg
``tools/train.py`` recipe): the one ``load_config`` (perception.models.builder), then the work dir and
the distributed backend."""
from __future__ import annotations

import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for CLIs)

from perception.models.builder import load_config


def runner_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                  launcher: str = 'none', precision: Optional[str] = None) -> Config:
    """``load_config`` (``--cfg-options`` applied), then the work dir, the distributed backend and
    the ``SensorsSeenHook`` (every checkpoint records the sensors seen in training).

    Args:
        path: config file.
        cfg_options: ``--cfg-options`` overrides.
        work_dir: where the Runner writes; default ``./work_dirs/<config name>`` unless the config
            sets one.
        launcher: mmengine launcher (``none``, ``pytorch``, ...); DDP runs on gloo without CUDA.
        precision: ``'bf16'``, ``'fp32'`` or ``'auto'``; default: the config's ``precision`` key
            (``perception.engine.precision``: bf16 autocast where the CPU has native bf16).

    Returns:
        The ``Config`` for ``Runner.from_cfg``.
    """
    from .precision import apply_precision
    cfg = load_config(path, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    if launcher != 'none':
        # NCCL needs GPUs; on CPU-only machines DDP runs on gloo.
        import torch
        cuda = torch.cuda.is_available()
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = (
            'nccl' if cuda else 'gloo')
        # DDP's own default: rank 0 broadcasts BatchNorm statistics every step, so all replicas stay
        # identical (mmengine turns it off by default). CPU modules take device_ids=None.
        wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
        wrapper.setdefault('broadcast_buffers', True)
        if not cuda:
            wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
    apply_precision(cfg, precision)
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') in ('SensorsSeenHook', 'perception.SensorsSeenHook') for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='SensorsSeenHook')]   # checkpoints record the sensors
    return cfg


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone resumes from the latest checkpoint of the work dir, ``--resume PATH`` from
    that file. Checkpoints are read with ``weights_only=True`` (see perception.compat)."""
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume


def fit_schedule(cfg: Config) -> None:
    """Make the learning-rate schedule end where training ends (``train_cfg.max_iters``, e.g. set
    from the command line): the cosine decay spans what is left after the warm-up, no scheduler
    runs past the end."""
    max_iters = cfg.train_cfg.max_iters
    for sched in cfg.param_scheduler:
        if sched.get('type') == 'CosineAnnealingLR':
            sched.end = max_iters
            sched.begin = min(sched.begin, max_iters - 1)
            sched.T_max = max(1, max_iters - sched.begin)
        elif sched.get('end', 0) > max_iters:
            sched.end = max_iters
