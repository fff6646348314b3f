"""Every real format decodes to the contract with the values its convention gives.

Pixel values were read once from the files in ../shared/data/real and checked against the raw
stored value and the encoding's formula; depth values are also checked to be physically plausible
for the scene (indoor RGB-D: 0.4-10 m).
"""
import cv2
import numpy as np
import pytest

from perception.contract import SensorError
from perception.datasets import build_real_dataset, decode_file
from perception.registry import DATASETS

pytestmark = pytest.mark.real_data


def _samples(name, root):
    ds = build_real_dataset(name, root)
    return ds, [ds.load_sample(i) for i in range(len(ds))]


def _check_contract(sample):
    h, w = sample['img_shape']
    for key, dtype, shape in (('rgb', np.uint8, (h, w, 3)), ('thermal', np.float32, (h, w)),
                              ('depth', np.float32, (h, w)), ('gt_depth', np.float32, (h, w))):
        value = sample[key]
        if value is not None:
            assert value.dtype == dtype and value.shape == shape, key
    if sample['thermal'] is not None:
        assert 0 <= sample['thermal'].min() and sample['thermal'].max() <= 1
    assert sample['modality_mask'].tolist() == [sample[s] is not None
                                                for s in ('rgb', 'thermal', 'depth')]


def _plausible_indoor(depth, valid_fraction):
    valid = depth[depth > 0]
    assert valid.size / depth.size == pytest.approx(valid_fraction, abs=0.01)
    lo, hi = np.percentile(valid, [1, 99])
    assert 0.4 < lo and hi < 10.0, (lo, hi)
    return valid


@pytest.mark.parametrize('name, count', [('mfnet', 2), ('msrs', 20), ('roadscene', 20),
                                         ('redwood', 5), ('open3d_formats', 3),
                                         ('open3d_depth_only', 1), ('nyu_demo', 1),
                                         ('esanet', 1), ('sunrgbd', 4)])
def test_every_real_sample_decodes_to_the_contract(real_root, name, count):
    _, samples = _samples(name, real_root)
    assert len(samples) == count
    for sample in samples:
        _check_contract(sample)


def test_mfnet_rgba_split_and_day_night(real_root):
    _, (night, day) = _samples('mfnet', real_root)
    assert (night['img_id'], night['condition'], day['condition']) == ('01234N', 'night', 'day')
    assert night['rgb'].shape == (480, 640, 3) and night['modality_mask'].tolist() == [1, 1, 0]
    # raw BGRA at (240, 320) is [2, 8, 7, 109]
    assert night['rgb'][240, 320].tolist() == [7, 8, 2]
    assert night['thermal'][240, 320] == np.float32(109) / np.float32(255)
    assert day['thermal'][240, 320] == np.float32(81) / np.float32(255)


def test_msrs_and_roadscene_pairs(real_root):
    _, msrs = _samples('msrs', real_root)
    assert {s['img_shape'] for s in msrs} == {(480, 640)}
    assert sum(s['condition'] == 'night' for s in msrs) == 12
    assert msrs[0]['thermal'][240, 320] == np.float32(8) / np.float32(255)
    _, road = _samples('roadscene', real_root)
    assert [s['img_id'] for s in road[:4]] == ['3', '4', '9', '14']      # numeric order
    assert len({s['img_shape'] for s in road}) == 20                     # sizes vary per pair
    assert min(s['img_shape'][1] for s in road) == 447 and \
        max(s['img_shape'][1] for s in road) == 589
    assert road[0]['img_shape'] == (346, 507)
    assert road[0]['thermal'][173, 253] == np.float32(139) / np.float32(255)
    assert all('condition' not in s for s in road)


def test_redwood_depth_in_mm(real_root):
    _, samples = _samples('redwood', real_root)
    depth = samples[0]['depth']
    assert depth[240, 320] == np.float32(2.195)            # raw 2195
    valid = _plausible_indoor(depth, 0.87)
    assert valid.max() == np.float32(2.702)


def test_open3d_other_formats_in_their_native_encodings(real_root):
    _, (tum, nyu, sun) = _samples('open3d_formats', real_root)
    assert tum['depth'][240, 320] == np.float32(10920) / np.float32(5000)       # 2.184 m
    _plausible_indoor(tum['depth'], 0.81)
    # NYU raw: the PGM word 53507 (0xD103) is Kinect disparity 0x03D1 = 977
    assert nyu['depth'][240, 320] == pytest.approx(351.3 / (1092.5 - 977), rel=1e-6)  # 3.04 m
    _plausible_indoor(nyu['depth'], 0.93)
    assert np.median(sun['depth'][sun['depth'] > 0]) == np.float32(2.723)
    _plausible_indoor(sun['depth'], 0.82)
    # decoded as plain mm, the same SUN file would put the median at 21 m: wrong encoding
    plain = decode_file(sun['sources']['depth'], 'uint16_mm', 'depth')
    assert np.median(plain[plain > 0]) > 20


def test_depth_only_sample(real_root):
    _, (sample, ) = _samples('open3d_depth_only', real_root)
    assert sample['rgb'] is None and sample['thermal'] is None
    assert sample['modality_mask'].tolist() == [False, False, True]
    assert sample['depth'][240, 320] == np.float32(0.766)


def test_nyu_demo_raw_input_and_filled_target(real_root):
    _, (sample, ) = _samples('nyu_demo', real_root)
    assert sample['img_shape'] == (425, 560)
    assert sample['depth'][212, 280] == np.float32(3.151)
    assert sample['gt_depth'][212, 280] == np.float32(3.150)
    _plausible_indoor(sample['depth'], 0.83)
    _plausible_indoor(sample['gt_depth'], 1.0)
    holes = sample['depth'] == 0
    assert (sample['gt_depth'][holes] > 0).all()          # the filled map covers the raw holes


def test_esanet_depth_in_tenth_mm_with_saturation_invalid(real_root):
    _, (sample, ) = _samples('esanet', real_root)
    assert sample['depth'][212, 256] == np.float32(2.9127)        # raw 29127
    raw = cv2.imread(sample['sources']['depth'], cv2.IMREAD_UNCHANGED)
    assert (raw == 65535).sum() == 1491 and (sample['depth'][raw == 65535] == 0).all()
    valid = _plausible_indoor(sample['depth'], 0.88)
    assert valid.max() < 6.5535


def test_sensors_of_a_config_built_dataset_go_through_the_pipeline(real_root):
    ds = DATASETS.build(dict(type='MFNetDataset', data_root=str(real_root / 'mfnet_rgbt'),
                             pipeline=[dict(type='LoadMultiSensorSample', sensors=('thermal', ))]))
    out = ds[0]
    assert out['rgb'] is None and out['thermal'].shape == (480, 640)
    assert ds.metainfo['seg_classes'][1] == 'car' and len(ds.metainfo['palette']) == 9


def test_real_files_in_a_wrong_encoding_are_refused(real_root):
    mfnet = real_root / 'mfnet_rgbt' / '01234N.png'
    with pytest.raises(SensorError, match='channels'):
        decode_file(mfnet, 'rgb8', 'rgb')                 # 4 channels: not plain colour
    with pytest.raises(SensorError, match='bit depth'):
        decode_file(real_root / 'msrs_roadscene/MSRS/ir/00004N.png', 'u16_unit', 'thermal')
    with pytest.raises(SensorError, match='bit depth'):
        decode_file(real_root / 'nyu_demo/depth.png', 'rgb8', 'rgb')
