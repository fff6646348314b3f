"""Distillation from the all-sensor pass to sensor-subset passes: which subsets are drawn, terms
that are 0 exactly when the student agrees, gradient only into the student pass, nothing
exported."""
import pytest
import torch

from model_helpers import make_batch, make_sample, tiny_model_cfg
from perception.models.losses import SubsetDistillation, strict_subsets

DISTILL = dict(type='SubsetDistillation')


def test_strict_subsets_are_non_empty_strict_and_evenly_drawn():
    present = torch.tensor([[True, True, True], [True, False, True], [False, True, False]])
    g = torch.Generator().manual_seed(0)
    seen = {0: [], 1: []}
    for _ in range(1200):
        student, rows = strict_subsets(present, generator=g)
        assert rows.tolist() == [True, True, False]
        assert student[2].tolist() == [False, True, False]      # one sensor: kept as it is
        for i in (0, 1):
            assert bool(student[i].any()) and not torch.equal(student[i], present[i])
            assert not bool((student[i] & ~present[i]).any())   # never a sensor it lacks
            seen[i].append(tuple(student[i].tolist()))
    # three sensors: the 6 strict non-empty subsets; two sensors: the 2 single ones; evenly
    for i, n in ((0, 6), (1, 2)):
        counts = {k: seen[i].count(k) for k in set(seen[i])}
        assert len(counts) == n
        assert min(counts.values()) > 0.7 * 1200 / n, counts


def _raw(seed, b=2):
    g = torch.Generator().manual_seed(seed)
    return dict(seg=torch.randn(b, 5, 8, 8, generator=g),
                det=([torch.randn(b, 3, 8, 8, generator=g), torch.randn(b, 3, 4, 4, generator=g)],
                     [torch.randn(b, 4, 8, 8, generator=g), torch.randn(b, 4, 4, 4, generator=g)]),
                depth=torch.rand(b, 1, 8, 8, generator=g) * 10 + 0.5)


def test_each_term_is_zero_when_the_student_agrees_and_positive_otherwise():
    distill = SubsetDistillation(temperature=2.0)
    teacher = _raw(0)
    same = distill.loss(teacher, _raw(0))
    assert set(same) == {'distill_loss_seg', 'distill_loss_det', 'distill_loss_depth'}
    for name, value in same.items():
        assert float(value) == pytest.approx(0.0, abs=1e-6), name
    other = distill.loss(teacher, _raw(1))
    assert all(float(v) > 1e-3 for v in other.values()), other


def test_the_gradient_reaches_the_student_only():
    distill = SubsetDistillation()
    teacher, student = _raw(0), _raw(1)
    for raw in (teacher, student):
        raw['seg'].requires_grad_(True)
        raw['depth'].requires_grad_(True)
        for t in raw['det'][0]:
            t.requires_grad_(True)
    sum(distill.loss(teacher, student).values()).backward()
    assert teacher['seg'].grad is None and teacher['depth'].grad is None
    assert all(t.grad is None for t in teacher['det'][0])
    assert student['seg'].grad.abs().sum() > 0 and student['depth'].grad.abs().sum() > 0
    assert all(t.grad.abs().sum() > 0 for t in student['det'][0])


def _losses(model, samples):
    data = model.data_preprocessor(make_batch(samples), True)
    return model(data['inputs'], data['data_samples'], mode='loss')


def test_the_model_adds_one_term_per_task_and_exports_the_same_graph(build):
    torch.manual_seed(0)
    model = build(subset_distillation=DISTILL).train()
    samples = [make_sample(seed=0), make_sample(seed=1, mask=(True, False, True)),
               make_sample(seed=2, mask=(False, False, True))]
    losses = _losses(model, samples)
    names = {k for k in losses if k.startswith('distill_')}
    assert names == {'distill_loss_seg', 'distill_loss_det', 'distill_loss_depth'}
    assert all(torch.isfinite(losses[k]) and float(losses[k].detach()) >= 0 for k in names)
    sum(losses[k] for k in names).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in model.named_parameters() if n.startswith('encoder'))
    # training only: same parameters and exported outputs as the model without it
    plain = build()
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in plain.named_parameters()]
    plain.load_state_dict(model.state_dict())
    from perception.models import dummy_inputs
    inputs = dummy_inputs(64, 64)
    with torch.no_grad():
        a, b = model.eval().forward_export(*inputs), plain.eval().forward_export(*inputs)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_single_sensor_batches_get_zero_terms_and_tasks_follow_the_model(build):
    model = build(tasks=('seg', 'depth'), subset_distillation=DISTILL).train()
    assert model.subset_distillation.tasks == ('seg', 'depth')
    losses = _losses(model, [make_sample(seed=i, mask=m) for i, m in
                             enumerate(((True, False, False), (False, False, True)))])
    assert {k: float(v) for k, v in losses.items() if k.startswith('distill_')} == {
        'distill_loss_seg': 0.0, 'distill_loss_depth': 0.0}
    assert build(tasks=('det', ), subset_distillation=dict(DISTILL, tasks=('seg', ))
                 ).subset_distillation is None


@pytest.mark.parametrize('bad, match', [(dict(tasks=('flow', )), 'subset of'),
                                        (dict(tasks=()), 'subset of'),
                                        (dict(temperature=0.0), 'temperature')])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        SubsetDistillation(**bad)
    from perception.models import build_model
    with pytest.raises(ValueError, match=match):
        build_model(tiny_model_cfg(subset_distillation=dict(DISTILL, **bad)))

