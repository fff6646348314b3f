"""Random-but-structured frames for the evaluation tests (a helper module, not a test file).

Block-shaped segmentation with noise and ignore pixels; jittered, missed and false boxes (some frames
without gt boxes, some without detections); depth with holes (0 and NaN) and multiplicative noise.
Built as ``MultiTaskDataSample`` and handed on as ``to_dict()``, the form mmengine's Evaluator gives
metrics."""
from typing import List, Optional

import numpy as np
import torch
from mmengine.structures import InstanceData, PixelData

from perception.structures import MultiTaskDataSample

SEG_CLASSES = ('road', 'car', 'person', 'building', 'sky', 'unused')  # 'unused' never occurs
DET_CLASSES = ('car', 'person', 'bike')
H, W = 24, 32
CONDITIONS = ('day', 'night', 'fog')


def _seg_pair(rng: np.random.Generator):
    gt = np.zeros((H, W), np.int64)
    for _ in range(6):  # rectangles of classes 0..3 over a 'road' background
        y0, x0 = rng.integers(0, H - 4), rng.integers(0, W - 4)
        gt[y0:y0 + rng.integers(3, 12), x0:x0 + rng.integers(3, 14)] = rng.integers(0, 4)
    pred = gt.copy()
    flip = rng.random((H, W)) < 0.25
    pred[flip] = rng.integers(0, 5, flip.sum())  # class 4 ('sky') only ever predicted -> IoU 0
    gt[rng.random((H, W)) < 0.1] = 255
    return pred, gt


def _det_pair(rng: np.random.Generator, n_gt: int, with_preds: bool):
    xy = rng.uniform(0, 200, (n_gt, 2))
    wh = rng.uniform(8, 60, (n_gt, 2))
    gt_boxes = np.concatenate([xy, xy + wh], 1)
    gt_labels = rng.integers(0, 2, n_gt)  # 'bike' has no ground truth -> left out of mAP
    if not with_preds:
        return gt_boxes, gt_labels, np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    keep = rng.random(n_gt) > 0.2                              # some misses
    jitter = rng.normal(0, 1.5, (n_gt, 4))
    pred = (gt_boxes + jitter)[keep]
    labels = gt_labels[keep].copy()
    labels[rng.random(len(labels)) < 0.15] = 2                 # some wrong classes
    n_fp = int(rng.integers(0, 3))
    fxy = rng.uniform(0, 200, (n_fp, 2))
    pred = np.concatenate([pred, np.concatenate([fxy, fxy + 20], 1)])
    labels = np.concatenate([labels, rng.integers(0, 3, n_fp)])
    scores = rng.uniform(0.05, 1.0, len(pred))
    return gt_boxes, gt_labels, pred, scores, labels


def _depth_pair(rng: np.random.Generator):
    gt = rng.uniform(0.5, 12.0, (H, W)).astype(np.float32)
    gt[rng.random((H, W)) < 0.1] = 0.0
    gt[rng.random((H, W)) < 0.02] = np.nan
    pred = (np.nan_to_num(gt, nan=5.0) + 0.3) * rng.lognormal(0, 0.2, (H, W))
    return pred.astype(np.float32), gt


def make_sample(rng: np.random.Generator, idx: int, seg=True, det=True, depth=True,
                n_gt: Optional[int] = None, with_preds: bool = True,
                condition: Optional[str] = None, modality_mask=(True, True, True)) -> dict:
    s = MultiTaskDataSample(metainfo=dict(img_id=idx, sample_idx=idx, ori_shape=(H, W),
                                          img_shape=(H, W), modality_mask=tuple(modality_mask),
                                          condition=condition or CONDITIONS[idx % 3]))
    if seg:
        pred, gt = _seg_pair(rng)
        s.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
        s.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    if det:
        n = int(rng.integers(0, 6)) if n_gt is None else n_gt
        gb, gl, pb, ps, pl = _det_pair(rng, n, with_preds)
        s.gt_instances = InstanceData(bboxes=torch.tensor(gb, dtype=torch.float32).reshape(-1, 4),
                                      labels=torch.tensor(gl, dtype=torch.long))
        s.pred_instances = InstanceData(bboxes=torch.tensor(pb, dtype=torch.float32).reshape(-1, 4),
                                        scores=torch.tensor(ps, dtype=torch.float32),
                                        labels=torch.tensor(pl, dtype=torch.long))
    if depth:
        pred, gt = _depth_pair(rng)
        s.gt_depth = PixelData(data=torch.from_numpy(gt)[None])
        s.pred_depth = PixelData(data=torch.from_numpy(pred)[None])
    return s.to_dict()


def default_frames() -> List[dict]:
    """12 frames with all three targets; frame 3 has no gt box, frames 5 and 8 no detections."""
    rng = np.random.default_rng(0)
    return [make_sample(rng, i, n_gt=0 if i == 3 else None, with_preds=i not in (5, 8))
            for i in range(12)]
