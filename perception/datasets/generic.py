"""``GenericMultiSensorDataset``: users' own data in the folder layout of docs/data.md::

    ROOT/dataset.yaml                  (perception.datasets.layout.LayoutSpec)
    ROOT/<sensor dir>/<id>.<suffix>    one folder per sensor, any subset of rgb/thermal/depth
    ROOT/<seg dir>/<id>.png            optional targets
    ROOT/<gt_depth dir>/<id>.png
    ROOT/annotations.json              optional COCO boxes (perception.datasets.coco_boxes)
    ROOT/<boxes dir>/<id>.txt|.xml     or YOLO txt / VOC XML boxes (perception.datasets.box_files)
    ROOT/splits/<split>.txt            optional lists of sample ids

Sample ids are the file stems, united over the sensor folders: a sample may lack any sensor.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from mmengine.logging import print_log

from perception.contract import SensorError
from perception.registry import DATASETS

from .base import (MultiSensorDataset, box_annotation, index_folder, sample_info, sort_ids,
                   source)
from .box_files import BoxFolderReport, load_box_folder
from .coco_boxes import read_coco_boxes
from .layout import META_FILE, DirSpec, LayoutSpec

def read_split(path: Path) -> List[str]:
    if not path.is_file():
        raise SensorError('dataset', 'splits', 'an existing file of sample ids', 'no such file',
                          str(path))
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@DATASETS.register_module()
class GenericMultiSensorDataset(MultiSensorDataset):
    """A dataset in the generic layout.

    Args:
        data_root: the folder holding ``meta_file``.
        meta_file: the layout description, relative to ``data_root``.
        split: a key of ``splits`` in the meta file (None = every sample, by id: numeric ids
            in numeric order, others by text).
        pipeline: transforms, normally starting with ``dict(type='LoadMultiSensorSample')``.
        metainfo: overrides ``seg_classes`` / ``det_classes`` / ``palette`` of the meta file.
    """

    def __init__(self, data_root: str, meta_file: str = META_FILE, split: Optional[str] = None,
                 pipeline: Sequence = (), metainfo: Optional[Mapping] = None, **kwargs):
        self.spec = LayoutSpec.load(Path(data_root) / meta_file)
        self.meta_path = Path(data_root) / meta_file
        if split is not None and split not in self.spec.splits:
            raise SensorError('dataset', 'split', f'one of {sorted(self.spec.splits)}', split,
                              str(self.meta_path))
        self.split = split
        #: What a folder of YOLO/VOC label files gave (None for COCO boxes or none), also logged.
        self.box_report: Optional[BoxFolderReport] = None
        merged = dict(seg_classes=self.spec.seg_classes, det_classes=self.spec.det_classes)
        if self.spec.palette is not None:
            merged['palette'] = self.spec.palette
        merged.update(metainfo or {})
        super().__init__(data_root=data_root, pipeline=pipeline, metainfo=merged, **kwargs)
        self._metainfo['dataset_name'] = self.spec.name

    def _folder(self, spec: DirSpec, sensor: str) -> Dict[str, Path]:
        folder = self.root / spec.dir
        if not folder.is_dir():
            print_log(f'{self.meta_path}: {sensor} folder {folder} does not exist; '
                      f'every sample lacks {sensor}', logger='current', level=logging.WARNING)
        return index_folder(folder, sensor)

    def load_data_list(self) -> List[dict]:
        spec = self.spec
        sensor_files = {s: self._folder(d, s) for s, d in spec.sensors.items()}
        target_specs = {'gt_sem_seg': spec.seg, 'gt_depth': spec.gt_depth}
        target_files = {t: self._folder(d, t) for t, d in target_specs.items() if d is not None}
        boxes = {} if spec.boxes_file is None or not (self.root / spec.boxes_file).is_file() \
            else read_coco_boxes(self.root / spec.boxes_file, self.dataset_det_classes)
        ids = sort_ids(set().union(*(f.keys() for f in sensor_files.values())))
        if self.split is not None:
            split_file = self.root / spec.splits[self.split]
            listed = read_split(split_file)
            known = set(ids)
            missing = [i for i in listed if i not in known]
            if missing:
                raise SensorError('dataset', 'splits', 'ids that have at least one sensor file',
                                  missing[:5], str(split_file))
            ids = listed
        box_source = None if spec.boxes_file is None else self.root / spec.boxes_file
        box_infos = {img_id: box_annotation(ann.bboxes, ann.labels, box_source, ann.shape)
                     for img_id, ann in boxes.items()}
        if spec.boxes_dir is not None and not (self.root / spec.boxes_dir).is_dir():
            print_log(f'{self.meta_path}: boxes folder {self.root / spec.boxes_dir} does not '
                      'exist; no sample is annotated', logger='current', level=logging.WARNING)
        elif spec.boxes_dir is not None:
            images = {i: [files[i] for files in sensor_files.values() if i in files]
                      for i in set().union(*sensor_files.values())}
            box_infos, self.box_report = load_box_folder(
                self.root / spec.boxes_dir, spec.boxes_format, self.dataset_det_classes, ids,
                images)
        data_list = []
        for img_id in ids:
            ann = boxes.get(img_id)
            data_list.append(sample_info(
                img_id,
                sensors={s: source(files[img_id], spec.sensors[s].encoding)
                         for s, files in sensor_files.items() if img_id in files},
                targets={t: source(files[img_id], target_specs[t].encoding)
                         for t, files in target_files.items() if img_id in files},
                boxes=box_infos.get(img_id), extra=None if ann is None else ann.extra))
        return data_list
