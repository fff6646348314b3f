"""PackMultiSensorInputs output (docs/contract.md section 2) and config-built pipelines."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope
from transform_samples import copy_sample, make_sample

from perception.contract import SensorError
from perception.structures import MultiTaskDataSample
from perception.transforms import PackMultiSensorInputs

TRAIN_PIPELINE = [
    dict(type='RandomResize', scale=(64, 48), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(48, 32), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, prob=0.8),
    dict(type='LowLightSimulation', prob=0.2),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    dict(type='ThermalCrossover', prob=0.1),
    dict(type='DepthHoles', prob=0.5),
    dict(type='DepthNoise', prob=0.5),
    dict(type='DepthQuantize', step=0.01, prob=0.3),
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.15, 'thermal': 0.1, 'depth': 0.1}),
    dict(type='Pad', size=(48, 32)),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
TEST_PIPELINE = [
    dict(type='Resize', scale=(40, 30), keep_ratio=False, resize_targets=False),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]


def test_pack_shapes_dtypes_and_targets():
    sample = make_sample(24, 40, seed=1, condition='night')
    packed = PackMultiSensorInputs()(copy_sample(sample))
    inputs, ds = packed['inputs'], packed['data_samples']
    assert inputs['rgb'].shape == (3, 24, 40) and inputs['rgb'].dtype == torch.float32
    assert inputs['thermal'].shape == (1, 24, 40) and inputs['depth'].shape == (1, 24, 40)
    assert inputs['modality_mask'].dtype == torch.bool and inputs['modality_mask'].all()
    np.testing.assert_array_equal(inputs['rgb'].permute(1, 2, 0).numpy(), sample['rgb'])
    np.testing.assert_array_equal(inputs['depth'][0].numpy(), sample['depth'])
    assert isinstance(ds, MultiTaskDataSample)
    assert ds.gt_sem_seg.data.shape == (1, 24, 40) and ds.gt_sem_seg.data.dtype == torch.long
    assert ds.gt_depth.data.shape == (1, 24, 40) and ds.gt_depth.data.dtype == torch.float32
    assert ds.gt_instances.bboxes.shape == (6, 4) and ds.gt_instances.labels.dtype == torch.long
    assert ds.img_shape == (24, 40) and ds.ori_shape == (24, 40) and ds.sample_idx == 1
    assert ds.modality_mask == (True, True, True) and ds.scale_factor == (1.0, 1.0)
    assert ds.flip is False and ds.sources == {'rgb': 'synthetic://rgb'}
    assert ds.condition == 'night'  # a default meta key (perception/structures.py)


def test_absent_sensor_is_zeros_and_missing_targets_are_left_out():
    sample = make_sample(16, 20, seed=2, sensors=('thermal', ))
    sample.update(gt_bboxes=None, gt_bboxes_labels=None, gt_depth=None, weather='rain')
    packed = PackMultiSensorInputs(meta_keys=['weather'])(sample)
    inputs, ds = packed['inputs'], packed['data_samples']
    assert inputs['rgb'].shape == (3, 16, 20) and not inputs['rgb'].any()
    assert inputs['depth'].shape == (1, 16, 20) and not inputs['depth'].any()
    assert inputs['modality_mask'].tolist() == [False, True, False]
    assert ds.has_target('seg') and not ds.has_target('det') and not ds.has_target('depth')
    assert ds.weather == 'rain'


def test_empty_but_annotated_boxes_pack_as_zero_instances():
    sample = make_sample(16, 20, seed=3)
    sample.update(gt_bboxes=np.zeros((0, 4), np.float32), gt_bboxes_labels=np.zeros(0, np.int64))
    ds = PackMultiSensorInputs()(sample)['data_samples']
    assert ds.has_target('det') and ds.gt_instances.bboxes.shape == (0, 4)


@pytest.mark.parametrize('key,value,match', [
    ('thermal', np.zeros((15, 20), np.float32), "'thermal'"),
    ('depth', np.zeros((16, 21), np.float32), "'depth'"),
    ('gt_sem_seg', np.zeros((16, 19), np.uint8), 'gt_sem_seg'),
    ('thermal', np.zeros((16, 20), np.float64), 'float32'),
    ('rgb', np.zeros((16, 20), np.uint8), r'\(H, W, 3\)'),
    ('modality_mask', np.array([True, False, True]), "'thermal'.*modality_mask"),
    ('gt_bboxes_labels', None, 'gt_bboxes_labels'),
    ('img_shape', (10, 10), 'img_shape'),
])
def test_bad_samples_raise_sensor_error(key, value, match):
    sample = make_sample(16, 20, seed=4)
    sample[key] = value
    with pytest.raises(SensorError, match=match):
        PackMultiSensorInputs()(sample)


def test_config_built_train_and_test_pipelines():
    init_default_scope('perception')
    train, test = Compose(TRAIN_PIPELINE), Compose(TEST_PIPELINE)
    np.random.seed(0)
    masks = set()
    for seed in range(12):
        packed = train(make_sample(40, 56, seed=seed, condition='day'))
        inputs, ds = packed['inputs'], packed['data_samples']
        assert inputs['rgb'].shape == (3, 32, 48) and inputs['depth'].shape == (1, 32, 48)
        assert ds.gt_sem_seg.data.shape == (1, 32, 48) and inputs['modality_mask'].any()
        assert tuple(inputs['modality_mask'].tolist()) == ds.modality_mask
        assert ds.pad_shape == (32, 48) and ds.img_shape[0] <= 32 and ds.img_shape[1] <= 48
        masks.add(ds.modality_mask)
        boxes = ds.gt_instances.bboxes
        assert ((boxes[:, 2] <= 48) & (boxes[:, 3] <= 32)).all()
    assert len(masks) > 1  # dropout happened
    sample = make_sample(60, 80, seed=0)
    packed = test(copy_sample(sample))
    ds = packed['data_samples']
    assert packed['inputs']['thermal'].shape == (1, 30, 40)
    assert ds.scale_factor == pytest.approx((0.5, 0.5)) and ds.img_shape == (30, 40)
    # targets stay where the metrics score the predictions restored to ori_shape
    assert ds.ori_shape == (60, 80) and ds.gt_sem_seg.data.shape == (1, 60, 80)
    np.testing.assert_array_equal(ds.gt_instances.bboxes.numpy(), sample['gt_bboxes'])
    np.testing.assert_array_equal(ds.gt_depth.data[0].numpy(), sample['gt_depth'])
