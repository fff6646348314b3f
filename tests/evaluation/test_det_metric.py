"""Detection: hand-computable COCO cases, and the cross-check against mmdet's CocoMetric and a direct
pycocotools run on COCO json files written to disk."""
import contextlib
import io
import json
import math

import numpy as np
import pytest
import torch
from eval_frames import DET_CLASSES

from perception.evaluation import DetRecord, MultiTaskMetric, coco_map

CLS = ('a', 'b')


def rec(gt, gl, pred=(), scores=(), labels=()):
    return DetRecord.create(gt, gl, pred, scores, labels)


def test_perfect_prediction_is_one():
    boxes = [[10, 10, 50, 40], [60, 5, 90, 95]]
    m = coco_map([rec(boxes, [0, 1], boxes, [0.9, 0.8], [0, 1]), rec([], [])], CLS)
    assert m == pytest.approx({'mAP': 1.0, 'mAP_50': 1.0, 'mAP_75': 1.0})  # mean of 1s: 1 - 2e-16


def test_all_wrong_is_zero():
    gt = [[10, 10, 50, 40]]
    displaced = coco_map([rec(gt, [0], [[60, 60, 90, 90]], [0.9], [0])], CLS)
    wrong_class = coco_map([rec(gt, [0], gt, [0.9], [1])], CLS)
    assert displaced['mAP'] == 0.0 and wrong_class['mAP'] == 0.0 and wrong_class['mAP_50'] == 0.0


def test_box_format_is_xyxy():
    # gt 10x10 at (10, 10); prediction 10x7.2 at the same corner: IoU 0.72 -> matched at the
    # thresholds 0.50..0.70 (5 of 10). Read as xywh the pair would overlap 0.86 instead (mAP 0.8).
    m = coco_map([rec([[10, 10, 20, 20]], [0], [[10, 10, 20, 17.2]], [0.9], [0])], CLS)
    assert m['mAP'] == pytest.approx(0.5)
    assert m['mAP_50'] == pytest.approx(1.0) and m['mAP_75'] == 0.0


def test_frame_without_gt_counts_its_detections():
    gt = [[10, 10, 50, 40]]
    hit = rec(gt, [0], gt, [0.9], [0])
    # a higher-scored false positive on an annotated empty frame: precision 1/2 at recall 1
    assert coco_map([hit, rec([], [], gt, [0.95], [0])], CLS)['mAP'] == pytest.approx(0.5)
    # scored below the hit, it does not lower the interpolated precision
    assert coco_map([hit, rec([], [], gt, [0.5], [0])], CLS)['mAP'] == pytest.approx(1.0)


def test_no_detections_scores_zero_and_no_gt_is_undefined():
    gt = [[10, 10, 50, 40]]
    assert coco_map([rec(gt, [0]), rec([], [])], CLS) == {'mAP': 0.0, 'mAP_50': 0.0,
                                                          'mAP_75': 0.0}
    assert all(math.isnan(v) for v in coco_map([rec([], [], gt, [0.9], [0])], CLS).values())
    assert all(math.isnan(v) for v in coco_map([], CLS).values())


def test_labels_out_of_range_raise():
    with pytest.raises(ValueError, match='det_classes'):
        coco_map([rec([[0, 0, 5, 5]], [2])], CLS)


def _ours(frames, classwise=False):
    metric = MultiTaskMetric(tasks=('det', ), det_classes=DET_CLASSES, det_classwise=classwise,
                             log_tables=False)
    metric.process(None, frames)
    return metric.evaluate(len(frames))


def _mmdet_samples(frames):
    """CocoMetric wants gt as mmdet's `instances` list (xyxy, bbox_label) and an int img_id."""
    out = []
    for f in frames:
        gt = f['gt_instances']
        out.append(dict(img_id=f['img_id'], ori_shape=f['ori_shape'],
                        pred_instances=f['pred_instances'],
                        instances=[dict(bbox=b.tolist(), bbox_label=int(lbl), ignore_flag=0)
                                   for b, lbl in zip(gt['bboxes'], gt['labels'])]))
    return out


