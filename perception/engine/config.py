"""Config handling shared by ``train``, ``test`` and ``demo`` (the mmseg ``tools/train.py`` recipe)."""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, DictAction  # noqa: F401  (DictAction re-exported for CLIs)


def load_config(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read a config, apply ``--cfg-options``, set the work dir and the distributed backend."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.setdefault('default_scope', 'perception')
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


def sensor_subsets(sensors: Sequence[str]) -> list:
    """Every non-empty subset of ``sensors``, largest first (7 for three sensors)."""
    from itertools import combinations
    out = []
    for k in range(len(sensors), 0, -1):
        out.extend(combinations(sensors, k))
    return out
