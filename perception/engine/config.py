"""The config mmengine's Runner gets, shared by ``train``, ``test``, ``demo`` and the studies (the mmseg
``tools/train.py`` recipe): the one ``load_config`` (perception.models.builder), then the work dir and
the distributed backend."""
from __future__ import annotations

import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for CLIs)

from perception.models.builder import load_config


def runner_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                  launcher: str = 'none') -> Config:
    """``load_config`` (``--cfg-options`` applied), then the work dir and the distributed backend.

    Args:
        path: config file.
        cfg_options: ``--cfg-options`` overrides.
        work_dir: where the Runner writes; default ``./work_dirs/<config name>`` unless the config
            sets one.
        launcher: mmengine launcher (``none``, ``pytorch``, ...); DDP runs on gloo without CUDA.

    Returns:
        The ``Config`` for ``Runner.from_cfg``.
    """
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
    return cfg


def enable_amp(cfg: Config) -> None:
    """Mixed precision the mmengine way (AmpOptimWrapper); bfloat16 on CPU, float16 on CUDA."""
    import torch
    optim = cfg.optim_wrapper
    if optim.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        return
    optim.type = 'AmpOptimWrapper'
    optim.loss_scale = 'dynamic'
    if not torch.cuda.is_available():
        optim.dtype = 'bfloat16'


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone resumes from the latest checkpoint of the work dir, ``--resume PATH`` from
    that file. Checkpoints are read with ``weights_only=True`` (see perception.compat)."""
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
