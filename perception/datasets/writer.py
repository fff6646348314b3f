"""Write decoded samples (docs/contract.md section 1) to the generic layout (docs/data.md).

    meta = dict(name='synthetic', seg_classes=[...], det_classes=[...], palette=None,
                encodings=dict(rgb='rgb8', thermal='u16_unit', depth='uint16_mm',
                               gt_depth='uint16_mm'))      # optional, these are the defaults
    with GenericLayoutWriter(root, meta) as writer:
        writer.write('000001', sample, split='train')

Reading the folder back with ``GenericMultiSensorDataset(root).load_sample(i)`` returns the same
arrays exactly when they were already at the storage precision; ``quantize_sample`` gives that
precision in memory. A writer opened on an existing folder appends to it (same classes required).
"""
from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import cv2
import numpy as np

from perception.contract import SENSORS, SensorError

from .base import DET_LABELLED
from .coco_boxes import coco_annotations, coco_categories, coco_image_entry
from ..sensors.encodings import get_encoding
from .layout import DEFAULT_ENCODINGS, META_FILE, SEG_ENCODING, DirSpec, LayoutSpec
from .loading import TARGET_MODALITIES

BOXES_FILE = 'annotations.json'
#: Folder of each sensor/target in the layout this writer produces.
FOLDERS = {'rgb': 'rgb', 'thermal': 'thermal', 'depth': 'depth', 'gt_sem_seg': 'seg',
           'gt_depth': 'gt_depth'}
#: Decoded-sample keys that are data or bookkeeping, not per-sample metadata.
#: ``det_labelled`` belongs to the dataset's class map in a config, not to the sample.
CONTRACT_KEYS = frozenset(FOLDERS) | {'gt_bboxes', 'gt_bboxes_labels', 'modality_mask',
                                      'img_shape', 'ori_shape', 'sample_idx', 'img_id',
                                      'sources', DET_LABELLED}
_MODALITY = dict({s: s for s in SENSORS}, **TARGET_MODALITIES)


def _storage_encodings(meta: Mapping) -> Dict[str, str]:
    """Defaults overridden by ``meta['encodings']``; a sensor mapped to None is left out."""
    enc = dict(DEFAULT_ENCODINGS, **(meta.get('encodings') or {}))
    enc['gt_sem_seg'] = SEG_ENCODING
    return {k: v for k, v in enc.items() if v}


def quantize_sample(sample: Mapping, encodings: Optional[Mapping[str, str]] = None) -> dict:
    """A copy of ``sample`` with every array at the precision the writer stores it with."""
    enc = _storage_encodings(dict(encodings=encodings or {}))
    out = dict(sample)
    for key in FOLDERS:
        if out.get(key) is not None and key in enc:
            out[key] = get_encoding(enc[key], key, _MODALITY[key]).quantize(out[key], key)
    return out


