"""Models built for the sensors a robot has (``model = dict(sensors=(...))``): no branch, input or
fusion share for the others; every subset of the model's sensors is invariant to the absent ones;
data, training counts and errors follow the declaration."""
import itertools

import pytest
import torch

from perception.contract import SENSORS, ConfigError, SensorError, check_sensors, input_names
from perception.models import dummy_inputs

from model_helpers import initialised_model, make_batch, make_sample, tiny_model_cfg

TWO_SENSOR_MODELS = [('rgb', 'thermal'), ('rgb', 'depth'), ('thermal', 'depth')]


@pytest.fixture(scope='module', params=TWO_SENSOR_MODELS, ids='+'.join)
def two_sensor_model(request):
    return initialised_model(tiny_model_cfg(
        sensors=request.param, sensor_aux=dict(type='SensorAuxHeads', tasks=('seg', 'depth'))))


def _subsets(sensors):
    return [m for m in itertools.product([True, False], repeat=len(sensors)) if any(m)]


def test_two_sensor_model_has_no_part_of_the_third(two_sensor_model):
    model = two_sensor_model
    absent = next(s for s in SENSORS if s not in model.sensors)
    assert tuple(model.encoder.sensors) == model.sensors == tuple(model.fusion.sensors)
    assert absent not in model.encoder.backbones
    three = initialised_model(tiny_model_cfg(sensor_aux=dict(type='SensorAuxHeads',
                                                             tasks=('seg', 'depth'))))
    assert (sum(p.numel() for p in model.parameters())
            < sum(p.numel() for p in three.parameters()))
    assert set(model.sensor_aux.heads) == set(model.sensors)
    out = model.forward_export(*dummy_inputs(64, 64, sensors=model.sensors), return_gates=True)
    assert out['fusion_s4'].shape[1] == 2     # the fusion weighs two sensors


def test_two_sensor_model_every_subset_is_invariant_to_the_absent_sensor(two_sensor_model):
    """For every subset of the model's two sensors: junk (even NaN) in an absent sensor changes no
    output, and junk in a present sensor does change them (the model reads what is there)."""
    model = two_sensor_model
    for mask in _subsets(model.sensors):
        args = list(dummy_inputs(64, 96, batch=2, mask=mask, seed=1, sensors=model.sensors))
        absent, present = list(args), list(args)
        for i, here in enumerate(mask):
            if not here:
                absent[i] = torch.randn_like(args[i]) * 50
                absent[i][1] = float('nan')
        j = mask.index(True)
        present[j] = torch.randn_like(args[j]) * 5
        with torch.no_grad():
            a = model.forward_export(*args, return_gates=True)
            b = model.forward_export(*absent, return_gates=True)
            c = model.forward_export(*present)
        for k in a:
            assert torch.isfinite(b[k]).all(), (mask, k)
            assert (a[k] - b[k]).abs().max() <= 1e-6, (mask, k)
        assert (a['seg_logits'] - c['seg_logits']).abs().max() > 1e-5, mask   # ~0.003 logits


def test_forward_export_takes_exactly_the_model_inputs(two_sensor_model):
    model = two_sensor_model
    with pytest.raises(SensorError, match='3 tensors'):
        model.forward_export(*dummy_inputs(64, 64))          # four: a three-sensor call
    args = dummy_inputs(64, 64, sensors=model.sensors)
    with pytest.raises(SensorError, match='modality_mask'):
        model.forward_export(*args[:-1], torch.ones(1, 3))  # a mask of three columns


@pytest.mark.parametrize('sensors, message', [
    ((), 'non-empty'), (('rgb', 'rgb'), 'without repeats'), (('rgb', 'lidar'), 'unknown'),
    (('thermal', 'rgb'), "write \\('rgb', 'thermal'\\)")])
def test_bad_sensor_declarations_name_the_fix(sensors, message):
    with pytest.raises(ConfigError, match=message):
        check_sensors(sensors, 'model.sensors')
    from perception.models import build_model
    with pytest.raises(ConfigError, match='model.sensors'):
        build_model(tiny_model_cfg(sensors=sensors))


