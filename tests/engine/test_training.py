"""Training from configs: every config builds and mixed partial labels train (resume: test_resume.py)."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from train_utils import PACK, TINY, tiny_cfg

import perception.registry  # noqa: F401
from perception.models.encoders.timm_encoder import import_timm
from perception.paths import REPO_ROOT
from perception.registry import MODELS

CONFIGS = sorted(c for c in glob.glob(osp.join(str(REPO_ROOT), 'configs', '**', '*.py'),
                                      recursive=True) if '_base_' not in c)
try:    # configs/timm/ build timm models: timm is optional
    import_timm()
    TIMM_MISSING = ''
except ImportError as err:
    TIMM_MISSING = str(err)


def _config_param(config: str):
    timm = osp.relpath(config, REPO_ROOT).startswith(osp.join('configs', 'timm', ''))
    return pytest.param(config, id=osp.relpath(config, REPO_ROOT), marks=pytest.mark.skipif(
        timm and bool(TIMM_MISSING), reason=TIMM_MISSING))


@pytest.mark.parametrize('config', [_config_param(c) for c in CONFIGS])
def test_every_config_parses_and_builds_its_model(config):
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'perception'))
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'optim_wrapper',
                'train_cfg', 'val_evaluator'):
        assert key in cfg, f'{config} lacks {key}'


def _final_loss(work_dir):
    logs = sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json')))
    import json
    last = [json.loads(line) for line in open(logs[-1]) if '"loss"' in line][-1]
    return last['loss'], last['step']


def _write_partial(root, what):
    """A generic-layout dataset made of synthetic frames that keep only some sensors/targets."""
    from perception.datasets import GenericLayoutWriter
    from perception.datasets.synthetic import METAINFO, generate_sample
    keep_sensors, keep_targets = what
    with GenericLayoutWriter(root, dict(name=osp.basename(root), **METAINFO)) as writer:
        for i in range(4):
            s = generate_sample(i, seed=7, split='train', img_size=TINY, conditions=['day'])
            for sensor in ('rgb', 'thermal', 'depth'):
                if sensor not in keep_sensors:
                    s[sensor] = None
            s['modality_mask'] = np.array([s[k] is not None for k in ('rgb', 'thermal', 'depth')])
            if 'seg' not in keep_targets:
                s['gt_sem_seg'] = None
            if 'det' not in keep_targets:
                s['gt_bboxes'] = s['gt_bboxes_labels'] = None
            if 'depth' not in keep_targets:
                s['gt_depth'] = None
            writer.write(f'{i:03d}', s)


def test_training_on_a_mix_of_partially_labelled_datasets(tmp_path):
    parts = {'rgbt_seg': (('rgb', 'thermal'), ('seg', )),
             'rgbd_det': (('rgb', 'depth'), ('det', )),
             'depth_only': (('depth', ), ('depth', ))}
    for name, what in parts.items():
        _write_partial(str(tmp_path / name), what)
    cfg = tiny_cfg(tmp_path / 'work', max_iters=3, batch_size=3)
    cfg.train_dataloader.dataset = dict(
        type='ConcatDataset', ignore_keys=['dataset_name'],
        datasets=[dict(type='GenericMultiSensorDataset', data_root=str(tmp_path / name),
                       pipeline=[dict(type='LoadMultiSensorSample'), PACK]) for name in parts])
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    runner = Runner.from_cfg(cfg)
    init_default_scope('perception')
    dataset = runner.train_dataloader.dataset
    assert isinstance(dataset, ConcatDataset) and len(dataset) == 12
    tasks = [{t for t in ('seg', 'det', 'depth') if dataset[i]['data_samples'].has_target(t)}
             for i in range(len(dataset))]
    assert tasks.count({'seg'}) == tasks.count({'det'}) == tasks.count({'depth'}) == 4
    runner.train()
    loss, step = _final_loss(tmp_path / 'work')
    assert step == 3 and np.isfinite(loss)
