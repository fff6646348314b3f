"""From a dataset's ``data_info`` (files + encodings) to the decoded sample of docs/contract.md.

``data_info`` layout (built by the datasets, see :func:`perception.datasets.base.sample_info`)::

    img_id:  str
    sensors: {sensor: {path, encoding, **params}}      # rgb / thermal / depth; absent = missing
    targets: {'gt_sem_seg' | 'gt_depth': {path, encoding}}   # optional
    boxes:   {bboxes: [[x1, y1, x2, y2], ...], labels: [...], source: path,
              shape: (H, W) or None}                   # absent = not annotated
    extra:   {key: value}                              # per-sample metadata, e.g. condition
    sample_idx: int                                    # added by mmengine's BaseDataset

A missing sensor or target decodes to ``None``; all present arrays must share one (H, W).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from perception.contract import SENSORS, SensorError
from perception.registry import TRANSFORMS

from ..sensors.encodings import get_encoding
from ..sensors.thermal import as_scaling

#: Target key -> modality of its encoding.
TARGET_MODALITIES = {'gt_sem_seg': 'label', 'gt_depth': 'depth'}
#: Keys of ``data_info`` consumed by the loader (not copied into the decoded sample).
INFO_KEYS = ('sensors', 'targets', 'boxes', 'extra')


def _decode_sources(sources: Mapping[str, Mapping], names: Sequence[str], modality_of,
                    plane: Dict[str, object], encoding_params: Optional[Mapping] = None
                    ) -> Dict[str, Optional[np.ndarray]]:
    """Decode ``names`` from ``sources``; image files first so point clouds know the plane size.
    ``encoding_params`` go to every encoding that takes them (``Encoding.params``)."""
    specs = {}
    for name in names:
        src = sources.get(name)
        if src:
            specs[name] = (src, get_encoding(src['encoding'], name, modality_of(name),
                                             src.get('path')))
    out: Dict[str, Optional[np.ndarray]] = {name: None for name in names}
    for name, (src, enc) in sorted(specs.items(), key=lambda kv: kv[1][1].needs_shape):
        params = {k: v for k, v in src.items() if k not in ('path', 'encoding')}
        for key, value in (encoding_params or {}).items():
            if key in enc.params:
                params.setdefault(key, value)
        shape = plane.get('shape') if enc.needs_shape else None
        arr = enc.decode(src['path'], name, shape=shape, **params)
        _check_plane(plane, name, arr.shape[:2], src['path'])
        out[name] = arr
    return out


def _check_plane(plane: Dict[str, object], name: str, shape: Tuple[int, int], path: str) -> None:
    """All sensors and dense targets of a sample are registered to one image plane."""
    shape = tuple(int(s) for s in shape)
    if 'shape' not in plane:
        plane.update(shape=shape, name=name, path=path)
    elif plane['shape'] != shape:
        h, w = plane['shape']
        raise SensorError(name, 'shape', f'{h}x{w} (HxW) like {plane["name"]} ({plane["path"]})',
                          f'{shape[0]}x{shape[1]}', path)


def _decode_boxes(boxes: Optional[Mapping], plane: Mapping):
    if boxes is None:
        return None, None
    bboxes = np.asarray(boxes['bboxes'], dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(boxes['labels'], dtype=np.int64).reshape(-1)
    source = boxes.get('source')
    if len(bboxes) != len(labels):
        raise SensorError('boxes', 'labels', f'one label per box ({len(bboxes)})', len(labels),
                          source)
    expected = boxes.get('shape')
    if expected is not None and tuple(expected) != plane['shape']:
        raise SensorError('boxes', 'shape', f'annotation image size {expected[0]}x{expected[1]} '
                          f'(HxW) to match {plane["name"]} ({plane["path"]})',
                          '{}x{}'.format(*plane['shape']), source)
    return bboxes, labels


def decode_sample(info: Mapping, sensors: Sequence[str] = SENSORS,
                  with_targets: bool = True, encoding_params: Optional[Mapping] = None) -> dict:
    """Decode one ``data_info`` into the contract's decoded sample (section 1)."""
    img_id = str(info.get('img_id', ''))
    unknown = set(info.get('sensors', {})) - set(SENSORS)
    if unknown:
        raise SensorError(sorted(unknown)[0], 'sensors', f'one of {SENSORS}',
                          sorted(unknown), img_id)
    plane: Dict[str, object] = {}
    decoded = _decode_sources(info.get('sensors', {}), [s for s in SENSORS if s in sensors],
                              lambda name: name, plane, encoding_params)
    if not plane:
        raise SensorError('any', 'sensors', f'at least one of {tuple(sensors)} present',
                          'none', f'sample {img_id!r}')
    targets = info.get('targets', {}) if with_targets else {}
    decoded.update(_decode_sources(targets, list(TARGET_MODALITIES), TARGET_MODALITIES.get, plane))
    gt_bboxes, gt_labels = _decode_boxes(info.get('boxes') if with_targets else None, plane)

    sources = {name: src['path'] for name, src in info.get('sensors', {}).items()
               if src and name in sensors}
    sources.update({name: src['path'] for name, src in targets.items() if src})
    if info.get('boxes') is not None and with_targets and info['boxes'].get('source'):
        sources['boxes'] = info['boxes']['source']
    out = dict(info.get('extra', {}))
    out.update(
        rgb=decoded.get('rgb'), thermal=decoded.get('thermal'), depth=decoded.get('depth'),
        gt_sem_seg=decoded['gt_sem_seg'], gt_depth=decoded['gt_depth'],
        gt_bboxes=gt_bboxes, gt_bboxes_labels=gt_labels,
        modality_mask=np.array([decoded.get(s) is not None for s in SENSORS], dtype=bool),
        img_shape=plane['shape'], ori_shape=plane['shape'],
        sample_idx=int(info.get('sample_idx', -1)), img_id=img_id, sources=sources)
    return out


@TRANSFORMS.register_module()
class LoadMultiSensorSample(BaseTransform):
    """Read every file of a sample and decode it (docs/contract.md section 1).

    Args:
        sensors: sensors to load; the others are set to ``None`` as if absent (e.g. train an
            RGB-thermal model on a dataset that also has depth).
        with_targets: also load ``gt_sem_seg``, ``gt_depth`` and boxes (off for inference).
        thermal_scaling: how 16-bit radiometric thermal (encoding ``u16_radiometric``) becomes
            [0, 1]; the config's top-level ``thermal_scaling``, which the export records so that
            inference scales the same way (perception/sensors/thermal.py).
    """

    def __init__(self, sensors: Sequence[str] = SENSORS, with_targets: bool = True,
                 thermal_scaling: Optional[Mapping] = None):
        unknown = set(sensors) - set(SENSORS)
        if unknown:
            raise ValueError(f'LoadMultiSensorSample: unknown sensors {sorted(unknown)}; '
                             f'expected a subset of {SENSORS}')
        self.sensors = tuple(sensors)
        self.with_targets = with_targets
        scaling = as_scaling(thermal_scaling)
        self.encoding_params = {} if scaling is None else {'thermal_scaling': scaling}

    def transform(self, results: dict) -> dict:
        out = {k: v for k, v in results.items() if k not in INFO_KEYS}
        out.update(decode_sample(results, self.sensors, self.with_targets, self.encoding_params))
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sensors={self.sensors}, '
                f'with_targets={self.with_targets})')
