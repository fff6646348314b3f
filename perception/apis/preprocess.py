"""The one pre-processing of every backend: decoded sensor arrays -> network input tensors.

Input: the decoded representation of docs/contract.md section 1 (rgb uint8 (H, W, 3) RGB, thermal
float32 (H, W) in [0, 1], depth float32 (H, W) metres with 0 = invalid), any subset, all the same size.
Output: float32 (1, C, h, w) tensors at the network size for each sensor the model is built for
(``spec.sensors``) plus a (1, S) modality mask, exactly what ``MultiSensorDataPreprocessor`` feeds the
model in training: resized (depth nearest, so invalid pixels never blend with valid ones), normalised
with the spec, then absent sensors and invalid depth zeroed *after* normalisation. A sensor the model was
not built for, or never saw in training (``spec.trained_sensors``), is not used: ``FrameInfo.ignored``
names it, and the Predictor warns once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from perception.contract import SENSOR_CHANNELS, SENSORS, SensorError
from perception.sensors.encodings import float_depth

from .spec import ModelSpec

MASK = 'modality_mask'


@dataclass(frozen=True)
class FrameInfo:
    """What post-processing needs to map outputs back onto the frame."""
    shape: Tuple[int, int]                      # (H, W) of the given frame
    modality_mask: Tuple[bool, bool, bool]      # sensors used by the model, SENSORS order
    ignored: Tuple[str, ...] = ()               # sensors given that the model does not use


def _check_rgb(rgb) -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        raise SensorError('rgb', 'type', 'a numpy array', type(rgb).__name__)
    if rgb.dtype != np.uint8:
        raise SensorError('rgb', 'dtype', 'uint8 (H, W, 3) RGB', rgb.dtype)
    if rgb.ndim != 3:
        raise SensorError('rgb', 'shape', '(H, W, 3)', rgb.shape)
    if rgb.shape[2] != 3:
        raise SensorError('rgb', 'channels', '3 channels (RGB order)', rgb.shape[2])
    return rgb


def _check_single(name: str, x, what: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise SensorError(name, 'type', 'a numpy array', type(x).__name__)
    if x.dtype != np.float32:
        raise SensorError(name, 'dtype', f'float32 (H, W) {what}', x.dtype)
    if x.ndim == 3:
        raise SensorError(name, 'channels', f'a single-channel (H, W) array ({what})',
                          f'shape {x.shape}')
    if x.ndim != 2:
        raise SensorError(name, 'shape', f'(H, W) {what}', x.shape)
    return x


def check_frame(rgb: Optional[np.ndarray] = None, thermal: Optional[np.ndarray] = None,
                depth: Optional[np.ndarray] = None) -> Tuple[Dict[str, np.ndarray], FrameInfo]:
    """Validate one frame; return the given sensors (depth cleaned) and the frame info.

    Raises ``SensorError`` on a wrong type/dtype/shape/channel count, sizes that differ between
    sensors, thermal outside [0, 1], negative depth, or no sensor at all.
    """
    given: Dict[str, np.ndarray] = {}
    if rgb is not None:
        given['rgb'] = _check_rgb(rgb)
    if thermal is not None:
        t = _check_single('thermal', thermal, 'relative intensity in [0, 1]')
        if t.size and (not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1):
            raise SensorError('thermal', 'value', 'finite values in [0, 1]',
                              f'range [{np.nanmin(t)}, {np.nanmax(t)}]')
        given['thermal'] = t
    if depth is not None:
        # NaN/inf are "no measurement" (REP 117); negative values mean a wrong unit/encoding.
        given['depth'] = float_depth(_check_single('depth', depth, 'metres, 0 = invalid'))
    if not given:
        raise SensorError(MASK, 'value', f'at least one sensor of {SENSORS}', 'none given')
    ref_name = next(iter(given))
    ref = given[ref_name].shape[:2]
    if min(ref) <= 0:
        raise SensorError(ref_name, 'shape', 'a non-empty image', given[ref_name].shape)
    for name, arr in given.items():
        if arr.shape[:2] != ref:
            raise SensorError(name, 'size', f'the same (H, W) as {ref_name} {tuple(ref)} '
                              '(sensors are registered to one image plane; for a rig whose '
                              'cameras differ, give its calibration: perception infer '
                              '--calibration FILE, docs/registration.md)', tuple(arr.shape[:2]))
    mask = tuple(s in given for s in SENSORS)
    return given, FrameInfo(shape=(int(ref[0]), int(ref[1])), modality_mask=mask)


def usable_sensors(spec: ModelSpec, given, info: FrameInfo) -> Tuple[Dict[str, np.ndarray],
                                                                    FrameInfo]:
    """The given sensors the model uses (built for and trained on), and the frame info saying
    which were used and which ignored.

    Raises:
        SensorError: none of the given sensors is one the model uses.
    """
    usable = set(spec.trained_sensors)
    used = {s: x for s, x in given.items() if s in usable}
    ignored = tuple(s for s in SENSORS if s in given and s not in usable)
    if not used:
        untrained = [s for s in ignored if s in spec.sensors]
        why = (f'; {untrained} never appeared in its training' if untrained else '')
        raise SensorError(MASK, 'value', f'at least one sensor the model uses '
                          f'{spec.trained_sensors} (it is built for {spec.sensors}{why})',
                          f'only {list(given)}')
    return used, replace(info, modality_mask=tuple(s in used for s in SENSORS), ignored=ignored)


def preprocess(spec: ModelSpec, rgb: Optional[np.ndarray] = None,
               thermal: Optional[np.ndarray] = None, depth: Optional[np.ndarray] = None
               ) -> Tuple[Dict[str, np.ndarray], FrameInfo]:
    """Frame -> float32 batch of one at ``spec.input_size``: one array per sensor of
    ``spec.sensors`` and ``modality_mask`` (1, len(spec.sensors)); sensors the model does not use
    are left out (``FrameInfo.ignored``)."""
    given, info = usable_sensors(spec, *check_frame(rgb, thermal, depth))
    h, w = spec.input_size
    inputs: Dict[str, np.ndarray] = {}
    for s in spec.sensors:
        c = SENSOR_CHANNELS[s]
        if s not in given:
            inputs[s] = np.zeros((1, c, h, w), np.float32)
            continue
        x = given[s]
        if x.shape[:2] != (h, w):
            interp = cv2.INTER_NEAREST if s == 'depth' else cv2.INTER_LINEAR
            x = cv2.resize(x, (w, h), interpolation=interp)
        x = x.reshape(h, w, c)
        norm = spec.normalization[s]
        mean = np.asarray(norm['mean'], np.float32)
        std = np.asarray(norm['std'], np.float32)
        # (x - mean) / std in float32, written channel by channel into the (1, C, h, w) tensor:
        # no float copy of the frame and no transposed copy (the same values as the whole-array
        # expression, 2-3x faster at VGA)
        y = np.empty((1, c, h, w), np.float32)
        for k in range(c):
            np.subtract(x[..., k], mean[k], out=y[0, k], dtype=np.float32)
            y[0, k] /= std[k]
        if s == 'depth':                        # invalid depth: 0 after normalisation
            np.copyto(y[0, 0], np.float32(0), where=~(x[..., 0] > 0))
        inputs[s] = y
    inputs[MASK] = np.asarray([[s in given for s in spec.sensors]], np.float32)
    return inputs, info
