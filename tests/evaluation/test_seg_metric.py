"""Segmentation: hand-computable cases, and the cross-check against mmseg's IoUMetric."""
import math

import numpy as np
import pytest
from eval_frames import SEG_CLASSES

from perception.evaluation import MultiTaskMetric, confusion_matrix, seg_summary


def test_hand_computed_case():
    # ignored pixel (gt 255) is dropped although its prediction is 1
    gt = np.array([[0, 0], [1, 255]])
    pred = np.array([[0, 1], [1, 1]])
    conf = confusion_matrix(pred, gt, 3, 255)
    assert conf.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    m = seg_summary(conf, ('a', 'b', 'c'))
    assert m['IoU.a'] == pytest.approx(0.5)   # tp 1, fn 1
    assert m['IoU.b'] == pytest.approx(0.5)   # tp 1, fp 1
    assert math.isnan(m['IoU.c'])             # absent from gt and prediction -> not averaged
    assert m['mIoU'] == pytest.approx(0.5)
    assert m['aAcc'] == pytest.approx(2 / 3)
    assert m['mAcc'] == pytest.approx(0.75)   # (1/2 + 1/1) / 2


def test_perfect_and_all_wrong():
    gt = np.array([[0, 1, 2], [2, 1, 255]])
    perfect = seg_summary(confusion_matrix(np.where(gt == 255, 0, gt), gt, 3, 255), 'abc')
    assert perfect['mIoU'] == 1.0 and perfect['aAcc'] == 1.0
    wrong = seg_summary(confusion_matrix((gt + 1) % 3, gt, 3, 255), 'abc')
    assert wrong['mIoU'] == 0.0 and wrong['aAcc'] == 0.0


def test_out_of_range_labels_raise():
    with pytest.raises(ValueError, match='seg_classes'):
        confusion_matrix(np.array([[0, 3]]), np.array([[0, 1]]), 3, 255)
    with pytest.raises(ValueError, match='ground truth'):
        confusion_matrix(np.array([[0, 1]]), np.array([[0, 7]]), 3, 255)


def _ours(frames):
    metric = MultiTaskMetric(tasks=('seg', ), seg_classes=SEG_CLASSES, log_tables=False)
    metric.process(None, frames)
    return metric.evaluate(len(frames))


def test_matches_mmseg_iou_metric(frames):
    """Same predictions through mmseg's IoUMetric: process() with SegDataSample-like dicts, then
    its own total_area_to_metrics + nanmean for unrounded values (its compute_metrics rounds to
    0.01 %, compared separately)."""
    from mmseg.evaluation import IoUMetric
    peer = IoUMetric(iou_metrics=['mIoU'], ignore_index=255)
    peer.dataset_meta = dict(classes=SEG_CLASSES)
    peer.process({}, [dict(pred_sem_seg=f['pred_sem_seg'], gt_sem_seg=f['gt_sem_seg'])
                      for f in frames])
    areas = [sum(a) for a in zip(*peer.results)]
    raw = IoUMetric.total_area_to_metrics(*areas, metrics=['mIoU'])
    rounded = peer.compute_metrics(list(peer.results))

    ours = _ours(frames)
    assert ours['seg/num_samples'] == len(frames)
    assert ours['seg/mIoU'] == pytest.approx(np.nanmean(raw['IoU']), abs=1e-6)
    assert ours['seg/aAcc'] == pytest.approx(float(raw['aAcc']), abs=1e-6)
    assert ours['seg/mAcc'] == pytest.approx(np.nanmean(raw['Acc']), abs=1e-6)
    for name, iou in zip(SEG_CLASSES, raw['IoU']):
        if np.isnan(iou):
            assert math.isnan(ours[f'seg/IoU.{name}'])
        else:
            assert ours[f'seg/IoU.{name}'] == pytest.approx(float(iou), abs=1e-6)
    for key in ('mIoU', 'aAcc', 'mAcc'):
        assert round(ours[f'seg/{key}'] * 100, 2) == pytest.approx(rounded[key], abs=1e-9)
    # the data is informative: partial overlap, one class only predicted, one never seen
    assert 0.3 < ours['seg/mIoU'] < 0.95
    assert ours['seg/IoU.sky'] == 0.0 and math.isnan(ours['seg/IoU.unused'])
