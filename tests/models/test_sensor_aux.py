"""Uni-modal auxiliary heads: a loss per sensor and task, only where the sensor is present and the
target exists, gradient into that sensor's encoder only, nothing added to the exported outputs."""
import pytest
import torch

from model_helpers import make_batch, make_sample, tiny_model_cfg

AUX = dict(type='SensorAuxHeads', tasks=('seg', 'depth'), level=1, channels=8, loss_weight=0.5)


def _losses(model, samples):
    data = model.data_preprocessor(make_batch(samples), True)
    return model(data['inputs'], data['data_samples'], mode='loss')


def test_one_loss_per_sensor_and_task(build):
    model = build(sensor_aux=AUX).train()
    losses = _losses(model, [make_sample(seed=i) for i in range(2)])
    names = {k for k in losses if k.startswith('aux_')}
    assert names == {f'aux_{s}_loss_{t}' for s in ('rgb', 'thermal', 'depth')
                     for t in ('seg', 'depth')}
    assert all(float(losses[k].detach()) > 0 for k in names)


def test_absent_sensor_gets_no_aux_loss_and_no_gradient(build):
    model = build(sensor_aux=AUX).train()
    samples = [make_sample(seed=i, mask=(True, False, True)) for i in range(2)]
    losses = _losses(model, samples)
    assert float(losses['aux_thermal_loss_seg']) == 0.0
    assert float(losses['aux_thermal_loss_depth']) == 0.0
    model.zero_grad()
    sum(v for k, v in losses.items() if k.startswith('aux_rgb')).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None
             and p.grad.abs().sum() > 0}
    assert any(n.startswith('encoder.backbones.rgb') for n in grads)
    assert not any(n.startswith(('encoder.backbones.thermal', 'encoder.backbones.depth',
                                 'fusion', 'decoder', 'heads')) for n in grads)


def test_only_samples_with_the_target_count(build):
    """The seg loss of a batch where only one sample has labels equals that sample's alone (eval
    mode, so that BatchNorm does not mix the samples)."""
    model = build(sensor_aux=AUX).eval()
    labelled = make_sample(seed=1)
    unlabelled = make_sample(seed=2, seg=False)
    mixed = _losses(model, [labelled, unlabelled])['aux_rgb_loss_seg']
    alone = _losses(model, [make_sample(seed=1)])['aux_rgb_loss_seg']
    torch.testing.assert_close(mixed, alone, rtol=1e-4, atol=1e-5)


def test_aux_tasks_follow_the_model_and_export_is_unchanged(build):
    model = build(tasks=('det', 'depth'), sensor_aux=AUX).eval()
    assert model.sensor_aux.tasks == ('depth', )
    from perception.models import dummy_inputs
    out = model.forward_export(*dummy_inputs(64, 64))
    assert set(out) == {'det_boxes', 'det_scores', 'depth_pred'}
    assert build(tasks=('det', ), sensor_aux=AUX).sensor_aux is None


def test_bad_aux_config_is_refused():
    from perception.models import build_model
    with pytest.raises(ValueError, match='subset of'):
        build_model(tiny_model_cfg(sensor_aux=dict(AUX, tasks=('det', ))))
