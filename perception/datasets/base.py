"""``MultiSensorDataset``: the mmengine dataset every source builds on.

A subclass only builds its ``data_list`` (one :func:`sample_info` per frame: file names and the
encoding of each). Decoding is ``LoadMultiSensorSample`` (perception.datasets.loading), the first
step of every pipeline; :meth:`MultiSensorDataset.load_sample` runs it alone for tools and tests.

Detection classes across datasets are mapped in the config, not in code: ``det_classes`` (the
model's class list) and ``det_class_map`` (this dataset's class name -> a name in ``det_classes``,
or None to drop it) make the dataset's box labels index the model's list, and every sample records
the model classes its dataset labels as ``det_labelled`` (docs/data.md, "Detection classes across
datasets").
"""
from __future__ import annotations

import colorsys
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from perception.contract import DET_LABELLED, SENSORS, ConfigError, SensorError

from ..sensors.encodings import IMAGE_SUFFIXES
from .loading import TARGET_MODALITIES, decode_sample


def source(path, encoding: str, **params) -> Dict[str, Any]:
    """One file of a sample and its encoding (``params`` for encodings that need more, e.g. a
    calibration file)."""
    return dict(path=str(path), encoding=encoding, **params)


def sample_info(img_id: str, sensors: Mapping[str, Optional[dict]],
                targets: Optional[Mapping[str, Optional[dict]]] = None,
                boxes: Optional[dict] = None, extra: Optional[Mapping[str, Any]] = None) -> dict:
    """A ``data_info`` entry (the layout is documented in perception.datasets.loading).

    ``sensors``/``targets`` map a name to :func:`source` or ``None`` (missing); ``boxes`` is
    :func:`box_annotation` or ``None`` (not annotated).
    """
    bad = set(sensors) - set(SENSORS) or set(targets or {}) - set(TARGET_MODALITIES)
    if bad:
        raise ValueError(f'sample {img_id!r}: unknown sensors/targets {sorted(bad)}')
    info = dict(img_id=str(img_id), sensors={k: v for k, v in sensors.items() if v},
                targets={k: v for k, v in (targets or {}).items() if v}, extra=dict(extra or {}))
    if boxes is not None:
        info['boxes'] = boxes
    return info


def box_annotation(bboxes: Sequence[Sequence[float]], labels: Sequence[int], source_file,
                   shape: Optional[Tuple[int, int]] = None) -> dict:
    """Boxes xyxy in pixels with label indices into ``det_classes``; ``shape`` = (H, W) the
    annotation was made on, checked against the decoded image when given."""
    return dict(bboxes=[[float(v) for v in b] for b in bboxes], labels=[int(v) for v in labels],
                source=str(source_file), shape=None if shape is None else tuple(shape))


#: Suffixes of per-sample files; anything else in a folder (README, thumbs.db) is not a sample.
SAMPLE_SUFFIXES = IMAGE_SUFFIXES + ('.npy', )


def index_folder(folder, sensor: str, suffixes: Sequence[str] = SAMPLE_SUFFIXES
                 ) -> Dict[str, Path]:
    """``{stem: file}`` of one folder of per-sample files with one of ``suffixes`` (a folder
    that does not exist gives ``{}``); two files with one stem are ambiguous."""
    folder = Path(folder)
    files: Dict[str, Path] = {}
    if not folder.is_dir():
        return files
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in suffixes and not f.name.startswith('.'):
            if f.stem in files:
                raise SensorError(sensor, 'file', f'one file per sample id in {folder}',
                                  f'{files[f.stem].name} and {f.name}', str(f))
            files[f.stem] = f
    return files


def sort_ids(ids) -> List[str]:
    """Numeric ids in numeric order (RoadScene's 3, 4, 9, 14), others after, by text."""
    return sorted(ids, key=lambda i: (0, int(i), i) if i.isdigit() else (1, 0, i))


