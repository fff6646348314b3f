"""``PackMultiSensorInputs``: decoded sample -> network inputs + ``MultiTaskDataSample``.

The last transform of every pipeline (docs/contract.md section 2). Tensors keep the physical units
of the contract (rgb 0..255, thermal [0, 1], depth metres); normalisation, and zeroing absent sensors
and invalid depth after it, are the data preprocessor's job, which sees the whole batch.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData, PixelData

from perception.contract import DET_LABELLED, SENSOR_CHANNELS, SENSORS
from perception.registry import TRANSFORMS
from perception.structures import MultiTaskDataSample

from .sample_checks import check_sample, modality_mask_of

#: Metainfo keys of ``MultiTaskDataSample`` (perception/structures.py) plus ``flip_direction``
#: (mmseg/mmdet test-time augmentation reads it) and ``pad_shape``. ``det_labelled``: the
#: detection classes the sample's dataset labels (set by a dataset's class map, docs/data.md).
DEFAULT_META_KEYS: Tuple[str, ...] = ('sample_idx', 'img_id', 'ori_shape', 'img_shape',
                                      'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                                      'modality_mask', 'condition', 'sources', DET_LABELLED)
#: Values for geometric metainfo of a sample no transform touched, so that the model can always
#: map predictions back to ``ori_shape`` without special cases.
_META_DEFAULTS: Dict[str, Any] = {'scale_factor': (1.0, 1.0), 'flip': False,
                                  'flip_direction': None}


def _chw(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    array = array[..., None] if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))).to(dtype)


@TRANSFORMS.register_module()
class PackMultiSensorInputs(BaseTransform):
    """Pack sensors into ``inputs`` and targets/metadata into ``data_samples``.

    Output: ``dict(inputs=dict(rgb=(3, H, W), thermal=(1, H, W), depth=(1, H, W)) float32 tensors,
    modality_mask=bool (3,)), data_samples=MultiTaskDataSample)``. An absent sensor is zeros of its
    shape. Targets that are ``None`` are left out of the data sample (``has_target`` is then False).

    Args:
        meta_keys: extra metainfo keys to copy besides :data:`DEFAULT_META_KEYS` (e.g. a
            dataset-specific ``'weather'``); keys missing from a sample are skipped.
    """

    def __init__(self, meta_keys: Sequence[str] = ()) -> None:
        if isinstance(meta_keys, str):
            meta_keys = (meta_keys, )
        self.meta_keys: Tuple[str, ...] = DEFAULT_META_KEYS + tuple(
            k for k in meta_keys if k not in DEFAULT_META_KEYS)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        h, w = check_sample(results)
        mask = modality_mask_of(results)
        inputs: Dict[str, torch.Tensor] = {}
        for sensor in SENSORS:
            array = results.get(sensor)
            inputs[sensor] = (torch.zeros(SENSOR_CHANNELS[sensor], h, w) if array is None
                              else _chw(array, torch.float32))
        inputs['modality_mask'] = torch.from_numpy(mask.copy())

        sample = MultiTaskDataSample()
        if results.get('gt_sem_seg') is not None:
            sample.gt_sem_seg = PixelData(data=_chw(results['gt_sem_seg'], torch.long))
        if results.get('gt_depth') is not None:
            sample.gt_depth = PixelData(data=_chw(results['gt_depth'], torch.float32))
        if results.get('gt_bboxes') is not None:
            boxes = results['gt_bboxes']
            labels = results['gt_bboxes_labels']  # check_sample: present with the boxes
            sample.gt_instances = InstanceData(
                bboxes=torch.from_numpy(np.asarray(boxes, np.float32).reshape(-1, 4)),
                labels=torch.from_numpy(np.asarray(labels, np.int64).reshape(-1)))

        meta = {**_META_DEFAULTS, 'img_shape': (h, w), 'ori_shape': (h, w)}
        meta.update({k: results[k] for k in self.meta_keys if results.get(k) is not None})
        meta['pad_shape'] = (h, w)  # the tensors' size; img_shape is the content (after Pad)
        meta['modality_mask'] = tuple(bool(m) for m in mask)
        sample.set_metainfo({k: v for k, v in meta.items() if k in self.meta_keys})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'PackMultiSensorInputs(meta_keys={self.meta_keys})'
