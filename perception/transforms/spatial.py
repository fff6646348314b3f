"""Apply one geometric albumentations op identically to every sensor and target of a sample.

This is the single place that knows how each key of a decoded sample maps onto albumentations
targets, so every geometric transform (resize, crop, flip) treats the sensors the same way:

* ``rgb``, ``thermal``: ``image`` targets, interpolated with the op's ``interpolation`` (linear);
* ``gt_sem_seg``: ``mask`` target, nearest -- labels must never be blended;
* ``depth``, ``gt_depth``: nearest (``mask`` target) or *validity-aware* (``'valid'``): the op
  resamples ``depth * valid`` and ``valid`` as images, and an output pixel is kept only where the
  resampled ``valid`` is complete (every source pixel that contributed was valid). Depth is never
  blended with a hole. ``'valid'`` still averages valid neighbours across an object edge (a
  "flying pixel" between foreground and background), which nearest never does -- hence the default;
* ``gt_bboxes`` (+ ``gt_bboxes_labels`` and other per-box keys): ``bboxes`` in ``pascal_voc``
  (xyxy pixels). Boxes are clipped to the image; boxes that leave it, or get smaller than
  ``min_box_size`` pixels, are dropped together with their per-box entries.

Targets left in the original frame by ``Resize(resize_targets=False)`` (test pipelines) and the
padding of ``Pad`` (kept at the bottom/right) are the two exceptions handled here as well.

Callers sample the op's parameters from numpy's global RNG and hand a deterministic op (p=1) to
:func:`apply_spatial`, so pipelines are seedable like every other mmcv transform.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import albumentations as A
import cv2
import numpy as np

from perception.contract import IGNORE_INDEX, SensorError

from .sample_checks import (GT_AT_ORI_SHAPE, PER_BOX_KEYS, TARGET, check_sample,
                            targets_follow_frame)

IMAGE_KEYS: Tuple[str, ...] = ('rgb', 'thermal')
DEPTH_KEYS: Tuple[str, ...] = ('depth', 'gt_depth')
#: Value given to pixels that a padding op creates: black, cold, invalid depth, ignored label.
PAD_VALUES: Dict[str, float] = {'rgb': 0, 'thermal': 0.0, 'depth': 0.0, 'gt_depth': 0.0,
                                'gt_sem_seg': IGNORE_INDEX}
#: Interpolations whose weights are non-negative and sum to one: with them, a complete resampled
#: ``valid`` weight proves that every contributing source pixel was valid.
INTERPOLATIONS: Dict[str, int] = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
                                  'area': cv2.INTER_AREA}
DEPTH_MODES: Tuple[str, ...] = ('nearest', 'valid')
# The resampled validity of a pixel whose neighbours were all valid is 1 up to float rounding.
_COMPLETE = 1.0 - 1e-4
_NUM, _VALID = '__num', '__valid'


def interpolation_flag(name: str) -> int:
    """OpenCV flag of an interpolation name (a config-friendly string)."""
    if name not in INTERPOLATIONS:
        raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, got {name!r}')
    return INTERPOLATIONS[name]


def check_depth_mode(mode: str) -> str:
    if mode not in DEPTH_MODES:
        raise ValueError(f'depth_interpolation must be one of {DEPTH_MODES}, got {mode!r}')
    return mode


def _seg_as_uint8(seg: np.ndarray) -> np.ndarray:
    # OpenCV cannot resample int64; labels fit in uint8 by contract (IGNORE_INDEX = 255).
    if seg.dtype == np.uint8:
        return seg
    if seg.size and (seg.min() < 0 or seg.max() > 255):
        raise SensorError(TARGET, 'gt_sem_seg', 'class ids in 0..255 (255 = ignore)',
                          f'range {seg.min()}..{seg.max()}')
    return seg.astype(np.uint8)


def frame_keys(results: Dict[str, Any]) -> Tuple[str, ...]:
    """Present dense keys that move with the image frame: the sensors, and the targets unless
    they were left in the original frame (``gt_at_ori_shape``, test pipelines)."""
    keys = IMAGE_KEYS + ('depth', ) + (('gt_sem_seg', 'gt_depth') if targets_follow_frame(results)
                                       else ())
    return tuple(k for k in keys if results.get(k) is not None)


def leave_targets_in_original_frame(results: Dict[str, Any]) -> None:
    """From now on geometric transforms move the sensors only (test pipelines: metrics score
    predictions restored to ``ori_shape`` against targets in the original frame)."""
    if not targets_follow_frame(results):
        return
    hw, ori = check_sample(results), results.get('ori_shape')
    if ori is None or tuple(ori[:2]) != hw or results.get('flip') or 'crop_bbox' in results:
        raise SensorError(TARGET, 'frame', 'targets still in the original frame (ori_shape '
                          f'{ori}): resize_targets=False must come before other geometric transforms',
                          f'frame {hw}')
    results[GT_AT_ORI_SHAPE] = True


def apply_spatial(results: Dict[str, Any], op: A.DualTransform, *, depth_interpolation: str = 'nearest',
                  min_box_size: float = 1.0, min_visibility: float = 0.0) -> Tuple[int, int]:
    """Run ``op`` on every key that moves with the frame, in place; return the new (H, W).

    Updates ``img_shape``. Metadata that depends on the op (``scale_factor``, ``flip``) is the
    caller's, which knows what the op means.
    """
    h, w = check_sample(results)  # (h, w) is pad_shape when Pad ran
    if tuple(results.get('img_shape', (h, w))[:2]) != (h, w):
        raise SensorError('all', 'pad_shape', 'geometric transforms before Pad (its padding '
                          'must stay at the bottom/right of the frame)', (h, w))
    results.pop('pad_shape', None)  # a Pad that padded nothing; the new frame has none
    keys = frame_keys(results)
    images = [k for k in keys if k in IMAGE_KEYS]
    # albumentations reads the frame size from the ``image`` target; without rgb/thermal a tiny
    # stand-in keeps the geometry identical (it is resampled like any image, then discarded).
    data: Dict[str, Any] = {'image': results[images[0]] if images else np.zeros((h, w), np.uint8)}
    targets: Dict[str, str] = {}
    for key in keys:
        if key in images[1:]:
            data[key], targets[key] = results[key], 'image'
        elif key == 'gt_sem_seg':
            data[key], targets[key] = _seg_as_uint8(results[key]), 'mask'
        elif key in DEPTH_KEYS and depth_interpolation == 'nearest':
            data[key], targets[key] = results[key], 'mask'
        elif key in DEPTH_KEYS:
            valid = (results[key] > 0).astype(np.float32)
            data[key + _NUM], targets[key + _NUM] = results[key] * valid, 'image'
            data[key + _VALID], targets[key + _VALID] = valid, 'image'
    boxes = results.get('gt_bboxes') if targets_follow_frame(results) else None
    bbox_params = None
    if boxes is not None:
        data['bboxes'], data['box_index'] = boxes.astype(np.float32), np.arange(len(boxes))
        bbox_params = A.BboxParams(format='pascal_voc', label_fields=['box_index'], clip=True,
                                   filter_invalid_bboxes=True, min_width=min_box_size,
                                   min_height=min_box_size, min_visibility=min_visibility)
    out = A.Compose([op], additional_targets=targets, bbox_params=bbox_params, p=1.0)(**data)

    for key in keys:
        if key in IMAGE_KEYS:
            results[key] = out['image'] if key == images[0] else out[key]
        elif key == 'gt_sem_seg':
            results[key] = out[key].astype(results[key].dtype, copy=False)
        elif depth_interpolation == 'nearest':
            results[key] = np.ascontiguousarray(out[key], dtype=np.float32)
        else:
            results[key] = _complete_only(out[key + _NUM], out[key + _VALID])
    if boxes is not None:
        keep = np.asarray(out['box_index'], dtype=np.int64)
        results['gt_bboxes'] = np.asarray(out['bboxes'], dtype=np.float32).reshape(-1, 4)
        for key in PER_BOX_KEYS:
            if results.get(key) is not None:
                results[key] = np.asarray(results[key])[keep]
    new_h, new_w = out['image'].shape[:2]
    results['img_shape'] = (int(new_h), int(new_w))
    return int(new_h), int(new_w)


def _complete_only(num: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Depth from resampled ``depth * valid`` and ``valid``, kept where no hole contributed."""
    complete = valid >= _COMPLETE
    depth = np.zeros(num.shape, np.float32)
    depth[complete] = num[complete] / valid[complete]
    return depth


def pad_sample(results: Dict[str, Any], size: Tuple[int, int]) -> None:
    """Pad every array of the frame at the bottom/right to ``size`` = (H, W) in place.

    Bottom/right padding moves no pixel, so boxes stay valid as they are; ``img_shape`` keeps
    the content size and ``pad_shape`` gets the padded one. Done with numpy and per-key fill
    values rather than an albumentations op because albumentations pads every mask with one
    value, and labels (255 = ignore) and depth (0 = invalid) need different ones.
    """
    h, w = check_sample(results)
    pad_h, pad_w = max(size[0] - h, 0), max(size[1] - w, 0)
    if pad_h == 0 and pad_w == 0:
        return
    for key in frame_keys(results):
        widths = ((0, pad_h), (0, pad_w)) + ((0, 0), ) * (results[key].ndim - 2)
        results[key] = np.pad(results[key], widths, constant_values=PAD_VALUES[key])
    # img_shape stays the content size: the heads crop predictions to it before rescaling.
    results['img_shape'] = results.get('img_shape', (h, w))
    results['pad_shape'] = (h + pad_h, w + pad_w)