def _json_value(key: str, value: Any):
    """Per-sample metadata must survive JSON unchanged (numpy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if json.loads(json.dumps(value)) != value:
            raise TypeError
    except (TypeError, ValueError):
        raise SensorError('meta', key, 'a JSON value (str, number, bool, list, dict)',
                          type(value).__name__)
    return value


class GenericLayoutWriter:
    """Writes samples to ``root``; :meth:`close` (or leaving the ``with`` block) writes
    dataset.yaml, the COCO json and the split files.

    dataset.yaml lists the sensors and targets that were written (all configured ones while
    nothing is), so that a reader is not told about folders that do not exist."""

    def __init__(self, root, meta: Mapping):
        self.root = Path(root)
        self.encodings = _storage_encodings(meta)
        self.meta = dict(name=str(meta['name']), seg_classes=tuple(meta.get('seg_classes', ())),
                         det_classes=tuple(meta.get('det_classes', ())),
                         palette=None if meta.get('palette') is None
                         else [list(c) for c in meta['palette']])
        self.used: set = set()
        self.images: List[dict] = []
        self.annotations: List[dict] = []
        self.split_ids: Dict[str, List[str]] = {}
        self._spec(set(self.encodings), {})      # validates names and encodings up front
        if (self.root / META_FILE).is_file():
            self._load_existing()

    def _spec(self, keys, splits: Mapping[str, str]) -> LayoutSpec:
        def dir_spec(key):
            return DirSpec(FOLDERS[key], self.encodings[key]) if key in keys else None

        spec = LayoutSpec(sensors={s: dir_spec(s) for s in SENSORS if s in keys},
                          seg=dir_spec('gt_sem_seg'), gt_depth=dir_spec('gt_depth'),
                          boxes_file=BOXES_FILE, splits=dict(splits), **self.meta)
        return LayoutSpec.from_dict(spec.to_dict(), str(self.root / META_FILE))

    def _load_existing(self) -> None:
        old = LayoutSpec.load(self.root / META_FILE)
        if old.boxes_dir is not None:
            raise SensorError('dataset', 'targets.boxes', f'COCO boxes ({{file: {BOXES_FILE}}}) '
                              'to append to: the writer writes no YOLO/VOC label files',
                              f'{{dir: {old.boxes_dir}, format: {old.boxes_format}}}',
                              str(self.root / META_FILE))
        if (old.seg_classes, old.det_classes) != (self.meta['seg_classes'],
                                                  self.meta['det_classes']):
            raise SensorError('dataset', 'classes', f'the classes of the existing '
                              f'{META_FILE} to append to', 'different classes',
                              str(self.root / META_FILE))
        self.used |= set(old.sensors) | {k for k, d in (('gt_sem_seg', old.seg),
                                                        ('gt_depth', old.gt_depth)) if d}
        if (self.root / BOXES_FILE).is_file():
            coco = json.loads((self.root / BOXES_FILE).read_text())
            self.images, self.annotations = coco['images'], coco['annotations']
        for name, rel in old.splits.items():
            path = self.root / rel
            self.split_ids[name] = path.read_text().split() if path.is_file() else []

    def write(self, sample_id: str, sample: Mapping, split: Optional[str] = None) -> None:
        """Write one decoded sample; rewriting an id replaces it (files, boxes, split entry).
        Everything is checked before the folder is touched."""
        sample_id = str(sample_id)
        if not sample_id or '/' in sample_id or sample_id.startswith('.'):
            raise SensorError('meta', 'sample_id', 'a plain file stem', repr(sample_id))
        raws, shape = self._encode_arrays(sample_id, sample)
        boxes = self._box_entries(sample_id, sample, shape)
        for key, folder in FOLDERS.items():
            folder = self.root / folder
            for stale in folder.glob(glob.escape(sample_id) + '.*') if folder.is_dir() else ():
                stale.unlink()
            if key in raws:
                _save(folder / raws[key][0], raws[key][1], key)
        self.used |= set(raws)
        stale = {img['id'] for img in self.images if Path(img['file_name']).stem == sample_id}
        self.images = [img for img in self.images if img['id'] not in stale]
        self.annotations = [a for a in self.annotations if a['image_id'] not in stale]
        if boxes is not None:   # None = not annotated: absent from the json, reads back as None
            self.images.append(boxes[0])
            self.annotations += boxes[1]
        for ids in self.split_ids.values():
            if sample_id in ids:
                ids.remove(sample_id)
        if split is not None:
            self.split_ids.setdefault(split, []).append(sample_id)

    def _encode_arrays(self, sample_id: str, sample: Mapping):
        where = f'sample {sample_id!r}'
        mask = sample.get('modality_mask')
        raws, shape, first = {}, None, None
        for key in FOLDERS:
            value = sample.get(key)
            if key in SENSORS and mask is not None and \
                    bool(mask[SENSORS.index(key)]) != (value is not None):
                raise SensorError(key, 'modality_mask', f'{value is not None} (the array is '
                                  f'{"present" if value is not None else "None"})',
                                  bool(mask[SENSORS.index(key)]), where)
            if value is None:
                continue
            if key not in self.encodings:
                raise SensorError(key, 'encodings', f'an encoding for {key} in the writer meta',
                                  'none', where)
            if shape is not None and tuple(np.shape(value)[:2]) != shape:
                raise SensorError(key, 'shape', f'{shape} like {first}', np.shape(value)[:2],
                                  where)
            shape, first = shape or tuple(np.shape(value)[:2]), first or key
            enc = get_encoding(self.encodings[key], key, _MODALITY[key])
            name = f'{sample_id}{enc.suffix}'
            raws[key] = (name, enc.encode(value, key, self.root / FOLDERS[key] / name))
        if not set(raws) & set(SENSORS):
            raise SensorError('any', 'sensors', f'at least one of {SENSORS} present', 'none',
                              where)
        return raws, shape

    def _box_entries(self, sample_id: str, sample: Mapping, shape):
        bboxes = sample.get('gt_bboxes')
        if bboxes is None:
            return None
        labels = sample.get('gt_bboxes_labels')
        where = f'sample {sample_id!r}'
        if labels is None or len(labels) != len(bboxes):
            raise SensorError('boxes', 'gt_bboxes_labels', f'{len(bboxes)} labels',
                              None if labels is None else len(labels), where)
        n_classes = len(self.meta['det_classes'])
        if len(labels) and (np.min(labels) < 0 or np.max(labels) >= n_classes):
            raise SensorError('boxes', 'gt_bboxes_labels',
                              f'indices into det_classes (0..{n_classes - 1})',
                              np.asarray(labels).tolist(), where)
        extra = {k: _json_value(k, v) for k, v in sample.items() if k not in CONTRACT_KEYS}
        image_id = max((img['id'] for img in self.images), default=0) + 1
        first = max((a['id'] for a in self.annotations), default=0) + 1
        return (coco_image_entry(image_id, sample_id, shape, extra),
                coco_annotations(image_id, bboxes, labels, first))

    def close(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        splits = {}
        for name, ids in self.split_ids.items():
            splits[name] = f'splits/{name}.txt'
            (self.root / 'splits').mkdir(exist_ok=True)
            (self.root / splits[name]).write_text(''.join(f'{i}\n' for i in ids))
        coco = dict(images=self.images, annotations=self.annotations,
                    categories=coco_categories(self.meta['det_classes']))
        (self.root / BOXES_FILE).write_text(json.dumps(coco))
        listed = self.used if self.used & set(SENSORS) else set(self.encodings)
        self._spec(listed, splits).dump(self.root / META_FILE)

    def __enter__(self) -> 'GenericLayoutWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


def _save(path: Path, raw: np.ndarray, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == '.npy':
        np.save(path, raw)
    elif not cv2.imwrite(str(path), raw):
        raise SensorError(key, 'file', 'a writable path', 'cv2.imwrite failed', str(path))


def write_generic_sample(root, sample_id: str, sample: Mapping, meta: Mapping,
                         split: Optional[str] = None) -> None:
    """Write one sample and update dataset.yaml / annotations.json / splits (appends to ``root``).

    Convenient for a few samples; for many, keep one :class:`GenericLayoutWriter` open."""
    with GenericLayoutWriter(root, meta) as writer:
        writer.write(sample_id, sample, split)