def test_matches_mmdet_coco_metric_and_pycocotools(frames, tmp_path):
    from mmdet.evaluation import CocoMetric
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    n_gt = [len(f['gt_instances']['labels']) for f in frames]
    n_pred = [len(f['pred_instances']['labels']) for f in frames]
    assert 0 in n_gt and 0 in n_pred and max(n_pred) < 100  # the structure the test relies on

    peer = CocoMetric(ann_file=None, metric='bbox', classwise=True,
                      outfile_prefix=str(tmp_path / 'mmdet'))
    peer.dataset_meta = dict(classes=DET_CLASSES)
    peer.process({}, _mmdet_samples(frames))
    peer_rounded = peer.compute_metrics(list(peer.results))

    # mmdet wrote the gt and detections as COCO json: evaluate those files with pycocotools directly
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(tmp_path / 'mmdet.gt.json'))
        dets = json.loads((tmp_path / 'mmdet.bbox.json').read_text())
        ev = COCOeval(coco_gt, coco_gt.loadRes(dets), 'bbox')
        ev.evaluate(), ev.accumulate(), ev.summarize()

    ours = _ours(frames, classwise=True)
    assert ours['det/num_samples'] == len(frames)
    for key, idx in (('mAP', 0), ('mAP_50', 1), ('mAP_75', 2)):
        assert ours[f'det/{key}'] == pytest.approx(ev.stats[idx], abs=1e-6)
        assert round(ours[f'det/{key}'], 3) == pytest.approx(peer_rounded[f'bbox_{key}'], abs=1e-9)
    for name in DET_CLASSES:
        ap = ours[f'det/AP.{name}']
        assert (math.isnan(ap) and math.isnan(peer_rounded[f'{name}_precision'])) or \
            round(ap, 3) == pytest.approx(peer_rounded[f'{name}_precision'], abs=1e-9)
    assert math.isnan(ours['det/AP.bike'])  # no ground truth for 'bike' anywhere
    assert 0.2 < ours['det/mAP'] < 0.95     # informative: neither trivial nor perfect


def test_zero_score_slots_are_not_detections():
    """Static-shape outputs pad with score 0; the padding must not become false positives."""
    box = torch.tensor([[10., 10., 50., 40.]])
    frame = dict(img_id=0,
                 gt_instances=dict(bboxes=box, labels=torch.tensor([0])),
                 pred_instances=dict(bboxes=torch.cat([box, torch.zeros(3, 4)]),
                                     scores=torch.tensor([0.9, 0., 0., 0.]),
                                     labels=torch.tensor([0, 0, 0, 0])))
    metric = MultiTaskMetric(tasks=('det', ), det_classes=CLS, log_tables=False)
    stats = metric.frame_stats(frame)
    assert len(stats.det.pred_scores) == 1
    assert np.array_equal(stats.det.pred_bboxes, box.numpy())


def _pycocotools_class_ap50(frames, class_index):
    """AP at IoU 0.5 of one class, by pycocotools alone (COCOeval restricted to that category)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    images, anns, dets = [], [], []
    for i, f in enumerate(frames):
        images.append(dict(id=i, width=200, height=200))
        gt = f['gt_instances']
        for b, lbl in zip(gt['bboxes'].tolist(), gt['labels'].tolist()):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=int(lbl), iscrowd=0,
                             bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                             area=(b[2] - b[0]) * (b[3] - b[1])))
        p = f['pred_instances']
        for b, s, lbl in zip(p['bboxes'].tolist(), p['scores'].tolist(), p['labels'].tolist()):
            dets.append(dict(image_id=i, category_id=int(lbl), score=s,
                             bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]]))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dict(images=images, annotations=anns,
                            categories=[dict(id=k, name=n) for k, n in enumerate(DET_CLASSES)])
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), 'bbox')
        ev.params.catIds = [class_index]
        ev.params.iouThrs = np.array([0.5])
        ev.evaluate(), ev.accumulate(), ev.summarize()
    return ev.stats[0]


def test_per_class_ap50_overall_and_per_group_match_pycocotools(frames):
    """``det/<class>/AP_50`` (the question "how well are people found") overall and per group
    (``@night``/``@day``), each equal to pycocotools run on those frames and that class alone."""
    frames = [dict(f, condition='night' if i % 2 else 'day') for i, f in enumerate(frames)]
    metric = MultiTaskMetric(tasks=('det', ), det_classes=DET_CLASSES, det_classwise=True,
                             group_by=('condition', ), log_tables=False)
    metric.process(None, frames)
    ours = metric.evaluate(len(frames))
    checked = 0
    for k, name in enumerate(DET_CLASSES):
        for label, subset in (('', frames), ('@night', frames[1::2]), ('@day', frames[0::2])):
            value = ours[f'det/{name}/AP_50{label}']
            if any(k in f['gt_instances']['labels'].tolist() for f in subset):
                assert value == pytest.approx(_pycocotools_class_ap50(subset, k), abs=1e-9)
                checked += 1
            else:
                assert math.isnan(value)
    assert checked >= 4
