"""Trivial baselines: constants fitted on training targets, scored by the same metric."""
import math

import numpy as np
import pytest
from eval_frames import DET_CLASSES, SEG_CLASSES, make_sample

from perception.evaluation import MultiTaskMetric, TrivialBaseline, evaluate_baseline


def test_fit_on_decoded_training_samples():
    """Decoded samples (docs/contract.md section 1) hold bare (H, W) arrays; None = no target."""
    train = [
        dict(gt_sem_seg=np.array([[1, 1], [2, 255]], np.uint8), gt_depth=np.array([[2.0, 0.0]])),
        dict(gt_sem_seg=np.array([[2, 2], [2, 0]], np.uint8), gt_depth=None),
        dict(gt_sem_seg=None, gt_depth=np.array([[4.0, np.nan, 6.0]])),
    ]
    base = TrivialBaseline.fit(train, num_seg_classes=3)
    assert base.majority_class == 2          # 4 pixels of class 2, 2 of class 1, ignore dropped
    assert base.mean_depth == pytest.approx(4.0)  # (2 + 4 + 6) / 3, holes dropped
    assert TrivialBaseline.fit([dict(gt_sem_seg=None)], 3) == TrivialBaseline(None, None)


def test_baseline_scores_hand_computed():
    gt = np.array([[0, 0, 0], [1, 1, 255]])
    frame = dict(gt_sem_seg=dict(data=gt[None]), gt_depth=dict(data=np.array([[[2.0, 4.0]]])),
                 gt_instances=dict(bboxes=np.array([[0, 0, 5, 5.]]), labels=np.array([0])))
    metric = MultiTaskMetric(seg_classes=('a', 'b'), det_classes=('x', ), log_tables=False)
    out = evaluate_baseline(TrivialBaseline(majority_class=0, mean_depth=3.0), [frame], metric)
    assert out['seg/mIoU'] == pytest.approx((3 / 5 + 0) / 2)  # class a: tp 3, fp 2; class b: 0
    assert out['seg/aAcc'] == pytest.approx(3 / 5)
    assert out['det/mAP'] == 0.0 and out['det/mAP_50'] == 0.0   # computed by COCOeval, not assumed
    assert out['depth/AbsRel'] == pytest.approx((0.5 + 0.25) / 2)
    assert out['depth/RMSE'] == pytest.approx(1.0)
    assert out['depth/delta1'] == 0.0                          # ratios 1.5 and 1.33


def test_model_predictions_beat_the_baselines(frames):
    """The fixture's noisy predictions must clear every baseline: the comparison the demo prints."""
    rng = np.random.default_rng(5)
    train = [make_sample(rng, 100 + i) for i in range(6)]
    base = TrivialBaseline.fit(train, len(SEG_CLASSES))
    assert base.majority_class == 0  # 'road' background dominates the blocks
    metric = MultiTaskMetric(seg_classes=SEG_CLASSES, det_classes=DET_CLASSES, log_tables=False)
    baseline = evaluate_baseline(base, frames, metric)
    metric.process(None, frames)
    model = metric.evaluate(len(frames))
    assert model['seg/mIoU'] > baseline['seg/mIoU'] + 0.2
    assert model['det/mAP'] > baseline['det/mAP'] == 0.0
    assert model['depth/AbsRel'] < baseline['depth/AbsRel']
    assert model['depth/delta1'] > baseline['depth/delta1']
    assert not math.isnan(baseline['depth/RMSE'])


def test_missing_constant_is_reported():
    frame = dict(gt_depth=dict(data=np.ones((1, 2, 2))))
    with pytest.raises(ValueError, match='mean_depth'):
        TrivialBaseline(majority_class=0, mean_depth=None).predict(frame)
