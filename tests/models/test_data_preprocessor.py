"""MultiSensorDataPreprocessor: stacking, padding, normalisation, masking, and input errors."""
import pytest
import torch

from perception.contract import IGNORE_INDEX, NORMALIZATION, SensorError
from perception.models import MultiSensorDataPreprocessor

from model_helpers import make_batch, make_sample


def test_stack_pad_normalise_and_mask():
    a = make_sample(60, 70, seed=1)
    b = make_sample(64, 64, seed=2, mask=(True, False, True))
    a[0]['depth'][0, 5, 5] = float('nan')
    a[0]['depth'][0, 6, 6] = 0.0
    out = MultiSensorDataPreprocessor(size_divisor=32)(make_batch([a, b]))
    x, samples = out['inputs'], out['data_samples']
    assert x['rgb'].shape == (2, 3, 64, 96) and x['thermal'].shape == (2, 1, 64, 96)
    assert x['modality_mask'].dtype == torch.float32
    assert x['modality_mask'].tolist() == [[1, 1, 1], [1, 0, 1]]
    mean = torch.tensor(NORMALIZATION['rgb']['mean']).view(3, 1, 1)
    std = torch.tensor(NORMALIZATION['rgb']['std']).view(3, 1, 1)
    torch.testing.assert_close(x['rgb'][0, :, :60, :70], (a[0]['rgb'] - mean) / std)
    assert x['rgb'][0, :, 60:].abs().max() == 0 and x['rgb'][0, :, :, 70:].abs().max() == 0
    assert x['thermal'][1].abs().max() == 0  # absent sensor: exactly zero after normalisation
    assert x['depth'][0, 0, 5, 5] == 0 and x['depth'][0, 0, 6, 6] == 0  # invalid depth -> 0
    assert torch.isfinite(x['depth']).all()
    seg = samples[0].gt_sem_seg.data
    assert seg.shape == (1, 64, 96) and (seg[:, 60:] == IGNORE_INDEX).all()
    assert (samples[0].gt_depth.data[:, :, 70:] == 0).all()
    assert samples[0].metainfo['pad_shape'] == (64, 96)
    assert samples[0].metainfo['batch_input_shape'] == (64, 96)
    assert samples[0].metainfo['img_shape'] == (60, 70)


def test_custom_normalization_is_used():
    pre = MultiSensorDataPreprocessor(normalization=dict(thermal=dict(mean=(0.0, ), std=(1.0, ))))
    s = make_sample(32, 32)
    out = pre(make_batch([s]))
    torch.testing.assert_close(out['inputs']['thermal'][0], s[0]['thermal'])
    with pytest.raises(KeyError, match='lidar'):
        MultiSensorDataPreprocessor(normalization=dict(lidar=dict(mean=(0, ), std=(1, ))))


def _bad(mutate):
    inputs, sample = make_sample(32, 32)
    sample.set_metainfo(dict(sources=dict(rgb='a.png', thermal='b.png', depth='c.png')))
    mutate(inputs)
    return make_batch([make_sample(32, 32, seed=3), (inputs, sample)])


@pytest.mark.parametrize('mutate, sensor, field, text', [
    (lambda x: x.update(rgb=torch.zeros(1, 32, 32)), 'rgb', 'channels', 'a.png'),
    (lambda x: x.update(thermal=torch.zeros(3, 32, 32)), 'thermal', 'channels', 'b.png'),
    (lambda x: x.update(depth=torch.zeros(1, 32, 30)), 'depth', 'size', 'c.png'),
    (lambda x: x.update(thermal=torch.zeros(32, 32)), 'thermal', 'shape', 'b.png'),
    (lambda x: x.update(modality_mask=torch.tensor([True, False])), 'modality_mask', 'shape',
     '(3,)'),
    (lambda x: x.update(modality_mask=torch.tensor([False, False, False])), 'modality_mask',
     'value', 'at least one present'),
])
def test_bad_input_names_sensor_and_field(mutate, sensor, field, text):
    with pytest.raises(SensorError) as err:
        MultiSensorDataPreprocessor()(_bad(mutate))
    assert err.value.sensor == sensor and err.value.field == field
    assert text in str(err.value) and 'batch sample 1' in str(err.value)


def test_missing_sensor_key_is_reported():
    batch = make_batch([make_sample(32, 32)])
    del batch['inputs']['depth']
    with pytest.raises(SensorError, match="sensor 'depth', field 'tensor'"):
        MultiSensorDataPreprocessor()(batch)
