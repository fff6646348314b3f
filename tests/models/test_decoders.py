"""Decoders: TaskExpert gates (softmax over experts + memory), levels, balance loss; plain switch."""
import pytest
import torch

from perception.models import PlainDecoder, TaskExpertDecoder, expert_balance_loss

IN_CH = (16, 24, 32, 40)
SIZES = ((16, 20), (8, 10), (4, 5), (2, 3))
OUT_LEVELS = dict(seg=(0, ), det=(1, 2, 3), depth=(0, ))


def _feats(b=2):
    torch.manual_seed(0)
    return [torch.randn(b, c, *hw) for c, hw in zip(IN_CH, SIZES)]


def test_taskexpert_outputs_and_gates():
    dec = TaskExpertDecoder(IN_CH, tasks=('seg', 'det', 'depth'), out_levels=OUT_LEVELS,
                            num_experts=3, gate_channels=8).eval()
    out = dec(_feats())
    assert [tuple(f.shape) for f in out.feats['seg']] == [(2, 16, 16, 20)]
    assert [tuple(f.shape) for f in out.feats['det']] == [
        (2, 24, 8, 10), (2, 32, 4, 5), (2, 40, 2, 3)]
    assert dec.out_channels == dict(seg=(16, ), det=(24, 32, 40), depth=(16, ))
    # det stops at stride 8: no gate at stride 4, the dense tasks have one at every level
    dense = {f'gate_{t}_s{s}' for t in ('seg', 'depth') for s in (4, 8, 16, 32)}
    assert set(out.gates) == dense | {'gate_det_s8', 'gate_det_s16', 'gate_det_s32'}
    for name, g in out.gates.items():
        assert g.shape[1] == 3 + 1, name  # E experts + the task memory
        assert (g >= 0).all()
        torch.testing.assert_close(g.sum(1), torch.ones_like(g[:, 0]))


def test_expert_levels_and_width_are_configurable():
    dec = TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(0, )),
                            channels=(8, 8, 8, 8), num_experts=2, expert_levels=(2, 3))
    out = dec(_feats())
    assert set(out.gates) == {'gate_seg_s16', 'gate_seg_s32'}
    assert out.feats['seg'][0].shape == (2, 8, 16, 20)
    assert set(dec.experts) == {'2', '3'} and len(dec.experts['2']) == 2


def test_balance_loss_values_and_gradient():
    uniform = torch.full((2, 5, 3, 3), 0.2)
    assert float(expert_balance_loss([uniform], num_experts=4)) == pytest.approx(0.0, abs=1e-6)
    collapsed = torch.zeros(2, 5, 3, 3)
    collapsed[:, 1] = 1.0
    assert float(expert_balance_loss([collapsed], num_experts=4)) == pytest.approx(3.0)
    # memory slot is excluded: all weight on memory + uniform rest is still balanced
    logits = torch.randn(2, 5, 3, 3, requires_grad=True)
    expert_balance_loss([logits.softmax(1)], 4).backward()
    assert logits.grad.abs().sum() > 0
    dec = TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(0, )),
                            balance_weight=0.5)
    out = dec(_feats())
    expected = 0.5 * expert_balance_loss(out.gates.values(), dec.num_experts)
    torch.testing.assert_close(dec.aux_loss(out.gates), expected)
    assert TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(0, )),
                             balance_weight=0.0).aux_loss(out.gates) is None


def test_plain_decoder_same_interface_no_gates():
    dec = PlainDecoder(IN_CH, tasks=('seg', 'det', 'depth'), out_levels=OUT_LEVELS)
    out = dec(_feats())
    assert out.gates == {} and dec.aux_loss(out.gates) is None
    assert [f.shape[1] for f in out.feats['det']] == [24, 32, 40]
    assert out.feats['seg'][0] is out.feats['depth'][0]  # one shared map for all tasks


def test_bad_out_levels():
    with pytest.raises(ValueError, match='out_levels'):
        TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(4, )))


def test_mask_aware_routing_follows_the_sensor_combination_and_folds():
    """mask_routing=True: the gates read which sensors are present; two samples with the same
    features but different masks are routed differently, and reparameterize() keeps the outputs."""
    import copy

    from perception.models.layers import reparameterize
    torch.manual_seed(0)
    dec = TaskExpertDecoder(IN_CH, tasks=('seg', 'det'), out_levels=dict(seg=(0, ), det=(1, 2, 3)),
                            num_experts=3, gate_channels=8, mask_routing=True).eval()
    feats = [f[:1].expand(2, -1, -1, -1).contiguous() for f in _feats()]
    mask = torch.tensor([[1., 1., 1.], [1., 0., 1.]])
    with torch.no_grad():
        for m in dec.modules():   # trained-like BN statistics, so folding is not trivial
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
        out = dec(feats, mask)
        fused = reparameterize(copy.deepcopy(dec))(feats, mask)
    g = out.gates['gate_seg_s4']
    assert (g[0] - g[1]).abs().max() > 1e-4          # same features, other sensors: other routing
    assert fused.gates.keys() == out.gates.keys()
    for name in out.gates:
        torch.testing.assert_close(fused.gates[name], out.gates[name], atol=1e-5, rtol=1e-4)
    # the outputs: every task's features at every level, not only the gates (the last level's
    # memory update, for one, reaches the features and no gate)
    assert {t: len(f) for t, f in fused.feats.items()} == {'seg': 1, 'det': 3}
    for task, maps in out.feats.items():
        for level, (ref, got) in enumerate(zip(maps, fused.feats[task])):
            torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4, msg=f'{task}[{level}]')
    with pytest.raises(ValueError, match='modality mask'):
        dec(feats)


