"""LoadMultiSensorSample / decode_sample: the decoded dict of docs/contract.md section 1."""
import cv2
import numpy as np
import pytest

from perception.contract import SENSORS, SensorError
from perception.datasets import LoadMultiSensorSample, decode_sample
from perception.datasets.base import box_annotation, sample_info, source
from perception.registry import TRANSFORMS


@pytest.fixture
def files(tmp_path):
    paths = dict(rgb=tmp_path / 'rgb.png', thermal=tmp_path / 'thermal.png',
                 depth=tmp_path / 'depth.png', seg=tmp_path / 'seg.png',
                 small=tmp_path / 'small.png')
    cv2.imwrite(str(paths['rgb']), np.full((6, 8, 3), (1, 2, 3), np.uint8))
    cv2.imwrite(str(paths['thermal']), np.full((6, 8), 65535, np.uint16))
    cv2.imwrite(str(paths['depth']), np.full((6, 8), 1500, np.uint16))
    cv2.imwrite(str(paths['seg']), np.full((6, 8), 255, np.uint8))
    cv2.imwrite(str(paths['small']), np.full((5, 8), 1500, np.uint16))
    return paths


def _info(files, **overrides):
    sensors = dict(rgb=source(files['rgb'], 'rgb8'), thermal=source(files['thermal'], 'u16_unit'),
                   depth=source(files['depth'], 'uint16_mm'))
    sensors.update(overrides)
    return sample_info('f0', sensors, targets=dict(gt_sem_seg=source(files['seg'], 'label_u8')),
                       boxes=box_annotation([[1, 2, 3, 4]], [0], 'boxes.json'),
                       extra=dict(condition='night'))


def test_full_sample_has_every_contract_key_with_types(files):
    out = decode_sample(dict(_info(files), sample_idx=3))
    assert out['rgb'].dtype == np.uint8 and out['rgb'].shape == (6, 8, 3)
    assert out['rgb'][0, 0].tolist() == [3, 2, 1]
    assert out['thermal'].dtype == np.float32 and (out['thermal'] == 1).all()
    assert out['depth'].dtype == np.float32 and (out['depth'] == np.float32(1.5)).all()
    assert out['gt_sem_seg'].dtype == np.uint8 and (out['gt_sem_seg'] == 255).all()
    assert out['gt_depth'] is None
    assert out['gt_bboxes'].dtype == np.float32 and out['gt_bboxes'].tolist() == [[1, 2, 3, 4]]
    assert out['gt_bboxes_labels'].dtype == np.int64
    assert out['modality_mask'].dtype == bool and out['modality_mask'].tolist() == [1, 1, 1]
    assert out['img_shape'] == out['ori_shape'] == (6, 8)
    assert (out['sample_idx'], out['img_id'], out['condition']) == (3, 'f0', 'night')
    assert out['sources']['depth'] == str(files['depth'])
    assert out['sources']['gt_sem_seg'] == str(files['seg'])


def test_missing_sensor_and_targets_are_none(files):
    info = sample_info('f1', dict(rgb=source(files['rgb'], 'rgb8'), thermal=None))
    out = decode_sample(info)
    assert out['thermal'] is None and out['depth'] is None
    assert out['gt_sem_seg'] is None and out['gt_bboxes'] is None
    assert out['gt_bboxes_labels'] is None
    assert out['modality_mask'].tolist() == [True, False, False]


def test_mismatched_sizes_name_both_files(files):
    with pytest.raises(SensorError) as info:
        decode_sample(_info(files, depth=source(files['small'], 'uint16_mm')))
    err = info.value
    assert (err.sensor, err.field, err.path) == ('depth', 'shape', str(files['small']))
    assert '6x8' in err.expected and str(files['rgb']) in err.expected and err.got == '5x8'


def test_target_of_another_size_is_rejected(files):
    info = _info(files)
    info['targets']['gt_depth'] = source(files['small'], 'uint16_mm')
    with pytest.raises(SensorError, match='gt_depth'):
        decode_sample(info)


def test_box_annotation_made_on_another_image_size(files):
    info = _info(files)
    info['boxes'] = box_annotation([[1, 2, 3, 4]], [0], 'boxes.json', shape=(60, 80))
    with pytest.raises(SensorError, match='60x80'):
        decode_sample(info)


def test_sample_without_any_sensor_is_an_error():
    with pytest.raises(SensorError, match='at least one'):
        decode_sample(sample_info('empty', {}))


def test_transform_from_the_registry_keeps_pipeline_keys(files):
    load = TRANSFORMS.build(dict(type='LoadMultiSensorSample'))
    out = load(dict(_info(files), sample_idx=0, custom='kept'))
    assert out['custom'] == 'kept'
    assert not {'sensors', 'targets', 'boxes', 'extra'} & set(out)
    assert set(SENSORS) <= set(out)


def test_transform_sensor_subset_and_no_targets(files):
    out = LoadMultiSensorSample(sensors=('rgb', 'thermal'), with_targets=False)(_info(files))
    assert out['depth'] is None and out['modality_mask'].tolist() == [True, True, False]
    assert out['gt_sem_seg'] is None and out['gt_bboxes'] is None
    with pytest.raises(ValueError, match='lidar'):
        LoadMultiSensorSample(sensors=('rgb', 'lidar'))


def test_unknown_encoding_in_a_data_info(files):
    with pytest.raises(SensorError) as info:
        decode_sample(_info(files, thermal=source(files['thermal'], 'u12_unit')))
    assert (info.value.sensor, info.value.field) == ('thermal', 'encoding')
