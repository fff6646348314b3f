"""The generic dataset layout: ``ROOT/dataset.yaml`` parsed into a checked :class:`LayoutSpec`.

One spec is shared by the reader (:class:`~perception.datasets.generic.GenericMultiSensorDataset`)
and the writer (:class:`~perception.datasets.writer.GenericLayoutWriter`), so both agree on the
format documented in docs/data.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import yaml

from perception.contract import SENSORS, SensorError

from ..sensors.encodings import get_encoding
from .box_files import BOX_FORMATS

META_FILE = 'dataset.yaml'
SEG_ENCODING = 'label_u8'
#: Storage used by the writer when the meta does not name one: lossless and mm / 1/65535 exact.
DEFAULT_ENCODINGS = {'rgb': 'rgb8', 'thermal': 'u16_unit', 'depth': 'uint16_mm',
                     'gt_depth': 'uint16_mm'}
_TOP_KEYS = {'name', 'seg_classes', 'det_classes', 'palette', 'sensors', 'targets', 'splits'}
_TARGET_KEYS = {'seg', 'depth', 'boxes'}


@dataclass(frozen=True)
class DirSpec:
    """A folder of per-sample files ``<dir>/<sample id>.<suffix>`` in one encoding."""
    dir: str
    encoding: str


@dataclass
class LayoutSpec:
    name: str
    seg_classes: Tuple[str, ...] = ()
    det_classes: Tuple[str, ...] = ()
    palette: Optional[List[List[int]]] = None
    sensors: Dict[str, DirSpec] = field(default_factory=dict)
    seg: Optional[DirSpec] = None
    gt_depth: Optional[DirSpec] = None
    boxes_file: Optional[str] = None        # COCO json: targets.boxes {file: ...}
    boxes_dir: Optional[str] = None         # one label file per sample: {dir: ..., format: ...}
    boxes_format: Optional[str] = None      # with boxes_dir: a key of box_files.BOX_FORMATS
    splits: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping, path: str = META_FILE) -> 'LayoutSpec':
        def fail(fld, expected, got=None):
            return SensorError('dataset', fld, expected, got, path)

        if not isinstance(data, Mapping):
            raise fail('(top level)', 'a mapping', type(data).__name__)
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise fail(sorted(unknown)[0], f'only the keys {sorted(_TOP_KEYS)}', sorted(unknown))
        if not isinstance(data.get('name'), str):
            raise fail('name', 'a string', data.get('name'))
        sensors = {}
        for sensor, entry in (data.get('sensors') or {}).items():
            if sensor not in SENSORS:
                raise fail(f'sensors.{sensor}', f'one of {SENSORS}', sensor)
            sensors[sensor] = _dir_spec(entry, sensor, sensor, f'sensors.{sensor}', path, fail)
        if not sensors:
            raise fail('sensors', f'at least one of {SENSORS}', data.get('sensors'))
        targets = data.get('targets') or {}
        if set(targets) - _TARGET_KEYS:
            raise fail('targets', f'only {sorted(_TARGET_KEYS)}', sorted(targets))
        seg = targets.get('seg')
        if seg is not None:
            if not isinstance(seg, Mapping):
                raise fail('targets.seg', '{dir: <folder>}', seg)
            seg = {'encoding': SEG_ENCODING, **seg}
        boxes_file, boxes_dir, boxes_format = _boxes_spec(targets.get('boxes'), fail)
        palette = data.get('palette')
        seg_classes = tuple(str(c) for c in data.get('seg_classes') or ())
        if palette is not None and (len(palette) != len(seg_classes) or
                                    any(len(c) != 3 for c in palette)):
            raise fail('palette', f'{len(seg_classes)} [r, g, b] colours (one per seg class)',
                       palette)
        splits = data.get('splits') or {}
        if not all(isinstance(v, str) for v in splits.values()):
            raise fail('splits', '{split name: file of sample ids}', splits)
        return cls(
            name=data['name'], seg_classes=seg_classes,
            det_classes=tuple(str(c) for c in data.get('det_classes') or ()),
            palette=None if palette is None else [[int(v) for v in c] for c in palette],
            sensors=sensors,
            seg=None if seg is None else _dir_spec(seg, 'gt_sem_seg', 'label', 'targets.seg',
                                                   path, fail),
            gt_depth=None if targets.get('depth') is None else _dir_spec(
                targets['depth'], 'gt_depth', 'depth', 'targets.depth', path, fail),
            boxes_file=boxes_file, boxes_dir=boxes_dir, boxes_format=boxes_format,
            splits=dict(splits))

    @classmethod
    def load(cls, path) -> 'LayoutSpec':
        path = Path(path)
        if not path.is_file():
            raise SensorError('dataset', 'meta_file', f'a {META_FILE} describing the layout',
                              'no such file', str(path))
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise SensorError('dataset', 'meta_file', 'valid YAML', str(exc).splitlines()[0],
                              str(path))
        return cls.from_dict(data, str(path))

    def to_dict(self) -> dict:
        data = dict(name=self.name, seg_classes=list(self.seg_classes),
                    det_classes=list(self.det_classes))
        if self.palette is not None:
            data['palette'] = [list(c) for c in self.palette]
        data['sensors'] = {s: dict(dir=d.dir, encoding=d.encoding) for s, d in self.sensors.items()}
        targets = {}
        if self.seg is not None:
            targets['seg'] = dict(dir=self.seg.dir, encoding=self.seg.encoding)
        if self.gt_depth is not None:
            targets['depth'] = dict(dir=self.gt_depth.dir, encoding=self.gt_depth.encoding)
        if self.boxes_file is not None:
            targets['boxes'] = dict(file=self.boxes_file)
        elif self.boxes_dir is not None:
            targets['boxes'] = dict(dir=self.boxes_dir, format=self.boxes_format)
        data['targets'] = targets
        if self.splits:
            data['splits'] = dict(self.splits)
        return data

    def dump(self, path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _boxes_spec(boxes, fail) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """``(file, dir, format)`` of ``targets.boxes``: ``{file: <COCO json>}`` (``format: coco``
    optional) or ``{dir: <folder of label files>, format: yolo | voc}``."""
    expected = ('{file: <COCO json>} or {dir: <folder of label files>, format: one of '
                f'{sorted(BOX_FORMATS)}}}')
    if boxes is None:
        return None, None, None
    if not isinstance(boxes, Mapping) or set(boxes) - {'file', 'dir', 'format'}:
        raise fail('targets.boxes', expected, boxes)
    if isinstance(boxes.get('file'), str) and 'dir' not in boxes and \
            boxes.get('format', 'coco') == 'coco':
        return boxes['file'], None, None
    if isinstance(boxes.get('dir'), str) and 'file' not in boxes and \
            boxes.get('format') in BOX_FORMATS:
        return None, boxes['dir'], boxes['format']
    raise fail('targets.boxes', expected, boxes)


def _dir_spec(entry, sensor: str, modality: str, fld: str, path: str, fail) -> DirSpec:
    if not isinstance(entry, Mapping) or not isinstance(entry.get('dir'), str):
        raise fail(fld, '{dir: <folder>, encoding: <name>}', entry)
    if not isinstance(entry.get('encoding'), str):
        raise fail(f'{fld}.encoding', 'an encoding name (perception.sensors.encodings)',
                   entry.get('encoding'))
    get_encoding(entry['encoding'], sensor, modality, path)   # unknown / wrong modality raise
    return DirSpec(entry['dir'], entry['encoding'])