def _trained_like_bn(module):
    with torch.no_grad():
        for m in module.modules():   # BN statistics away from the identity, so folding is real
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)


def test_per_task_experts_route_only_among_their_own_experts_and_fold():
    """task_experts: a task's gate gives exactly zero weight to the experts it does not own, the
    others and its memory sum to one; the balance term evens only the owned experts; the fused
    (re-parameterised) decoder gives the same outputs."""
    import copy

    from perception.models.layers import reparameterize
    torch.manual_seed(0)
    own = dict(seg=(0, 1), det=(0, 2), depth=(0, 3))
    dec = TaskExpertDecoder(IN_CH, tasks=('seg', 'det', 'depth'), out_levels=OUT_LEVELS,
                            num_experts=4, gate_channels=8, task_experts=own).eval()
    _trained_like_bn(dec)
    with torch.no_grad():
        out = dec(_feats())
        fused = reparameterize(copy.deepcopy(dec))(_feats())
    for name, g in out.gates.items():
        task = name.split('_')[1]
        others = [e for e in range(4) if e not in own[task]]
        assert float(g[:, others].abs().max()) == 0.0, name
        assert float(g[:, list(own[task]) + [4]].min()) > 0.0, name
        torch.testing.assert_close(g.sum(1), torch.ones_like(g[:, 0]))
    for task, maps in out.feats.items():
        for ref, got in zip(maps, fused.feats[task]):
            torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    # balance: a gate that uses its two experts evenly is balanced although two experts are unused
    even = torch.zeros(1, 5, 2, 2)
    even[:, [0, 1]] = 0.4
    even[:, 4] = 0.2
    dec.balance_weight = 1.0
    assert float(dec.aux_loss({'gate_seg_s4': even})) == pytest.approx(0.0, abs=1e-6)
    skewed = even.clone()
    skewed[:, 0], skewed[:, 1] = 0.8, 0.0
    assert float(dec.aux_loss({'gate_seg_s4': skewed})) == pytest.approx(1.0)


@pytest.mark.parametrize('task_experts, match', [
    (dict(seg=(0, 4)), r"task_experts\['seg'\]"), (dict(seg=()), r"task_experts\['seg'\]"),
    (dict(flow=(0, )), 'flow')])
def test_bad_task_experts_are_refused_with_the_task_named(task_experts, match):
    with pytest.raises(ValueError, match=match):
        TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(0, )), num_experts=4,
                          task_experts=task_experts)


def test_wider_experts_project_back_to_the_level_width_and_fold():
    import copy

    from perception.models.layers import reparameterize
    torch.manual_seed(0)
    dec = TaskExpertDecoder(IN_CH, tasks=('seg', 'det'), out_levels=dict(seg=(0, ), det=(1, 2, 3)),
                            num_experts=2, expert_expansion=3, gate_channels=8).eval()
    bank = dec.experts['0']
    assert bank.conv.conv.out_channels == 2 * 3 * IN_CH[0]
    assert bank.project.conv.groups == 2 and bank.project.conv.out_channels == 2 * IN_CH[0]
    assert TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(0, ))
                             ).experts['0'].project is None   # the default has no projection
    _trained_like_bn(dec)
    with torch.no_grad():
        out = dec(_feats())
        fused = reparameterize(copy.deepcopy(dec))(_feats())
    assert out.feats['seg'][0].shape == (2, IN_CH[0], *SIZES[0])
    for task, maps in out.feats.items():
        for ref, got in zip(maps, fused.feats[task]):
            torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match='expert_expansion'):
        TaskExpertDecoder(IN_CH, tasks=('seg', ), out_levels=dict(seg=(0, )), expert_expansion=0)


def test_a_widened_plain_decoder_gives_its_widths_to_the_heads():
    dec = PlainDecoder(IN_CH, tasks=('seg', 'det'), out_levels=dict(seg=(0, ), det=(1, 2, 3)),
                       channels=(32, 48, 64, 80))
    out = dec(_feats())
    assert dec.out_channels == dict(seg=(32, ), det=(48, 64, 80))
    assert [f.shape[1] for f in out.feats['det']] == [48, 64, 80]
