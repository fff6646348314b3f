"""Small, fast training configs for the tests that train (derived from the demo config)."""
import os.path as osp

from perception.engine.config import runner_config
from perception.paths import REPO_ROOT

DEMO_CONFIG = osp.join(str(REPO_ROOT), 'configs', 'demo', 'nano_synthetic_demo.py')
PACK = dict(type='PackMultiSensorInputs', meta_keys=('condition', ))
TINY = (64, 96)  # (H, W): small frames straight from the generator, no resize in the pipeline


def tiny_cfg(work_dir, max_iters=4, batch_size=2, precision=None, **overrides):
    """The demo config at TINY size: packing-only pipelines, a constant learning rate, a checkpoint
    every 2 iterations, logs every iteration, no validation. ``precision``: as ``perception train
    --amp/--fp32`` (default: the config's 'auto')."""
    cfg = runner_config(DEMO_CONFIG, work_dir=str(work_dir), precision=precision)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = batch_size
        loader.dataset.img_size = TINY
        loader.dataset.pipeline = [PACK]
    cfg.val_dataloader.dataset.num_samples = 4
    cfg.test_dataloader.dataset.num_samples = 4
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.custom_hooks = []
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    # One visualiser instance per runner: mmengine's visualiser is a named singleton, and several
    # runners in one process would otherwise all log into the first one's folder.
    cfg.visualizer.pop('name', None)
    cfg.merge_from_dict(overrides)
    return cfg


def with_real_training_recipe(cfg, warmup_iters, max_iters):
    """``cfg`` (from ``tiny_cfg``) trained the way the demo trains, at TINY size: the config's own
    train pipeline (random resize/crop/flip, photometric noise, modality dropout, padding) with its
    sizes scaled to TINY, and the demo schedule's warm-up + cosine decay over ``max_iters``."""
    from mmengine.config import Config
    train_pipeline = Config.fromfile(DEMO_CONFIG).train_dataloader.dataset.pipeline
    size_keys = {'RandomResize': 'scale', 'RandomCrop': 'crop_size', 'Pad': 'size'}
    for step in train_pipeline:
        if step.type in size_keys:
            step[size_keys[step.type]] = (TINY[1], TINY[0])     # (W, H), as the transforms take it
    cfg.train_dataloader.dataset.pipeline = train_pipeline
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=warmup_iters),
        dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=3e-5,
             by_epoch=False, begin=warmup_iters, end=max_iters)]
    return cfg
