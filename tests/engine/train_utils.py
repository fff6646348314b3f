"""Small, fast training configs for the engine tests (derived from the demo config)."""
import os.path as osp

from perception.engine.config import runner_config
from perception.paths import REPO_ROOT

DEMO_CONFIG = osp.join(str(REPO_ROOT), 'configs', 'demo', 'nano_synthetic_demo.py')
PACK = dict(type='PackMultiSensorInputs', meta_keys=('condition', ))
TINY = (64, 96)  # (H, W): small frames straight from the generator, no resize in the pipeline


def tiny_cfg(work_dir, max_iters=4, batch_size=2, **overrides):
    cfg = runner_config(DEMO_CONFIG, work_dir=str(work_dir))
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
