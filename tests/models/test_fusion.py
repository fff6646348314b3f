"""Fusion: masked softmax, absent-sensor invariance for every subset (train and eval), baselines."""
import itertools

import pytest
import torch

from perception.contract import SENSORS
from perception.models import (AttentionFusion, ConcatFusion, GatedConcatFusion, RectifyFusion,
                               SumFusion)
from perception.models.masking import masked_softmax

IN_CH = {'rgb': (8, 12, 16, 20), 'thermal': (6, 10, 12, 16), 'depth': (6, 10, 12, 16)}
SIZES = ((16, 20), (8, 10), (4, 5), (2, 3))
SUBSETS = [m for m in itertools.product([True, False], repeat=3) if any(m)]


def _feats(b, seed):
    g = torch.Generator().manual_seed(seed)
    return {s: [torch.randn(b, c, *hw, generator=g) for c, hw in zip(IN_CH[s], SIZES)]
            for s in SENSORS}


#: the mask-aware fusions: every absent-sensor test runs on each
MASK_AWARE = {'attention': lambda: AttentionFusion(IN_CH, channels=(16, 16, 16, 16),
                                                   cross_attention_levels=(2, 3)),
              'gated_concat': lambda: GatedConcatFusion(IN_CH, channels=(16, 16, 16, 16)),
              'rectify': lambda: RectifyFusion(IN_CH, channels=(16, 16, 16, 16))}


def _fusion(seed=0, kind='attention'):
    torch.manual_seed(seed)
    return MASK_AWARE[kind]()


def test_masked_softmax_exact_zero_and_renormalised():
    logits = torch.randn(4, 3, 5, requires_grad=True)
    present = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]], dtype=torch.bool)
    w = masked_softmax(logits, present[:, :, None], dim=1)
    assert (w[~present] == 0).all()
    torch.testing.assert_close(w.sum(1)[:3], torch.ones(3, 5))
    assert (w[3] == 0).all() and torch.isfinite(w).all()  # nothing present: zeros, not NaN
    ref = torch.softmax(logits[0, [0, 2]], 0)
    torch.testing.assert_close(w[0, [0, 2]], ref)
    w.sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('kind', list(MASK_AWARE))
@pytest.mark.parametrize('train', [False, True], ids=['eval', 'train'])
@pytest.mark.parametrize('mask', SUBSETS, ids=lambda m: '+'.join(s for s, p in zip(SENSORS, m)
                                                                 if p))
def test_absent_sensor_has_no_influence(mask, train, kind):
    """Changing an absent sensor's features (even to NaN) changes no output, in any mode.

    The batch mixes the subset under test with an all-present sample, so BatchNorm statistics in
    train mode are shared with samples where the sensor is present."""
    fusion = _fusion(kind=kind).train(train)
    b = 3
    masks = torch.tensor([mask, (True, True, True), mask], dtype=torch.float32)
    base = _feats(b, seed=1)
    changed = {s: [f.clone() for f in fs] for s, fs in base.items()}
    for i, s in enumerate(SENSORS):
        if not mask[i]:
            for f in changed[s]:
                f[0] = torch.randn_like(f[0]) * 100
                f[2] = float('nan')
    out_a = fusion(base, masks)
    out_b = fusion(changed, masks)
    for a, c in zip(out_a.feats, out_b.feats):
        assert torch.isfinite(c).all()
        assert (a - c).abs().max() <= 1e-6
    for key, w in out_b.weights.items():
        for i in range(len(SENSORS)):
            if not mask[i]:
                assert (w[[0, 2], i] == 0).all(), key
        torch.testing.assert_close(w.sum(1), torch.ones_like(w[:, 0]))


@pytest.mark.parametrize('kind', list(MASK_AWARE))
def test_present_sensor_does_influence(kind):
    """The check above could pass vacuously if fusion ignored inputs: a present sensor matters."""
    fusion = _fusion(kind=kind).eval()
    masks = torch.tensor([[1.0, 0.0, 1.0]])
    base = _feats(1, seed=1)
    changed = {s: [f.clone() for f in fs] for s, fs in base.items()}
    changed['depth'] = [f + 1.0 for f in changed['depth']]
    diff = [(a - c).abs().max() for a, c in
            zip(fusion(base, masks).feats, fusion(changed, masks).feats)]
    assert min(diff) > 1e-3


def test_baselines_shapes_and_not_mask_aware():
    masks = torch.tensor([[1.0, 0.0, 1.0]])
    base = _feats(1, seed=1)
    changed = dict(base, thermal=[f + 1.0 for f in base['thermal']])
    for cls in (ConcatFusion, SumFusion):
        fusion = cls(IN_CH, channels=(16, 24, 32, 40)).eval()
        out = fusion(base, masks)
        assert [tuple(f.shape) for f in out.feats] == [
            (1, c, *hw) for c, hw in zip((16, 24, 32, 40), SIZES)]
        assert out.weights == {}
        # no mask awareness: the absent sensor's features leak into the output
        assert (fusion(changed, masks).feats[0] - out.feats[0]).abs().max() > 1e-3


def test_fusion_rejects_level_mismatch():
    with pytest.raises(ValueError, match='levels'):
        AttentionFusion(IN_CH, channels=(16, 16, 16))
