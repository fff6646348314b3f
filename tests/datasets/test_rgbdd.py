"""RGB-D-D: the real frames decode to the contract (mm -> metres, depth = its own target), the split is
the documented rule and holds out every non-training frame of any folder, and bad frames (a missing
file, sizes that disagree, an all-zero depth map) fail clearly or degrade as documented."""
import json
import shutil

import cv2
import numpy as np
import pytest

from perception.contract import SensorError
from perception.datasets import RGBDDDataset
from perception.datasets.rgbdd import SPLIT_FILE, session_split, training_stems
from perception.transforms import DepthDownsample

REAL = pytest.mark.real_data


@pytest.fixture(scope='module')
def rgbdd_root(real_root):
    return real_root / 'rgbdd'


def _ids(dataset):
    """Frame ids in order (mmengine serialises and empties ``data_list``)."""
    return [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]


@REAL
def test_split_sizes_and_disjointness(rgbdd_root):
    train, val, every = (RGBDDDataset(rgbdd_root, split=s) for s in ('train', 'val', 'all'))
    ids = {s: set(_ids(ds)) for s, ds in (('train', train), ('val', val), ('all', every))}
    assert (len(ids['train']), len(ids['val']), len(ids['all'])) == (236, 68, 304)
    assert not ids['train'] & ids['val'] and ids['train'] | ids['val'] == ids['all']


@REAL
def test_stored_split_is_the_documented_rule(rgbdd_root):
    stems = sorted(p.stem for p in (rgbdd_root / 'rgb').iterdir())
    train, val = session_split(stems)
    stored = json.loads(SPLIT_FILE.read_text())
    assert sorted(train) == stored['train'] and sorted(val) == stored['val']
    assert training_stems() == frozenset(train)


@REAL
def test_real_frame_decodes_to_metres_with_itself_as_target(rgbdd_root):
    ds = RGBDDDataset(rgbdd_root, split='val')
    sample = ds.load_sample(0)
    assert sample['rgb'].dtype == np.uint8 and sample['rgb'].shape == (384, 512, 3)
    assert sample['depth'].dtype == np.float32 and sample['depth'].shape == (384, 512)
    np.testing.assert_array_equal(sample['depth'], sample['gt_depth'])
    raw = cv2.imread(sample['sources']['depth'], cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(sample['depth'], raw.astype(np.float32) / 1000)
    valid = sample['depth'][sample['depth'] > 0]
    assert 0.5 < valid.min() and valid.max() < 4.0   # README: 0.58-3.83 m over the folder
    assert sample['modality_mask'].tolist() == [True, False, True]


@REAL
def test_another_folder_is_scored_whole_and_never_on_training_frames(rgbdd_root, tmp_path):
    """`--cfg-options test_dataloader.dataset.data_root=DIR`: split 'val' of a folder holding no
    training frame is all of it; training frames that slip in are left out."""
    train = sorted(training_stems())
    val = json.loads(SPLIT_FILE.read_text())['val']
    for sub, suffix in (('rgb', '.jpg'), ('depth', '.png')):
        (tmp_path / sub).mkdir()
        for stem in val[:3] + train[:1]:
            shutil.copy(rgbdd_root / sub / f'{stem}{suffix}', tmp_path / sub)
    held_out = RGBDDDataset(tmp_path, split='val')
    assert _ids(held_out) == sorted(val[:3])
    with pytest.raises(SensorError, match='training frames'):
        RGBDDDataset(tmp_path, split='train')


def _write_frame(root, stem, hw=(32, 48), depth_hw=None, depth_value=1500):
    (root / 'rgb').mkdir(exist_ok=True)
    (root / 'depth').mkdir(exist_ok=True)
    cv2.imwrite(str(root / 'rgb' / f'{stem}.jpg'), np.full((*hw, 3), 128, np.uint8))
    depth = np.full(depth_hw or hw, depth_value, np.uint16)
    cv2.imwrite(str(root / 'depth' / f'{stem}.png'), depth)


def test_missing_depth_file_names_the_frame(tmp_path):
    _write_frame(tmp_path, '20200101120000')
    _write_frame(tmp_path, '20200101120100')
    (tmp_path / 'depth' / '20200101120100.png').unlink()
    with pytest.raises(SensorError) as err:
        RGBDDDataset(tmp_path, split='all')
    assert err.value.sensor == 'depth' and '20200101120100' in str(err.value)


def test_depth_and_colour_sizes_that_disagree_are_refused(tmp_path):
    _write_frame(tmp_path, '20200101120000', hw=(32, 48), depth_hw=(16, 24))
    ds = RGBDDDataset(tmp_path, split='all')
    with pytest.raises(SensorError) as err:
        ds.load_sample(0)
    assert err.value.field == 'shape' and '32x48' in str(err.value)


def test_all_zero_depth_is_a_frame_without_valid_depth(tmp_path):
    """Documented degradation: it decodes (0 = invalid), the low-resolution input is all invalid,
    and the frame adds nothing to the loss or the scores (tests/evaluation)."""
    _write_frame(tmp_path, '20200101120000', depth_value=0)
    sample = RGBDDDataset(tmp_path, split='all').load_sample(0)
    assert (sample['gt_depth'] == 0).all()
    assert (DepthDownsample(8)(sample)['depth'] == 0).all()


def test_bad_split_and_empty_folder(tmp_path):
    with pytest.raises(SensorError, match='split'):
        RGBDDDataset(tmp_path, split='test')
    with pytest.raises(SensorError, match='data_root'):
        RGBDDDataset(tmp_path, split='all')


@pytest.mark.parametrize('scale', [4, 8, 16])
def test_each_scale_config_models_its_sensor_right_after_loading(scale):
    """The x4/x8/x16 configs differ by the sensor model only, placed where the protocol crops the
    stored frame; the metric scores each frame at the scale that model recorded."""
    from perception.models import load_config
    from perception.paths import REPO_ROOT
    cfg = load_config(REPO_ROOT / 'configs' / 'rgbdd' / f'nano_rgbdd_gdsr_x{scale}.py')
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        steps = [step['type'] for step in loader.dataset.pipeline]
        assert steps[:2] == ['LoadMultiSensorSample', 'DepthDownsample']
        assert steps.count('DepthDownsample') == 1 and loader.dataset.pipeline[1]['scale'] == scale
    assert cfg.test_evaluator.type == 'DepthSRMetric' and cfg.test_evaluator.scale is None
    assert cfg.train_cfg.max_iters == 1000
