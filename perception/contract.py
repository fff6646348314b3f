"""The data/model/output contract shared by every stage (see docs/contract.md).

Pure Python + numpy on purpose: the deployment path (ONNX Runtime / TensorRT predictor, ROS node)
imports this module without torch, mmengine, mmcv, mmseg or mmdet installed.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

#: Sensor order. ``modality_mask[i]`` says whether ``SENSORS[i]`` is present.
SENSORS: Tuple[str, ...] = ('rgb', 'thermal', 'depth')
#: Channels of each sensor tensor fed to the network.
SENSOR_CHANNELS: Dict[str, int] = {'rgb': 3, 'thermal': 1, 'depth': 1}
#: Tasks the decoder serves, in a fixed order.
TASKS: Tuple[str, ...] = ('seg', 'det', 'depth')
#: Label value ignored by the segmentation loss and metrics.
IGNORE_INDEX = 255

#: Output strides of the four feature levels (1/4 .. 1/32 of the input) that every encoder delivers
#: and the fusion, the decoders and the heads work on, finest first.
STRIDES: Tuple[int, ...] = (4, 8, 16, 32)

#: Graph input names (ONNX, TensorRT) of a model of all three sensors -- the sensor names plus the
#: mask. A model built for fewer sensors (``model = dict(sensors=(...))``) has ``input_names(sensors)``.
INPUT_NAMES: Tuple[str, ...] = SENSORS + ('modality_mask', )
#: Detection outputs of an exported graph: candidates before NMS (``--nms host``) or the kept
#: detections after in-graph NMS, fixed size K, score 0 in empty slots.
DET_OUTPUT_NAMES: Tuple[str, ...] = ('det_boxes', 'det_scores', 'det_labels')
#: Graph output names, in graph order; a graph has the ones of its tasks (segmentation as int32
#: ``seg_labels``, ``seg_logits`` or both). The depth output is ``depth_pred``: ONNX input and output
#: names must differ.
OUTPUT_NAMES: Tuple[str, ...] = ('seg_labels', 'seg_logits') + DET_OUTPUT_NAMES + ('depth_pred', )

#: Detection post-processing settings, one name each from the model config (``heads.det.nms``)
#: through ``ModelSpec``, ``perception export``/``infer`` options and the Predictor to the ROS
#: parameters: score threshold, class-aware NMS IoU threshold, detections kept, candidates before NMS.
DETECTION_SETTINGS: Tuple[str, ...] = ('score_thr', 'iou_thr', 'max_det', 'pre_nms_topk')
#: Former names of those settings, still accepted (with a DeprecationWarning) until release 0.2.
DEPRECATED_SETTING_NAMES: Dict[str, str] = {
    'k': 'max_det', 'pre_nms_k': 'pre_nms_topk',                 # model config ``nms=dict(...)``
    'score_threshold': 'score_thr', 'nms_threshold': 'iou_thr',  # ROS parameters
}

# --- Decoded (loader) representation, before the network -----------------------------------------
# rgb:      uint8 (H, W, 3), RGB channel order
# thermal:  float32 (H, W), relative intensity in [0, 1] (8-bit sources divided by 255)
# depth:    float32 (H, W), metres, 0 where invalid (NaN/inf are converted to 0 by the loaders)
# gt_sem_seg: uint8/int64 (H, W) class ids, IGNORE_INDEX where unlabelled
# gt_bboxes: float32 (N, 4) xyxy pixels; gt_bboxes_labels: int64 (N,)
# gt_depth: float32 (H, W) metres, 0 where invalid
# A missing sensor or target is ``None``: that is represented, never an error.

#: Sample metainfo key: the model's detection class indices the sample's dataset labels (sorted); a
#: sample without it labels every class. Set by datasets from the config's ``det_classes`` /
#: ``det_class_map``; the detection loss gives the other classes no gradient (partial labels).
DET_LABELLED = 'det_labelled'

#: Per-sensor normalisation of the network input: ``(x - mean) / std`` per channel.
#: rgb in 0..255 (ImageNet statistics), thermal in [0, 1], depth in metres.
#: After normalisation an absent sensor is replaced by zeros, and so are invalid depth pixels.
NORMALIZATION: Dict[str, Dict[str, Tuple[float, ...]]] = {
    'rgb': {'mean': (123.675, 116.28, 103.53), 'std': (58.395, 57.12, 57.375)},
    'thermal': {'mean': (0.5, ), 'std': (0.25, )},
    'depth': {'mean': (0.0, ), 'std': (10.0, )},
}


class PerceptionError(Exception):
    """An error in what the user gave (input files, configs, calibration), not a bug: the command
    line prints its message as one ``error: ...`` line (perception/cli.py), without a traceback.

    Every subclass can be rebuilt from its message alone (``type(err)(str(err))``), which is how
    PyTorch's DataLoader re-raises an exception from a worker process (``ExceptionWrapper.reraise``:
    the exception type called with a text holding the worker's traceback) and how pickle rebuilds an
    exception; the rebuilt error keeps the original message, without the worker's traceback.
    """

    def __init__(self, *args: Any):
        if len(args) == 1 and isinstance(args[0], str):
            args = (reraised_message(args[0]), )
        super().__init__(*args)


def reraised_message(text: str) -> str:
    """The original message of an exception re-raised from another process or thread.

    PyTorch's ``ExceptionWrapper`` (DataLoader workers, the pin-memory thread) re-raises as
    ``Caught NAME in WHERE.\nOriginal Traceback (most recent call last):\n...\nmodule.NAME: MESSAGE``;
    that gives MESSAGE. Any other text is returned unchanged.
    """
    head = re.match(r'Caught (\w+) [^\n]*\nOriginal Traceback \(most recent call last\):\n', text)
    if head is None:
        return text
    last = None
    for last in re.finditer(rf'^(?:[\w.]+\.)?{head.group(1)}: ', text, re.MULTILINE):
        pass
    return text if last is None else text[last.end():].strip()


class PerceptionWarning(UserWarning):
    """Something the user should know about what they gave (e.g. a sensor the model does not use);
    the command line prints it as one ``warning: ...`` line (perception/cli.py)."""


class ConfigError(PerceptionError, ValueError):
    """A config, calibration, model or other file given to a command is missing or invalid."""


#: The message of a ``SensorError``, parsed back when the error is rebuilt from its message alone.
_SENSOR_MESSAGE = re.compile(r"sensor '(?P<sensor>[^']*)', field '(?P<field>[^']*)': "
                             r'expected (?P<rest>.*)', re.DOTALL)


class SensorError(PerceptionError, ValueError):
    """Bad sensor input. The message names the sensor, the field, what was expected and the file.

    ``SensorError(message)`` (one argument) rebuilds the error from its own message -- a DataLoader
    worker's re-raise, unpickling: ``sensor``, ``field``, ``expected``, ``got`` and ``path`` are read
    back from the message (as text; None where it does not say).
    """

    def __init__(self, sensor: str, field: Optional[str] = None, expected: Any = None,
                 got: Any = None, path: Optional[str] = None):
        if field is None and expected is None:
            super().__init__(sensor)
            self.sensor = self.field = self.expected = self.got = self.path = None
            parsed = _SENSOR_MESSAGE.fullmatch(self.args[0].strip())
            if parsed is not None:
                rest = parsed['rest']
                if rest.endswith(')') and ' (file: ' in rest:
                    rest, self.path = rest[:-1].rsplit(' (file: ', 1)
                rest, sep, got = rest.partition(', got ')
                self.sensor, self.field, self.expected = parsed['sensor'], parsed['field'], rest
                self.got = got if sep else None
            return
        self.sensor, self.field, self.expected, self.got, self.path = sensor, field, expected, got, path
        msg = f'sensor {sensor!r}, field {field!r}: expected {expected}'
        if got is not None:
            msg += f', got {got}'
        if path is not None:
            msg += f' (file: {path})'
        super().__init__(msg)


@dataclass(frozen=True)
class SensorSpec:
    """What one sensor feeds the network: its name, channel count and normalisation."""
    name: str
    channels: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]


def sensor_specs(normalization: Optional[Dict[str, Dict[str, Tuple[float, ...]]]] = None
                 ) -> Tuple[SensorSpec, ...]:
    norm = normalization or NORMALIZATION
    return tuple(
        SensorSpec(s, SENSOR_CHANNELS[s], tuple(norm[s]['mean']), tuple(norm[s]['std']))
        for s in SENSORS)


def sensor_subsets(sensors: Sequence[str] = SENSORS) -> List[Tuple[str, ...]]:
    """Every non-empty subset of ``sensors``, largest first, each in the given order (7 for three)."""
    return [c for k in range(len(sensors), 0, -1) for c in combinations(sensors, k)]


def check_sensors(sensors: Sequence[str], where: str = 'sensors') -> Tuple[str, ...]:
    """The sensors a model is built for, checked: a non-empty subset of ``SENSORS`` in its order.

    Args:
        sensors: sensor names, e.g. ``('rgb', 'thermal')``.
        where: what declares them (``'model.sensors'``), for the error.

    Returns:
        The names as a tuple.

    Raises:
        ConfigError: empty, an unknown or repeated name, or not in the contract's order (the
            message gives the ordered tuple to write instead).
    """
    if isinstance(sensors, str):
        sensors = (sensors, )
    names = tuple(str(s) for s in sensors)
    unknown = [s for s in names if s not in SENSORS]
    if not names or unknown or len(set(names)) != len(names):
        raise ConfigError(f'{where}: expected a non-empty subset of {SENSORS} without repeats, '
                          f'got {names}' + (f' (unknown: {unknown})' if unknown else ''))
    ordered = tuple(s for s in SENSORS if s in names)
    if ordered != names:
        raise ConfigError(f"{where}: sensors follow the contract's order {SENSORS}; write "
                          f'{ordered}, not {names}')
    return names


def input_names(sensors: Sequence[str] = SENSORS) -> Tuple[str, ...]:
    """Graph input names of a model built for ``sensors``: the sensors, then ``modality_mask``
    (B, len(sensors)) whose column ``i`` says whether ``sensors[i]`` is present."""
    return tuple(sensors) + ('modality_mask', )


def renamed_settings(settings: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """``settings`` with the former names of ``DETECTION_SETTINGS`` replaced by the current ones.

    Args:
        settings: a config dict or parameter mapping; other keys pass through unchanged.
        where: what the settings belong to, for the warning (``'heads.det.nms'``).

    Returns:
        A new dict. Each former name emits one ``DeprecationWarning``; a former name given together
        with its current one raises ``ConfigError``.
    """
    out = dict(settings)
    for old, new in DEPRECATED_SETTING_NAMES.items():
        if old not in out:
            continue
        if new in out:
            raise ConfigError(f'{where}: both {old!r} and {new!r} are set; {old!r} is the former '
                              f'name of {new!r}, keep {new!r} only')
        warnings.warn(f'{where}: {old!r} is deprecated, use {new!r} (the old name is accepted '
                      'until release 0.2)', DeprecationWarning, stacklevel=3)
        out[new] = out.pop(old)
    return out
