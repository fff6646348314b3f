"""Reading targets, predictions and metainfo out of one evaluated sample.

mmengine's ``Evaluator`` hands metrics ``MultiTaskDataSample.to_dict()``: metainfo keys sit at the top
level next to the fields, and each ``PixelData``/``InstanceData`` field is itself a dict
(``{'data': Tensor(1, H, W)}``, ``{'bboxes': ..., 'labels': ..., 'scores': ...}``). Tests and the
baselines may pass the data element itself or numpy arrays; all of these are accepted here, so the
metric code below never sees the difference.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from ..contract import SENSORS

Sample = Mapping[str, Any]


def as_sample_dict(sample: Any) -> Sample:
    """A ``MultiTaskDataSample`` (or any mmengine data element) as the dict mmengine passes on."""
    to_dict = getattr(sample, 'to_dict', None)
    if callable(to_dict) and not isinstance(sample, Mapping):
        return to_dict()
    if not isinstance(sample, Mapping):
        raise TypeError(f'expected a data sample or a dict, got {type(sample).__name__}')
    return sample


def to_numpy(value: Any) -> np.ndarray:
    """Tensor (any device), mmdet box object (``.tensor``) or array-like -> numpy array."""
    value = getattr(value, 'tensor', value)  # mmdet BaseBoxes keep their data in `.tensor`
    if hasattr(value, 'detach'):
        value = value.detach().cpu()
        if str(value.dtype) == 'torch.bfloat16':  # AMP outputs; numpy has no bfloat16
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def _field(sample: Sample, name: str) -> Any:
    value = sample.get(name)
    if value is not None and not isinstance(value, Mapping):
        value = as_sample_dict(value)  # a PixelData/InstanceData not yet converted
    return value


def pixel_map(sample: Sample, name: str) -> Optional[np.ndarray]:
    """The (H, W) array of a ``PixelData`` field stored as (1, H, W); ``None`` when absent.

    A bare array is accepted too: that is how decoded samples (docs/contract.md, section 1) hold
    their targets, which the trivial baselines read.
    """
    value = sample.get(name)
    if value is not None and not isinstance(value, Mapping) and hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, Mapping):
        value = value.get('data')
    if value is None:
        return None
    data = to_numpy(value)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f'{name}: expected data of shape (1, H, W) or (H, W), got {data.shape}')
    return data


def instance_arrays(sample: Sample, name: str, keys: tuple) -> Optional[dict]:
    """``{key: numpy array}`` of an ``InstanceData`` field; ``None`` when the field is absent."""
    field = _field(sample, name)
    if field is None:
        return None
    missing = [k for k in keys if field.get(k) is None]
    if missing:
        raise KeyError(f'{name} lacks {missing} (has {sorted(field)})')
    return {k: to_numpy(field[k]) for k in keys}


def modality_subset_name(mask: Any) -> str:
    """``(True, True, False)`` -> ``'rgb+thermal'`` (SENSORS order); no sensor -> ``'none'``."""
    flags = [bool(v) for v in to_numpy(mask).reshape(-1)]
    if len(flags) != len(SENSORS):
        raise ValueError(f'modality_mask has {len(flags)} entries, expected {len(SENSORS)}')
    return '+'.join(s for s, on in zip(SENSORS, flags) if on) or 'none'


def group_value(sample: Sample, key: str) -> Optional[str]:
    """The label of ``sample`` under a group-by metainfo key; ``None`` when the sample lacks it.

    ``modality_mask`` is named by its sensor subset so that rows read 'rgb+thermal', not a tuple.
    """
    value = sample.get(key)
    if value is None:
        return None
    if key == 'modality_mask':
        return modality_subset_name(value)
    return str(value)
