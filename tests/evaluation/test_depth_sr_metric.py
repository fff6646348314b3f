"""DepthSRMetric: centimetres on the protocol's crop, the bicubic baseline from the one shared
resampler, per-frame averaging, the scale checked against the pipeline's, and frames without valid
depth left out -- while MultiTaskMetric's depth figures stay what they were."""
import numpy as np
import pytest

from perception.evaluation import DepthSRMetric, MultiTaskMetric
from perception.sensors.depth_resolution import low_resolution


def _frame(h=64, w=96, seed=0, scale=None):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gt = (1.0 + 0.01 * xx + np.where(xx > rng.integers(20, 70), 1.0, 0.0)).astype(np.float32)
    pred = gt + rng.normal(0, 0.02, gt.shape).astype(np.float32)
    sample = dict(img_id=f'f{seed}', gt_depth={'data': gt[None]}, pred_depth={'data': pred[None]})
    if scale is not None:
        sample['depth_scale'] = scale
    return sample, gt, pred


def _run(metric, samples):
    metric.results.clear()
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def _rmse(a, b):
    return float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.mark.parametrize('scale', [4, 8, 16])
def test_rmse_cm_and_bicubic_baseline_are_per_frame_means(scale):
    frames = [_frame(seed=i) for i in range(3)]
    out = _run(DepthSRMetric(scale=scale, log_tables=False), [f[0] for f in frames])
    model = np.mean([_rmse(p, g) for _, g, p in frames]) * 100
    bicubic = np.mean([_rmse(low_resolution(g, scale).baseline, g) for _, g, _ in frames]) * 100
    assert out['depth/rmse_cm'] == pytest.approx(model, rel=1e-6)
    assert out['bicubic/rmse_cm'] == pytest.approx(bicubic, rel=1e-6)
    assert out['depth/rmse_vs_bicubic'] == pytest.approx(model / bicubic, rel=1e-6)
    assert {'depth/AbsRel', 'depth/delta1', 'bicubic/AbsRel', 'bicubic/delta1'} <= set(out)
    assert out['bicubic/rmse_cm'] > out['depth/rmse_cm'] > 0   # the step edge defeats bicubic


def test_depth_figures_equal_multitask_metric_with_image_average():
    samples = [_frame(seed=i)[0] for i in range(3)]
    sr = _run(DepthSRMetric(scale=8, log_tables=False), samples)
    plain = _run(MultiTaskMetric(tasks=('depth', ), depth_average='image', log_tables=False),
                 samples)
    for key in ('depth/AbsRel', 'depth/RMSE', 'depth/delta1', 'depth/num_samples'):
        assert sr[key] == plain[key]


def test_frames_are_scored_on_the_crop_to_a_multiple_of_the_scale():
    sample, gt, pred = _frame(h=70, w=100, seed=1)
    pred[64:, :] = 100.0    # rows and columns beyond the x16 crop (64 x 96) do not count
    pred[:, 96:] = 100.0
    out = _run(DepthSRMetric(scale=16, log_tables=False), [sample])
    assert out['depth/rmse_cm'] == pytest.approx(_rmse(pred[:64, :96], gt[:64, :96]) * 100,
                                                 rel=1e-6)


def test_scale_comes_from_the_pipeline_and_must_agree_with_the_config():
    sample = _frame(seed=2, scale=8)[0]
    assert _run(DepthSRMetric(log_tables=False), [sample])['bicubic/rmse_cm'] == \
        _run(DepthSRMetric(scale=8, log_tables=False), [sample])['bicubic/rmse_cm']
    with pytest.raises(ValueError, match='x8'):
        _run(DepthSRMetric(scale=4, log_tables=False), [sample])
    with pytest.raises(ValueError, match='needs the scale'):
        _run(DepthSRMetric(log_tables=False), [_frame(seed=2)[0]])


def test_frame_without_valid_depth_adds_nothing():
    good = [_frame(seed=i)[0] for i in range(2)]
    empty, gt, _ = _frame(seed=9)
    empty['gt_depth'] = {'data': np.zeros_like(gt)[None]}
    metric = DepthSRMetric(scale=8, log_tables=False)
    with_empty, without = _run(metric, good + [empty]), _run(metric, good)
    for key in ('depth/rmse_cm', 'bicubic/rmse_cm', 'depth/AbsRel'):
        assert with_empty[key] == without[key]


def test_only_the_depth_task():
    with pytest.raises(ValueError, match='depth task only'):
        DepthSRMetric(scale=4, tasks=('seg', 'depth'))
    with pytest.raises(ValueError, match='integer'):
        DepthSRMetric(scale=3.5)