def default_palette(num_classes: int) -> List[List[int]]:
    """Fixed, well-separated colours (hue steps by the golden ratio), same on every machine."""
    colours = []
    for i in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65 + 0.35 * (i % 2),
                                      0.95 - 0.3 * ((i // 2) % 2))
        colours.append([int(round(255 * c)) for c in (r, g, b)])
    return colours




def resolve_det_class_map(own: Sequence[str], det_classes: Optional[Sequence[str]],
                          det_class_map: Optional[Mapping[str, Optional[str]]], owner: str
                          ) -> Tuple[List[Optional[int]], Tuple[int, ...]]:
    """How a dataset's classes ``own`` become indices into the model's ``det_classes``.

    ``det_class_map`` maps a class of ``own`` to a name in ``det_classes`` or to None (its boxes
    are dropped on purpose); a class not in it keeps its name, which must then be in
    ``det_classes``. ``owner`` names the dataset in errors (ConfigError, with the fix).

    Returns ``(index per class of own: int or None, the sorted det_classes indices labelled)``.
    """
    if det_classes is None:
        raise ConfigError(f'{owner}: det_class_map needs det_classes (the model\'s class list, '
                          'in target order) to map into')
    if isinstance(det_classes, str) or len(set(det_classes)) != len(det_classes):
        raise ConfigError(f'{owner}: det_classes must be a list of distinct class names, got '
                          f'{det_classes!r}')
    det_class_map = dict(det_class_map or {})
    target = {str(name): i for i, name in enumerate(det_classes)}
    for name, to in det_class_map.items():
        if name not in own:
            raise ConfigError(f'{owner}: det_class_map key {name!r} is not a class of this dataset '
                              f'(its det classes: {list(own)})')
        if to is not None and to not in target:
            raise ConfigError(f'{owner}: det_class_map[{name!r}] = {to!r} is not in det_classes '
                              f'{list(det_classes)} (give a name of that list, or None to drop '
                              'the class)')
    index: List[Optional[int]] = []
    for name in own:
        to = det_class_map[name] if name in det_class_map else name
        if to is not None and to not in target:
            raise ConfigError(
                f'{owner}: det class {name!r} of this dataset is not in det_classes '
                f'{list(det_classes)}: add it to det_class_map, e.g. '
                f"det_class_map=dict({name}='<a name in det_classes>'), or "
                f'det_class_map=dict({name}=None) to drop its boxes on purpose')
        index.append(None if to is None else target[to])
    return index, tuple(sorted({i for i in index if i is not None}))


class MultiSensorDataset(BaseDataset):
    """Base of every multi-sensor dataset.

    Metainfo: ``seg_classes`` (label id = index), ``det_classes`` (box label = index) and
    ``palette`` (one RGB colour per seg class; a fixed default when not given).

    Args:
        data_root, pipeline, metainfo: as mmengine's ``BaseDataset``; ``metainfo`` may override
            the class lists, i.e. how this dataset's own files are read.
        det_classes: the model's detection classes, in target order. Given, the dataset's
            ``metainfo['det_classes']`` becomes this list, box labels index it, and every
            sample records ``det_labelled`` (:data:`DET_LABELLED`).
        det_class_map: this dataset's own class name -> a name in ``det_classes``, or None to
            drop that class's boxes on purpose (counted in the log). A class not in the map
            keeps its name, which must be in ``det_classes`` (else a ConfigError naming it).
    """

    METAINFO: dict = dict(seg_classes=(), det_classes=(), palette=())

    def __init__(self, data_root: str = '', pipeline: Sequence = (),
                 metainfo: Optional[Mapping] = None,
                 det_classes: Optional[Sequence[str]] = None,
                 det_class_map: Optional[Mapping[str, Optional[str]]] = None, **kwargs):
        kwargs.setdefault('ann_file', '')
        #: The dataset's own detection classes: what the labels in its files index or name.
        self.dataset_det_classes: Tuple[str, ...] = tuple(
            (metainfo or {}).get('det_classes', self.METAINFO.get('det_classes', ())))
        self._det_index: Optional[List[Optional[int]]] = None
        #: Indices into ``det_classes`` that this dataset labels (None without a class map).
        self.det_labelled: Optional[Tuple[int, ...]] = None
        if det_classes is not None or det_class_map is not None:
            self._det_index, self.det_labelled = resolve_det_class_map(
                self.dataset_det_classes, det_classes, det_class_map, type(self).__name__)
        # Pipelines name this package's transforms without a prefix; outside a Runner (tools,
        # tests) no default scope is set, so build them in ours. A scope set by a config wins.
        scope = None if DefaultScope.get_current_instance() is not None else 'perception'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(data_root=str(data_root), pipeline=list(pipeline),
                             metainfo=metainfo, **kwargs)
        if not self._metainfo.get('palette') and self._metainfo.get('seg_classes'):
            self._metainfo['palette'] = default_palette(len(self._metainfo['seg_classes']))
        if self._det_index is not None:
            self._metainfo['det_classes'] = tuple(str(c) for c in det_classes)
            print_log(f'{type(self).__name__}: det classes {list(self.dataset_det_classes)} -> '
                      f'{list(det_classes)}; labelled: '
                      f'{[det_classes[i] for i in self.det_labelled]}', logger='current',
                      level=logging.INFO)

    def filter_data(self) -> List[dict]:
        """The data list with box labels mapped to ``det_classes`` and ``det_labelled`` set
        (without a class map: unchanged)."""
        data_list = super().filter_data()
        if self._det_index is None:
            return data_list
        dropped: Counter = Counter()
        for info in data_list:
            boxes = info.get('boxes')
            if boxes is not None:
                bboxes, labels = [], []
                for box, label in zip(boxes['bboxes'], boxes['labels']):
                    if self._det_index[label] is None:
                        dropped[self.dataset_det_classes[label]] += 1
                    else:
                        bboxes.append(box)
                        labels.append(self._det_index[label])
                info['boxes'] = dict(boxes, bboxes=bboxes, labels=labels)
            info.setdefault('extra', {})[DET_LABELLED] = self.det_labelled
        if dropped:
            print_log(f'{type(self).__name__}: det_class_map drops boxes of classes mapped to '
                      f'None: {dict(dropped)}', logger='current', level=logging.INFO)
        return data_list

    def map_det_classes(self, sample: dict) -> dict:
        """A decoded sample (contract section 1, labels in this dataset's own classes) with its
        boxes mapped to ``det_classes`` (dropped classes' boxes removed) and ``det_labelled``
        set, in place; unchanged without a class map. For datasets that decode without
        ``load_data_list`` (the synthetic scenes)."""
        if self._det_index is None:
            return sample
        if sample.get('gt_bboxes') is not None:
            lut = np.array([-1 if i is None else i for i in self._det_index], np.int64)
            mapped = lut[np.asarray(sample['gt_bboxes_labels'], np.int64).reshape(-1)]
            keep = mapped >= 0
            sample['gt_bboxes'] = np.asarray(sample['gt_bboxes']).reshape(-1, 4)[keep]
            sample['gt_bboxes_labels'] = mapped[keep]
        sample[DET_LABELLED] = self.det_labelled
        return sample

    @property
    def root(self) -> Path:
        return Path(self.data_root)

    def load_sample(self, idx: int) -> dict:
        """The decoded sample ``idx`` (contract section 1) without the rest of the pipeline."""
        return decode_sample(self.get_data_info(idx))

    def load_data_list(self) -> List[dict]:  # pragma: no cover - each source implements it
        raise NotImplementedError(f'{type(self).__name__} must build its data_list')
