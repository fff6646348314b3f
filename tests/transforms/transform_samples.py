"""Decoded samples (docs/contract.md section 1) built for the transform tests.

Built here, not by the dataset loaders, so these tests check the transforms alone. The arrays are
chosen so that a transform's effect can be read back exactly:

* ``gt_sem_seg``: background 0, instance ``i`` painted with class ``i + 1`` as a slit rectangle in its
  own grid cell (no overlap), so the tight box of class ``k`` pixels is instance ``k - 1``'s box.
  Rectangles, because their extreme rows/columns are full: a nearest downscale then moves the tight
  box by < 1 pixel (an ellipse's one-pixel tip may be skipped, which says nothing about the box);
* ``gt_bboxes``: the tight pixel-edge box of each instance, ``gt_bboxes_labels`` = its class;
* ``gt_depth``: every pixel a distinct value that encodes its source index (decode with
  :func:`source_index`), always valid;
* ``depth``: the same encoding with elliptic holes (0), so after any nearest-resampled geometry the
  output depth must equal the source depth at the index that ``gt_depth`` reports.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import cv2
import numpy as np

DEPTH_BASE, DEPTH_STEP = 0.5, 1e-3


def encode_depth(h: int, w: int) -> np.ndarray:
    return (DEPTH_BASE + np.arange(h * w, dtype=np.float64).reshape(h, w) * DEPTH_STEP).astype(
        np.float32)


def source_index(depth: np.ndarray) -> np.ndarray:
    """Flat source index of each encoded depth value (``-1`` where the depth is 0)."""
    idx = np.rint((depth.astype(np.float64) - DEPTH_BASE) / DEPTH_STEP).astype(np.int64)
    return np.where(depth > 0, idx, -1)


def instance_boxes(seg: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Tight xyxy pixel-edge box of the pixels of each label (NaN row where none)."""
    boxes = np.full((len(labels), 4), np.nan, np.float32)
    for i, label in enumerate(labels):
        ys, xs = np.nonzero(seg == label)
        if len(xs):
            boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return boxes


def make_sample(h: int = 48, w: int = 64, grid: tuple = (2, 3), seed: int = 0,
                sensors: tuple = ('rgb', 'thermal', 'depth'), condition: Optional[str] = None
                ) -> Dict[str, Any]:
    rng = np.random.default_rng(seed)
    seg = np.zeros((h, w), np.uint8)
    rows, cols = grid
    cell_h, cell_w = h // rows, w // cols
    labels = []
    for r in range(rows):
        for c in range(cols):
            ax = int(rng.integers(2, max(cell_w // 2 - 1, 3)))
            ay = int(rng.integers(2, max(cell_h // 2 - 1, 3)))
            cx = c * cell_w + cell_w // 2
            cy = r * cell_h + cell_h // 2
            label = len(labels) + 1
            seg[cy - ay:cy + ay + 1, cx - ax:cx + ax + 1] = label
            seg[cy, cx - ax + 1:cx + ax] = 0  # a slit inside: the box is not just the filled area
            labels.append(label)
    labels = np.array(labels, np.int64)
    seg[-2:, :] = 255  # an ignored strip, like unlabelled image borders
    boxes = instance_boxes(seg, labels)
    visible = ~np.isnan(boxes).any(axis=1)  # tiny frames: the ignored strip may cover a blob
    boxes, labels = boxes[visible], labels[visible]
    gt_depth = encode_depth(h, w)
    holes = np.zeros((h, w), np.uint8)
    for _ in range(3):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.ellipse(holes, center, (int(rng.integers(2, 8)), int(rng.integers(2, 8))), 0, 0, 360,
                    1, -1)
    depth = np.where(holes > 0, 0, gt_depth).astype(np.float32)
    sample = dict(
        rgb=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        thermal=rng.random((h, w), dtype=np.float32),
        depth=depth,
        gt_sem_seg=seg,
        gt_bboxes=boxes,
        gt_bboxes_labels=labels,
        gt_depth=gt_depth,
        img_shape=(h, w),
        ori_shape=(h, w),
        sample_idx=seed,
        img_id=f'frame_{seed:04d}',
        sources={'rgb': 'synthetic://rgb'},
    )
    if condition is not None:
        sample['condition'] = condition
    for sensor in ('rgb', 'thermal', 'depth'):
        if sensor not in sensors:
            sample[sensor] = None
    sample['modality_mask'] = np.array([sample[s] is not None for s in ('rgb', 'thermal', 'depth')])
    return sample


def copy_sample(sample: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sample.items()}
