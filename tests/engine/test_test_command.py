"""`perception test CONFIG CKPT --modality-subsets`: one evaluation per non-empty sensor subset, each
with its own sensors -- checked against evaluations that remove the sensors another way."""
import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner
from train_utils import tiny_cfg

from perception.engine.testing import run_test_loop


def single_threaded(fn, *args, **kwargs):
    """``fn`` with one intra-op thread, as the command ran (OMP_NUM_THREADS=1): the same sums."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def test_modality_subsets_table(tmp_path):
    cfg = tiny_cfg(tmp_path / 'work', max_iters=2)
    Runner.from_cfg(cfg).train()
    config = str(tmp_path / 'tiny.py')
    cfg.dump(config)
    out_json = tmp_path / 'metrics.json'
    out = subprocess.run([sys.executable, 'tools/test.py', config, str(tmp_path / 'work' / 'iter_2.pth'),
                          '--modality-subsets', '--work-dir', str(tmp_path / 'test'),
                          '--out', str(out_json)],
                         capture_output=True, text=True, timeout=480,
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    metrics = json.loads(out_json.read_text())
    assert sorted(metrics) == sorted(['rgb+thermal+depth', 'rgb+thermal', 'rgb+depth',
                                      'thermal+depth', 'rgb', 'thermal', 'depth'])
    for subset, values in metrics.items():
        assert 0.0 <= values['seg/mIoU'] <= 1.0 and values['depth/AbsRel'] >= 0.0, subset
    # Seven different inputs give seven different results (not seven all-sensor evaluations) ...
    assert len({tuple(values.values()) for values in metrics.values()}) == 7, metrics
    # ... and each row is its own subset's: the full set against no transform at all, one sensor
    # against ModalityDropout told to drop the other two (another path to absent sensors).
    references = {'rgb+thermal+depth': [],
                  'rgb': [dict(type='ModalityDropout', drop_subsets={'thermal+depth': 1.0})]}
    for subset, transforms in references.items():
        reference = single_threaded(run_test_loop, cfg, str(tmp_path / 'work' / 'iter_2.pth'),
                                    transforms, conditions=cfg.get('subset_eval_conditions'),
                                    experiment_name=f'reference_{subset}')
        for key in ('seg/mIoU', 'depth/AbsRel', 'depth/delta1'):
            assert metrics[subset][key] == pytest.approx(reference[key], rel=1e-5, abs=1e-6), \
                (subset, key)
    for subset in metrics:   # the printed table has one row per subset
        assert any(line.split('|')[1].strip() == subset for line in out.stdout.splitlines()
                   if line.count('|') > 2), subset


def _rgbt_layout(root, n=4):
    """A generic-layout folder of synthetic frames without depth (an RGB-thermal robot's data);
    the last frame lacks thermal too."""
    from perception.datasets import GenericLayoutWriter
    from perception.datasets.synthetic import METAINFO, SyntheticRGBTDDataset
    data = SyntheticRGBTDDataset(split='test', num_samples=n, img_size=(64, 96))
    meta = dict(name='rgbt', seg_classes=list(METAINFO['seg_classes']),
                det_classes=list(METAINFO['det_classes']), palette=None,
                encodings=dict(rgb='rgb8', thermal='u16_unit', depth=None, gt_depth=None))
    with GenericLayoutWriter(root, meta) as writer:
        for i in range(n):
            sample = data.load_sample(i)
            sample.update(depth=None, gt_depth=None)
            if i == n - 1:
                sample['thermal'] = None
            sample['modality_mask'] = sample['modality_mask'] & [True, i < n - 1, False]
            writer.write(f'{i:04d}', sample)
    return root


def test_subset_plan_evaluates_the_subsets_the_model_and_the_data_share(tmp_path):
    """An RGB-thermal model on a test set without depth, and a three-sensor model that never saw
    depth in training: the rows are the subsets of rgb + thermal, on the frames that have both;
    every other subset is listed as skipped with its reason."""
    from perception.engine.testing import subset_plan
    from perception.models import build_model
    cfg = tiny_cfg(tmp_path / 'work', max_iters=2)
    cfg.test_dataloader.dataset = dict(type='GenericMultiSensorDataset',
                                       data_root=str(_rgbt_layout(tmp_path / 'rgbt')),
                                       pipeline=[dict(type='LoadMultiSensorSample'),
                                                 dict(type='PackMultiSensorInputs')])
    cfg.model.sensors = ('rgb', 'thermal')
    torch.manual_seed(0)
    ckpt = tmp_path / 'rgbt.pth'
    torch.save({'state_dict': build_model(cfg).state_dict(), 'meta': {}}, ckpt)
    plan = subset_plan(cfg, str(ckpt))
    assert plan.shared == ('rgb', 'thermal') and (plan.frames, plan.total) == (3, 4)
    assert plan.config.test_dataloader.dataset.indices == [0, 1, 2]
    skipped = dict(plan.skipped())
    assert set(skipped) == {'rgb+thermal+depth', 'rgb+depth', 'thermal+depth', 'depth'}
    assert skipped['depth'] == 'the model has no depth input'

    cfg.model.sensors = ('rgb', 'thermal', 'depth')
    model = build_model(cfg)
    model.set_seen_counts({'rgb': 8, 'thermal': 8, 'depth': 0})
    torch.save({'state_dict': model.state_dict(),
                'meta': {'sensors_seen': model.seen_counts()}}, ckpt)
    plan = subset_plan(cfg, str(ckpt))
    assert plan.trained_sensors == ('rgb', 'thermal') and plan.shared == ('rgb', 'thermal')
    assert dict(plan.skipped())['depth'] == 'the model never saw depth in training'
    assert 'skipped depth: the model never saw depth in training' in plan.describe()
