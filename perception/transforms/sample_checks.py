"""Validation of a decoded sample (docs/contract.md section 1) as the transforms see it.

Every transform that reads arrays calls :func:`check_sample` first, so a malformed sample fails at the
first transform with a :class:`~perception.contract.SensorError` naming the sensor, the field and the
expected value, instead of deep inside OpenCV or albumentations. Only dtypes and shapes are checked
(cheap); pixel values are the loaders' responsibility, boxes are checked because they are few.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from perception.contract import SENSORS, SensorError

#: Sensor keys and the per-pixel layout the contract promises for them.
SENSOR_LAYOUT: Dict[str, Tuple[str, str]] = {
    'rgb': ('uint8', '(H, W, 3)'),
    'thermal': ('float32', '(H, W)'),
    'depth': ('float32', '(H, W)'),
}
#: Dense targets: key -> expected dtype description.
DENSE_TARGETS: Dict[str, str] = {'gt_sem_seg': 'integer', 'gt_depth': 'float32'}
#: Per-box arrays that must stay aligned with ``gt_bboxes`` when boxes are dropped.
PER_BOX_KEYS: Tuple[str, ...] = ('gt_bboxes_labels', 'gt_ignore_flags')
#: ``SensorError.sensor`` used for ground-truth fields (they belong to no sensor).
TARGET = 'annotation'
#: Set by ``Resize(resize_targets=False)`` in test pipelines: the targets stay in the original frame
#: (``ori_shape``, original box coordinates), where the model's restored predictions are scored.
GT_AT_ORI_SHAPE = 'gt_at_ori_shape'


def _check_dense(name: str, owner: str, array: Any, dtype: str, channels: Optional[int]) -> None:
    if not isinstance(array, np.ndarray):
        raise SensorError(owner, name, 'a numpy array', type(array).__name__)
    ok_dtype = (np.issubdtype(array.dtype, np.integer) if dtype == 'integer'
                else array.dtype == np.dtype(dtype))
    if not ok_dtype:
        raise SensorError(owner, f'{name}.dtype', dtype, array.dtype)
    want_ndim = 2 if channels is None else 3
    if array.ndim != want_ndim or (channels is not None and array.shape[2] != channels):
        layout = '(H, W)' if channels is None else f'(H, W, {channels})'
        raise SensorError(owner, f'{name}.shape', layout, array.shape)


def _check_boxes(results: Dict[str, Any]) -> None:
    boxes = results.get('gt_bboxes')
    if boxes is None:
        return
    if not isinstance(boxes, np.ndarray) or boxes.ndim != 2 or boxes.shape[1] != 4:
        raise SensorError(TARGET, 'gt_bboxes', 'a float array of shape (N, 4) xyxy',
                          getattr(boxes, 'shape', type(boxes).__name__))
    if not np.issubdtype(boxes.dtype, np.floating):
        raise SensorError(TARGET, 'gt_bboxes.dtype', 'float32', boxes.dtype)
    if not np.isfinite(boxes).all():
        raise SensorError(TARGET, 'gt_bboxes', 'finite coordinates', 'NaN or inf')
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise SensorError(TARGET, 'gt_bboxes', 'x2 >= x1 and y2 >= y1 (xyxy order)')
    labels = results.get('gt_bboxes_labels')
    if labels is None or not np.issubdtype(np.asarray(labels).dtype, np.integer):
        raise SensorError(TARGET, 'gt_bboxes_labels', f'int64 class ids, one per box ({len(boxes)})',
                          'None' if labels is None else np.asarray(labels).dtype)
    for key in PER_BOX_KEYS:
        values = results.get(key)
        if values is not None and np.shape(values)[:1] != (len(boxes), ):
            raise SensorError(TARGET, key, f'one entry per box ({len(boxes)})', np.shape(values))


def present_sensors(results: Dict[str, Any]) -> Tuple[str, ...]:
    """Sensors whose array is not ``None``, in ``SENSORS`` order."""
    return tuple(s for s in SENSORS if results.get(s) is not None)


def targets_follow_frame(results: Dict[str, Any]) -> bool:
    """Whether geometric transforms move the targets with the sensors (False after
    ``Resize(resize_targets=False)``: they stay in the original frame for evaluation)."""
    return not results.get(GT_AT_ORI_SHAPE, False)


def _common_shape(shapes: Dict[str, Tuple[int, int]]) -> Optional[Tuple[int, int]]:
    if not shapes:
        return None
    ref_key, ref = next(iter(shapes.items()))
    for key, shape in shapes.items():
        if shape != ref:
            owner = key if key in SENSOR_LAYOUT else TARGET
            raise SensorError(owner, f'{key}.shape',
                              f'(H, W) = {tuple(ref)} like {ref_key!r} (one image plane)', shape)
    return int(ref[0]), int(ref[1])


def check_sample(results: Dict[str, Any]) -> Tuple[int, int]:
    """Check dtypes, layouts, a common (H, W), boxes and ``modality_mask``; return (H, W).

    All sensors and dense targets share one (H, W), which is ``pad_shape`` if set, else
    ``img_shape`` -- except that targets left in the original frame (``gt_at_ori_shape``) must
    have ``ori_shape``. With no sensor array the size comes from the targets or those shapes (a
    sample may carry targets only).
    """
    sensors: Dict[str, Tuple[int, int]] = {}
    targets: Dict[str, Tuple[int, int]] = {}
    for sensor, (dtype, layout) in SENSOR_LAYOUT.items():
        array = results.get(sensor)
        if array is not None:
            _check_dense(sensor, sensor, array, dtype, 3 if layout.endswith('3)') else None)
            sensors[sensor] = array.shape[:2]
    for key, dtype in DENSE_TARGETS.items():
        array = results.get(key)
        if array is not None:
            _check_dense(key, TARGET, array, dtype, None)
            targets[key] = array.shape[:2]
    if targets_follow_frame(results):
        hw = _common_shape({**sensors, **targets})
    else:
        hw = _common_shape(sensors)
        gt_hw, ori = _common_shape(targets), results.get('ori_shape')
        if gt_hw is not None and (ori is None or gt_hw != tuple(ori[:2])):
            raise SensorError(TARGET, 'shape', f'targets at ori_shape {ori} ({GT_AT_ORI_SHAPE})',
                              gt_hw)
    # The arrays span pad_shape once Pad ran (img_shape is then the content inside it).
    key = 'pad_shape' if results.get('pad_shape') is not None else 'img_shape'
    frame = results.get(key)
    if hw is None:
        if frame is None:
            raise SensorError('all', 'img_shape', 'a sensor array or img_shape (the image size)')
        hw = (int(frame[0]), int(frame[1]))
    elif frame is not None and tuple(frame[:2]) != hw:
        # A stale shape means some transform forgot to update it: the model would crop and
        # rescale its predictions with the wrong size.
        raise SensorError('all', key, f'{hw} (the arrays\' (H, W))', tuple(frame))
    _check_boxes(results)
    mask = results.get('modality_mask')
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (len(SENSORS), ):
            raise SensorError('all', 'modality_mask', f'bool array of shape ({len(SENSORS)},)',
                              mask.shape)
        for i, sensor in enumerate(SENSORS):
            if bool(mask[i]) != (results.get(sensor) is not None):
                raise SensorError(sensor, 'modality_mask',
                                  f'{results.get(sensor) is not None} (array is '
                                  f'{"present" if results.get(sensor) is not None else "None"})',
                                  bool(mask[i]))
    return hw


def modality_mask_of(results: Dict[str, Any]) -> np.ndarray:
    """The bool (3,) mask of the sensors that are present (derived from the arrays)."""
    return np.array([results.get(s) is not None for s in SENSORS], dtype=bool)
