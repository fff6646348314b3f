"""The mmengine dataset, the disk round trip through the generic layout, and the two tools."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.datasets import GenericMultiSensorDataset
from perception.datasets.synthetic import METAINFO, SyntheticRGBTDDataset, generate_sample
from perception.datasets.synthetic.export import sample_id, write_dataset
from perception.registry import DATASETS

REPO = Path(__file__).resolve().parents[2]
SIZE = (64, 80)
ARRAYS = ('rgb', 'thermal', 'depth', 'gt_sem_seg', 'gt_depth', 'gt_bboxes', 'gt_bboxes_labels',
          'modality_mask')


def assert_same(a: dict, b: dict):
    for key in ARRAYS:
        if a[key] is None or b[key] is None:
            assert a[key] is None and b[key] is None, key
        else:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    assert a['condition'] == b['condition']
    assert tuple(a['img_shape']) == tuple(b['img_shape'])


def test_dataset_builds_from_config_and_serves_the_generator():
    ds = DATASETS.build(dict(type='SyntheticRGBTDDataset', split='val', num_samples=4,
                             img_size=SIZE, seed=3))
    assert isinstance(ds, SyntheticRGBTDDataset) and len(ds) == 4
    for key in ('seg_classes', 'det_classes', 'palette'):
        assert tuple(map(tuple, ds.metainfo[key])) == tuple(map(tuple, METAINFO[key]))
    assert_same(ds[2], generate_sample(2, 3, 'val', SIZE))
    assert_same(ds.load_sample(2), ds[2])
    assert ds[2]['sample_idx'] == 2
    with pytest.raises(IndexError):
        ds.load_sample(4)


def test_dataset_runs_its_pipeline_and_honours_condition_weights():
    ds = SyntheticRGBTDDataset(num_samples=6, img_size=SIZE, conditions={'night': 1.0, 'fog': 0.0},
                               pipeline=[lambda r: dict(r, seen_by_pipeline=True)])
    assert all(ds[i]['condition'] == 'night' and ds[i]['seen_by_pipeline'] for i in range(6))
    ds = SyntheticRGBTDDataset(num_samples=12, img_size=SIZE, conditions=['no_rgb', 'day'])
    conds = {ds[i]['condition'] for i in range(12)}
    assert conds == {'no_rgb', 'day'}


@pytest.mark.parametrize('kwargs, match', [(dict(split='dev'), 'split'),
                                           (dict(conditions=['snow']), 'unknown condition'),
                                           (dict(conditions={'day': -1}), 'non-negative'),
                                           (dict(img_size=(16, 16)), 'img_size')])
def test_dataset_rejects_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, KeyError), match=match):
        SyntheticRGBTDDataset(num_samples=1, **kwargs)


def test_written_samples_read_back_identically(tmp_path):
    conds = ['day', 'night', 'fog', 'no_rgb', 'no_thermal', 'no_depth', 'depth_holes']
    summary = write_dataset(tmp_path, 10, seed=5, split='val', img_size=SIZE, conditions=conds)
    assert summary.count == 10 and sum(summary.per_condition.values()) == 10
    ds = GenericMultiSensorDataset(str(tmp_path), split='val')
    assert len(ds) == 10
    dropped = 0
    for i in range(10):
        mine = generate_sample(i, 5, 'val', SIZE, conds)
        back = ds.load_sample(i)
        assert back['img_id'] == sample_id('val', i)
        assert_same(mine, back)
        for sensor, folder in (('rgb', 'rgb'), ('thermal', 'thermal'), ('depth', 'depth')):
            exists = (tmp_path / folder / f'{sample_id("val", i)}.png').is_file()
            assert exists == (mine[sensor] is not None)
            dropped += not exists
    assert dropped > 0


def run_tool(*args, timeout=120):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_make_synthetic_cli_writes_a_readable_dataset(tmp_path):
    out = tmp_path / 'set'
    res = run_tool('tools/make_synthetic.py', '--num', '5', '--out', str(out), '--seed', '2',
                   '--size', *map(str, SIZE), '--conditions', 'day', 'glare', '--split', 'test')
    assert res.returncode == 0, res.stderr
    assert 'samples/s' in res.stdout and '5 samples' in res.stdout
    ds = GenericMultiSensorDataset(str(out), split='test')
    assert len(ds) == 5 and {ds.load_sample(i)['condition'] for i in range(5)} <= {'day', 'glare'}


def load_tool(name):
    """Import a tools/ script as a module, to call its main() in this process (fast)."""
    spec = importlib.util.spec_from_file_location(name, REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_synthetic_benchmark_reports_speed(capsys):
    tool = load_tool('make_synthetic')
    assert tool.main(['--benchmark', '--num', '4', '--size', *map(str, SIZE)]) == 0
    assert 'samples/s' in capsys.readouterr().out


def test_make_synthetic_needs_out_and_num(capsys):
    with pytest.raises(SystemExit) as exc:
        load_tool('make_synthetic').main(['--num', '3'])
    assert exc.value.code == 2 and '--out' in capsys.readouterr().err


def test_visualize_synthetic_writes_the_grid(tmp_path):
    out = tmp_path / 'grid.png'
    tool = load_tool('visualize_synthetic')
    assert tool.main(['--out', str(out), '--size', *map(str, SIZE), '--conditions', 'day', 'no_rgb',
                      '--scale', '1']) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 2 * SIZE[0] and img.shape[1] > 5 * SIZE[1]


def test_repository_config_pipeline_accepts_the_samples():
    """configs/_base_/datasets/synthetic_rgbtd.py: augmentation + packing run on these samples."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets/synthetic_rgbtd.py'))
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, num_samples=3, img_size=SIZE))
    for i in range(3):
        item = ds[i]
        assert set(item['inputs']) >= {'rgb', 'thermal', 'depth', 'modality_mask'}
        assert 'condition' in item['data_samples'].metainfo