def test_a_part_config_naming_other_sensors_is_refused():
    from perception.models import build_model
    cfg = tiny_model_cfg(sensors=('rgb', 'thermal'))
    cfg['encoder'] = dict(cfg['encoder'], sensors=('rgb', 'thermal', 'depth'))
    with pytest.raises(ConfigError, match='encoder.sensors'):
        build_model(cfg)


def test_overrides_of_sensors_the_model_lacks_are_unused():
    """A base config's ``sensor_overrides=dict(depth=...)`` does not stop a child config from
    building an RGB-thermal model (configs/_base_/models/nano.py has one for depth)."""
    from perception.models import build_model
    cfg = tiny_model_cfg(sensors=('rgb', 'thermal'))
    cfg['encoder'] = dict(cfg['encoder'], sensor_overrides=dict(depth=dict(stem_channels=4)))
    model = build_model(cfg)
    assert set(model.encoder.backbones) == {'rgb', 'thermal'}
    with pytest.raises(KeyError, match='lidar'):
        build_model(dict(cfg, encoder=dict(cfg['encoder'], sensor_overrides=dict(lidar={}))))


def test_data_preprocessor_feeds_only_the_model_sensors_and_counts_training_samples():
    model = initialised_model(tiny_model_cfg(sensors=('rgb', 'thermal'))).train()
    samples = [make_sample(seed=0), make_sample(seed=1, mask=(False, True, True)),
               make_sample(seed=2, mask=(True, False, True))]
    data = model.data_preprocessor(make_batch(samples), True)
    assert set(data['inputs']) == {'rgb', 'thermal', 'modality_mask'}
    assert data['inputs']['modality_mask'].tolist() == [[1, 1], [0, 1], [1, 0]]
    assert model.trained_sensors == ('rgb', 'thermal')      # nothing counted yet: all
    model(**data, mode='loss')
    assert model.seen_counts() == {'rgb': 2, 'thermal': 2}
    model.set_seen_counts({'rgb': 5})
    assert model.trained_sensors == ('rgb', )


def test_a_sample_without_any_model_sensor_is_an_error_naming_it():
    model = initialised_model(tiny_model_cfg(sensors=('rgb', 'thermal')))
    samples = [make_sample(seed=0), make_sample(seed=1, mask=(False, False, True))]
    samples[1][1].set_metainfo(dict(img_id='frame_7'))
    with pytest.raises(SensorError, match=r"frame_7.*has only \['depth'\]"):
        model.data_preprocessor(make_batch(samples), True)


def test_checkpoint_meta_records_the_sensors_seen_and_build_model_reads_them(tmp_path):
    """SensorsSeenHook puts the count in every saved checkpoint; build_model restores it, so a
    three-sensor model trained without depth says so (and export/inference leave depth out)."""
    from types import SimpleNamespace

    from perception.engine.hooks import SensorsSeenHook
    from perception.models import build_model
    cfg = tiny_model_cfg()
    model = initialised_model(cfg)
    model.set_seen_counts({'rgb': 10, 'thermal': 4, 'depth': 0})
    checkpoint = {'state_dict': model.state_dict(), 'meta': {}}
    SensorsSeenHook().before_save_checkpoint(SimpleNamespace(model=model), checkpoint)
    assert checkpoint['meta']['sensors_seen'] == {'rgb': 10, 'thermal': 4, 'depth': 0}
    torch.save(checkpoint, tmp_path / 'ckpt.pth')
    loaded = build_model(cfg, str(tmp_path / 'ckpt.pth'))
    assert loaded.trained_sensors == ('rgb', 'thermal')
    fresh = initialised_model(cfg)
    SensorsSeenHook().after_load_checkpoint(SimpleNamespace(model=fresh), checkpoint)   # resume
    assert fresh.seen_counts() == {'rgb': 10, 'thermal': 4, 'depth': 0}
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'old.pth')
    assert build_model(cfg, str(tmp_path / 'old.pth')).trained_sensors == SENSORS


def test_runner_config_adds_the_hook_once():
    from perception.engine.config import runner_config
    cfg = runner_config('configs/demo/nano_synthetic_demo.py', work_dir='/tmp/unused')
    types = [h['type'] for h in cfg.custom_hooks]
    assert types.count('SensorsSeenHook') == 1 and 'ProgressBarHook' in types


def test_input_names_follow_the_sensors():
    assert input_names(('rgb', 'depth')) == ('rgb', 'depth', 'modality_mask')
