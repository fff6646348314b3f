"""Depth: hand-computable cases, an independent numpy formula, and mmseg's DepthMetric
(per-image averaging, our ``depth_average='image'``)."""
import math

import numpy as np
import pytest

from perception.evaluation import MultiTaskMetric, depth_stats, depth_summary


def test_hand_computed_case():
    gt = np.array([2.0, 4.0, 0.0, np.nan])      # the 0 and the NaN are holes
    pred = np.array([2.2, 2.0, 5.0, 1.0])
    m = depth_stats(pred, gt).metrics()
    assert m['AbsRel'] == pytest.approx((0.1 + 0.5) / 2)
    assert m['RMSE'] == pytest.approx(math.sqrt((0.2 ** 2 + 2.0 ** 2) / 2))
    assert m['delta1'] == pytest.approx(0.5)    # ratio 1.1 is a hit, 2.0 a miss


def test_perfect_prediction():
    gt = np.array([[1.0, 3.0], [7.5, 0.0]])
    m = depth_summary([depth_stats(gt, gt)])
    assert m == {'AbsRel': 0.0, 'RMSE': 0.0, 'delta1': 1.0}


def test_non_positive_prediction_is_a_miss():
    # max(p/g, g/p) of a negative p is negative (< 1.25): it must not count as a hit
    assert depth_stats(np.array([-2.0, 0.0]), np.array([2.0, 2.0])).delta1_hits == 0


def test_max_depth_and_empty_frames():
    gt = np.array([1.0, 50.0])
    pred = np.array([1.0, 10.0])
    assert depth_stats(pred, gt, max_depth=20.0).metrics()['RMSE'] == 0.0
    empty = depth_stats(pred, np.zeros(2))
    assert empty.num_valid == 0
    assert depth_summary([empty, depth_stats(pred, gt)], 'image') == \
        depth_summary([depth_stats(pred, gt)], 'image')
    assert all(math.isnan(v) for v in depth_summary([empty]).values())


def _independent(frames, max_depth, average):
    """Straight from the definitions, on the concatenated (pixel) or separate (image) valid pixels."""
    per = []
    for f in frames:
        g = f['gt_depth']['data'].numpy().ravel().astype(np.float64)
        p = f['pred_depth']['data'].numpy().ravel().astype(np.float64)
        ok = ~np.isnan(g) & (g > 0) & (g < max_depth)
        per.append((p[ok], g[ok]))

    def metrics(p, g):
        return (np.mean(np.abs(p - g) / g), np.sqrt(np.mean((p - g) ** 2)),
                np.mean(np.maximum(p / g, g / p) < 1.25))

    if average == 'pixel':
        return metrics(np.concatenate([p for p, _ in per]), np.concatenate([g for _, g in per]))
    return tuple(np.mean(v) for v in zip(*(metrics(p, g) for p, g in per)))


def _ours(frames, **kw):
    metric = MultiTaskMetric(tasks=('depth', ), log_tables=False, **kw)
    metric.process(None, frames)
    return metric.evaluate(len(frames))


@pytest.mark.parametrize('average', ['pixel', 'image'])
@pytest.mark.parametrize('max_depth', [None, 8.0])
def test_matches_independent_formula(frames, average, max_depth):
    ours = _ours(frames, depth_average=average, depth_max=max_depth)
    ref = _independent(frames, max_depth or np.inf, average)
    assert ours['depth/num_samples'] == len(frames)
    for key, value in zip(('AbsRel', 'RMSE', 'delta1'), ref):
        assert ours[f'depth/{key}'] == pytest.approx(value, abs=1e-9)
    assert 0.05 < ours['depth/AbsRel'] < 1 and 0.2 < ours['depth/delta1'] < 0.99


def test_matches_mmseg_depth_metric(frames):
    """mmseg's DepthMetric averages per image and computes in float32 (hence the 1e-6 relative)."""
    from mmseg.evaluation import DepthMetric
    peer = DepthMetric(max_depth_eval=8.0)
    peer.process({}, [dict(gt_depth_map=f['gt_depth'], pred_depth_map=f['pred_depth'])
                      for f in frames])
    theirs = peer.compute_metrics(list(peer.results))
    ours = _ours(frames, depth_average='image', depth_max=8.0)
    for ours_key, peer_key in (('AbsRel', 'abs_rel'), ('RMSE', 'rmse'), ('delta1', 'd1')):
        assert ours[f'depth/{ours_key}'] == pytest.approx(theirs[peer_key], rel=1e-6)
