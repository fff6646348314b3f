"""MultiTaskPerceptor: contract shapes, gradients, absent-sensor invariance, task subsets, loss
masking, learned weighting, predict mode, input errors, and static-shape tracing/export."""
import itertools

import pytest
import torch
from mmengine.structures import InstanceData

from perception.contract import SENSORS, SensorError
from perception.models import dummy_inputs
from perception.models.sensor_inputs import batch_sensor_args

from model_helpers import (DET_CLASSES, SEG_CLASSES, initialised_model, make_batch,
                           make_sample, tiny_model_cfg)

SUBSETS = [m for m in itertools.product([True, False], repeat=3) if any(m)]


def _num_priors(h, w, strides=(8, 16, 32)):
    return sum((h // s) * (w // s) for s in strides)


@pytest.fixture(scope='module')
def model():
    return initialised_model(tiny_model_cfg())


def test_model_declares_its_class_counts(model, monkeypatch):
    """Exporters read the counts from the model; they do not run it to look at output shapes."""
    from perception.apis.config_spec import class_counts
    assert model.num_classes == dict(seg=SEG_CLASSES, det=DET_CLASSES)
    monkeypatch.setattr(model, 'forward_export', None)
    assert class_counts(model, (64, 64)) == dict(seg=SEG_CLASSES, det=DET_CLASSES)


@pytest.mark.parametrize('h, w, b', [(64, 64, 1), (96, 128, 2), (128, 160, 1)])
def test_export_outputs_follow_the_contract(model, h, w, b):
    with torch.no_grad():
        out = model.forward_export(*dummy_inputs(h, w, batch=b))
    assert list(out) == ['seg_logits', 'det_boxes', 'det_scores', 'depth_pred']
    n = _num_priors(h, w)
    assert out['seg_logits'].shape == (b, SEG_CLASSES, h, w)
    assert out['det_boxes'].shape == (b, n, 4) and out['det_scores'].shape == (b, n, DET_CLASSES)
    assert out['depth_pred'].shape == (b, 1, h, w)
    boxes = out['det_boxes']
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()
    assert boxes.min() >= 0 and (boxes[..., 2].max() <= w) and (boxes[..., 3].max() <= h)
    assert ((out['det_scores'] >= 0) & (out['det_scores'] <= 1)).all()
    assert (out['depth_pred'] > 0).all()
    assert model(dict(zip((*SENSORS, 'modality_mask'), dummy_inputs(h, w, batch=b))),
                 mode='tensor').keys() == out.keys()


def test_return_gates(model):
    with torch.no_grad():
        out = model.forward_export(*dummy_inputs(64, 64), return_gates=True)
    gates = {k: v for k, v in out.items() if k.startswith('gate_')}
    assert 'gate_seg_s4' in gates and 'gate_det_s8' in gates and 'gate_det_s4' not in gates
    for g in gates.values():
        torch.testing.assert_close(g.sum(1), torch.ones_like(g[:, 0]))
    assert {f'fusion_s{s}' for s in (4, 8, 16, 32)} <= set(out)


@pytest.fixture(scope='module')
def shipped_nano():
    """The shipped nano architecture (configs/_base_/models/nano.py), random init, eval mode."""
    from perception.models import build_model
    torch.manual_seed(0)
    return build_model('configs/_base_/models/nano.py').eval()


@pytest.fixture(scope='module')
def nano_with_fusion():
    """nano with one of the concatenation-keeping attention fusions in place of its own."""
    from perception.models import build_model, load_config
    built = {}

    def get(fusion):
        if fusion not in built:
            cfg = load_config('configs/_base_/models/nano.py')
            cfg.model.fusion = dict(type=fusion, channels=cfg.model.fusion.channels)
            torch.manual_seed(0)
            built[fusion] = build_model(cfg).eval()
        return built[fusion]
    return get


@pytest.mark.parametrize('which', ['tiny', 'shipped nano', 'nano GatedConcatFusion',
                                   'nano RectifyFusion'])
@pytest.mark.parametrize('mask', SUBSETS, ids=lambda m: '+'.join(s for s, p in zip(SENSORS, m)
                                                                 if p))
def test_absent_sensor_changes_no_output(model, shipped_nano, nano_with_fusion, which, mask):
    model = {'tiny': model, 'shipped nano': shipped_nano}.get(which) or \
        nano_with_fusion(which.split()[-1])
    args = list(dummy_inputs(64, 96, batch=2, mask=mask, seed=1))
    changed = list(args)
    for i, present in enumerate(mask):
        if not present:
            changed[i] = torch.randn_like(args[i]) * 50
            changed[i][1] = float('nan')
    with torch.no_grad():
        a = model.forward_export(*args, return_gates=True)
        b = model.forward_export(*changed, return_gates=True)
    for k in a:
        assert torch.isfinite(b[k]).all(), k
        assert (a[k] - b[k]).abs().max() <= 1e-6, k
    # ... while a present sensor does reach every task's output (a model that ignored its inputs
    # would pass the check above); boxes for det: at init the scores sit at the prior (0.01) and
    # move by ~1e-7 only
    tasks = ('seg_logits', 'det_boxes', 'depth_pred')
    for i, present in enumerate(mask):
        if present:
            other = list(args)
            other[i] = torch.randn_like(args[i]) * 50
            with torch.no_grad():
                c = model.forward_export(*other)
            for k in tasks:
                assert (a[k] - c[k]).abs().max() > 1e-4, (SENSORS[i], k)


def _train_batch(model, samples):
    data = model.data_preprocessor(make_batch(samples), True)
    return data['inputs'], data['data_samples']


def test_every_parameter_gets_a_gradient(build):
    model = build(task_weighting=dict(type='UncertaintyTaskWeighting')).train()
    inputs, samples = _train_batch(model, [make_sample(seed=i) for i in range(2)])
    losses = model(inputs, samples, mode='loss')
    assert {'seg_loss_ce', 'det_loss_cls', 'det_loss_bbox', 'depth_loss_silog', 'depth_loss_l1',
            'loss_balance', 'seg_loss_logvar'} <= set(losses)
    total, log = model.parse_losses(losses)
    total.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    dead = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not dead


@pytest.mark.parametrize('tasks', [('seg', ), ('det', ), ('depth', ), ('seg', 'depth'),
                                   ('det', 'depth')])
def test_task_subsets_build_run_and_use_all_parameters(build, tasks):
    model = build(tasks=tasks).train()
    inputs, samples = _train_batch(model, [make_sample(seed=i) for i in range(2)])
    losses = model(inputs, samples, mode='loss')
    assert {k.split('_')[0] for k in losses if k != 'loss_balance'} == set(tasks)
    model.parse_losses(losses)[0].backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    with torch.no_grad():
        out = model.eval().forward_export(*dummy_inputs(64, 64))
    names = {'seg': {'seg_logits'}, 'det': {'det_boxes', 'det_scores'}, 'depth': {'depth_pred'}}
    assert set(out) == set().union(*(names[t] for t in tasks))


@pytest.mark.parametrize('task, field, keys', [
    ('seg', 'seg', ('seg_loss_ce', )),
    ('det', 'det', ('det_loss_cls', 'det_loss_bbox')),
    ('depth', 'depth', ('depth_loss_silog', 'depth_loss_l1')),
])
def test_sample_without_target_does_not_change_that_loss(model, task, field, keys):
    """Eval mode (no BatchNorm coupling): the batch loss equals the loss of the sample that has
    the target, and the other sample's input gets no gradient from it."""
    with_target = make_sample(seed=0)
    without = make_sample(seed=1, **{field: False})
    inputs, samples = _train_batch(model, [with_target, without])
    for s in SENSORS:
        inputs[s].requires_grad_(True)
    pair = model(inputs, samples, mode='loss')
    alone_inputs, alone_samples = _train_batch(model, [make_sample(seed=0)])
    alone = model(alone_inputs, alone_samples, mode='loss')
    for k in keys:
        torch.testing.assert_close(pair[k], alone[k])
    sum(pair[k] for k in keys).backward()
    assert inputs['rgb'].grad[1].abs().max() == 0
    assert inputs['rgb'].grad[0].abs().max() > 0


def test_batch_without_any_target_gives_connected_zero(build):
    model = build().train()
    inputs, samples = _train_batch(model, [make_sample(seed=i, det=False) for i in range(2)])
    losses = model(inputs, samples, mode='loss')
    assert float(losses['det_loss_cls'].detach()) == 0.0
    assert losses['det_loss_cls'].requires_grad
    model.parse_losses(losses)[0].backward()
    head = model.heads['det']
    assert all(p.grad is not None for p in head.parameters())


def test_annotated_image_without_objects_still_trains_the_classifier(build):
    """gt_instances with 0 boxes means 'annotated, nothing there': negatives only, not skipped."""
    model = build().train()
    inputs, samples = _train_batch(model, [make_sample(seed=0)])
    samples[0].gt_instances = InstanceData(bboxes=torch.zeros(0, 4),
                                           labels=torch.zeros(0, dtype=torch.long))
    losses = model(inputs, samples, mode='loss')
    assert float(losses['det_loss_cls'].detach()) > 0
    assert float(losses['det_loss_bbox'].detach()) == 0


def test_uncertainty_weighting_scales_task_losses(build):
    fixed = build().eval()
    learned = build(task_weighting=dict(type='UncertaintyTaskWeighting')).eval()
    learned.load_state_dict(fixed.state_dict(), strict=False)
    with torch.no_grad():
        learned.task_weighting.log_vars['depth'].fill_(torch.log(torch.tensor(4.0)))
    inputs, samples = _train_batch(fixed, [make_sample(seed=0)])
    a = fixed(inputs, samples, mode='loss')
    b = learned(inputs, samples, mode='loss')
    torch.testing.assert_close(b['depth_loss_silog'], a['depth_loss_silog'] / 4)
    torch.testing.assert_close(b['seg_loss_ce'], a['seg_loss_ce'])
    assert 'depth_loss_logvar' in b and 'depth_loss_logvar' not in a


def test_predict_fills_fields_in_original_coordinates(model, monkeypatch):
    monkeypatch.setitem(model.heads['det'].nms, 'score_thr', 0.0)  # untrained: scores ~ 0.01
    sample = make_sample(64, 64, seed=0, ori_shape=(128, 100), scale_factor=(100 / 64, 2.0))
    data = model.data_preprocessor(make_batch([sample]), False)
    with torch.no_grad():
        [res] = model(**data, mode='predict')
        raw = model.forward_export(*batch_sensor_args(data['inputs']))
    assert res.pred_sem_seg.data.shape == (1, 128, 100)
    assert res.seg_logits.data.shape == (SEG_CLASSES, 128, 100)
    assert res.pred_depth.data.shape == (1, 128, 100)
    inst = res.pred_instances
    assert len(inst) > 0 and inst.bboxes.shape[1] == 4
    assert inst.bboxes[:, 2].max() <= 100 and inst.bboxes[:, 3].max() <= 128
    # the best box is the best raw candidate, rescaled by 1 / scale_factor
    flat = raw['det_scores'][0].reshape(-1)
    best = raw['det_boxes'][0, int(flat.argmax()) // DET_CLASSES]
    expected = best / torch.tensor([100 / 64, 2.0, 100 / 64, 2.0])
    torch.testing.assert_close(inst.bboxes[0], expected.clamp(max=100).minimum(
        torch.tensor([100., 128., 100., 128.])))
    assert inst.scores[0] == flat.max()


@pytest.mark.parametrize('key, value, sensor, field', [
    ('rgb', torch.zeros(1, 1, 64, 64), 'rgb', 'channels'),
    ('depth', torch.zeros(1, 1, 64, 32), 'depth', 'size'),
    ('modality_mask', torch.ones(1, 4), 'modality_mask', 'shape'),
    ('modality_mask', torch.zeros(1, 3), 'modality_mask', 'value'),
])
def test_bad_model_input_raises_sensor_error(model, key, value, sensor, field):
    inputs = dict(zip((*SENSORS, 'modality_mask'), dummy_inputs(64, 64)))
    inputs[key] = value
    with pytest.raises(SensorError) as err:
        model(inputs, mode='tensor')
    assert err.value.sensor == sensor and err.value.field == field
    if field != 'value':  # the export path checks shapes (static), not mask values
        with pytest.raises(SensorError):
            model.forward_export(*(inputs[k] for k in (*SENSORS, 'modality_mask')))


def test_baseline_switches_build_and_run(build):
    model = build(fusion=dict(type='ConcatFusion', channels=(16, 16, 16, 16)),
                  decoder=dict(type='PlainDecoder')).eval()
    with torch.no_grad():
        out = model.forward_export(*dummy_inputs(64, 64), return_gates=True)
    assert not any(k.startswith(('gate_', 'fusion_')) for k in out)
    inputs, samples = _train_batch(model, [make_sample(seed=0)])
    assert 'loss_balance' not in model(inputs, samples, mode='loss')


def test_fcos_head_through_the_same_adapter(build):
    """Any mmdet dense head with a prior generator and box coder works: FCOS (with centerness)."""
    fcos = dict(type='mmdet.FCOSHead', feat_channels=16, stacked_convs=1, strides=[8, 16, 32],
                norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
                regress_ranges=((-1, 32), (32, 64), (64, 1e8)), norm_on_bbox=True,
                centerness_on_reg=True, center_sampling=True,
                loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25),
                loss_bbox=dict(type='GIoULoss'),
                loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True))
    cfg = tiny_model_cfg(tasks=('det', ))
    cfg['heads']['det']['head'] = fcos
    model = build(cfg).train()
    inputs, samples = _train_batch(model, [make_sample(seed=0)])
    losses = model(inputs, samples, mode='loss')
    assert {'det_loss_cls', 'det_loss_bbox', 'det_loss_centerness'} <= set(losses)
    with torch.no_grad():
        out = model.eval().forward_export(*dummy_inputs(64, 64))
    assert out['det_scores'].shape == (1, _num_priors(64, 64), DET_CLASSES)


class _Export(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, rgb, thermal, depth, modality_mask):
        return self.model.forward_export(rgb, thermal, depth, modality_mask)


def test_jit_trace_and_torch_export_static_shapes(model):
    args = dummy_inputs(64, 96, batch=1, mask=(True, False, True))
    wrapper = _Export(model).eval()
    with torch.no_grad():
        ref = wrapper(*args)
        traced = torch.jit.trace(wrapper, args, strict=False, check_trace=False)
        other = dummy_inputs(64, 96, batch=1, mask=(False, True, True), seed=5)
        for k, v in traced(*other).items():  # no data-dependent branch was baked in
            torch.testing.assert_close(v, wrapper(*other)[k])
        exported = torch.export.export(wrapper, args, strict=False).module()
        for k, v in exported(*args).items():
            torch.testing.assert_close(v, ref[k])
