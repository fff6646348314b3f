"""RGB-thermal sources: MFNet (RGB + thermal in one 4-channel PNG), MSRS and RoadScene (visible and
infrared in two folders).

Day/night: MFNet frame names end in ``D`` (day) or ``N`` (night), and MSRS keeps MFNet's frame
names; that letter becomes the sample's ``condition``. The thermal images of all three are 8-bit and
already normalised by the dataset authors (no radiometric scale).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

from perception.contract import SensorError
from perception.registry import DATASETS

from .base import MultiSensorDataset, index_folder, sample_info, sort_ids, source

#: MFNet's 9 classes (label ids 0-8, "unlabeled" is class 0 as in MFNet/RTFNet evaluations).
MFNET_CLASSES = ('unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop', 'guardrail',
                 'color_cone', 'bump')
#: RTFNet's colours for these classes.
MFNET_PALETTE = [[0, 0, 0], [64, 0, 128], [64, 64, 0], [0, 128, 192], [0, 0, 192],
                 [128, 128, 0], [64, 64, 128], [192, 128, 128], [192, 64, 0]]
_CONDITIONS = {'D': 'day', 'N': 'night'}


def mfnet_condition(frame_id: str) -> Dict[str, str]:
    """``{'condition': 'day' | 'night'}`` from an MFNet-style frame name, else ``{}``."""
    cond = _CONDITIONS.get(frame_id[-1:])
    return {} if cond is None else {'condition': cond}


def _split_ids(root: Path, split_file: Optional[str], available: Sequence[str]) -> List[str]:
    if split_file is None:
        return sort_ids(available)
    path = root / split_file
    if not path.is_file():
        raise SensorError('dataset', 'split_file', 'an existing list of frame ids',
                          'no such file', str(path))
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    missing = sorted(set(ids) - set(available))
    if missing:
        raise SensorError('dataset', 'split_file', 'ids whose image files exist', missing[:5],
                          str(path))
    return ids


@DATASETS.register_module()
class MFNetDataset(MultiSensorDataset):
    """MFNet (Ha et al., IROS 2017): ``<img_dir>/<id>.png`` is 4-channel (R, G, B, thermal).

    The full dataset: ``img_dir='images', label_dir='labels', split_file='train.txt'``; the sample
    in ../shared/data/real/mfnet_rgbt is a flat folder of images (the defaults).
    """

    METAINFO = dict(seg_classes=MFNET_CLASSES, det_classes=(), palette=MFNET_PALETTE)

    def __init__(self, data_root: str, img_dir: str = '', label_dir: Optional[str] = None,
                 split_file: Optional[str] = None, **kwargs):
        self.img_dir, self.label_dir, self.split_file = img_dir, label_dir, split_file
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        images = index_folder(self.root / self.img_dir, 'rgb')
        labels = {} if self.label_dir is None else index_folder(self.root / self.label_dir,
                                                                'gt_sem_seg')
        data_list = []
        for img_id in _split_ids(self.root, self.split_file, list(images)):
            path = images[img_id]
            data_list.append(sample_info(
                img_id, sensors=dict(rgb=source(path, 'mfnet_rgb'),
                                     thermal=source(path, 'mfnet_rgba')),
                targets=dict(gt_sem_seg=source(labels[img_id], 'label_u8')
                             if img_id in labels else None),
                extra=mfnet_condition(img_id)))
        return data_list


@DATASETS.register_module()
class VisibleInfraredDataset(MultiSensorDataset):
    """Visible/infrared pairs in two folders with equal file names (``vi/<id>``, ``ir/<id>``).

    A frame present in one folder only is kept with the other sensor missing. The visible images
    may be colour or grey (``rgb8`` replicates grey to three channels).
    """

    def __init__(self, data_root: str, vi_dir: str = 'vi', ir_dir: str = 'ir',
                 label_dir: Optional[str] = None, rgb_encoding: str = 'rgb8',
                 thermal_encoding: str = 'u8_unit', split_file: Optional[str] = None, **kwargs):
        self.vi_dir, self.ir_dir, self.label_dir = vi_dir, ir_dir, label_dir
        self.rgb_encoding, self.thermal_encoding = rgb_encoding, thermal_encoding
        self.split_file = split_file
        super().__init__(data_root=data_root, **kwargs)

    def condition(self, img_id: str) -> Dict[str, str]:
        return {}

    def load_data_list(self) -> List[dict]:
        vi = index_folder(self.root / self.vi_dir, 'rgb')
        ir = index_folder(self.root / self.ir_dir, 'thermal')
        labels = {} if self.label_dir is None else index_folder(self.root / self.label_dir,
                                                                'gt_sem_seg')
        data_list = []
        for img_id in _split_ids(self.root, self.split_file, list(set(vi) | set(ir))):
            data_list.append(sample_info(
                img_id,
                sensors=dict(rgb=source(vi[img_id], self.rgb_encoding) if img_id in vi else None,
                             thermal=source(ir[img_id], self.thermal_encoding)
                             if img_id in ir else None),
                targets=dict(gt_sem_seg=source(labels[img_id], 'label_u8')
                             if img_id in labels else None),
                extra=self.condition(img_id)))
        return data_list


@DATASETS.register_module()
class MSRSDataset(VisibleInfraredDataset):
    """MSRS (Tang et al., 2022; MFNet frames, registered and enhanced): ``vi/``, ``ir/`` and, in
    the full dataset, ``Segmentation_labels/`` with MFNet's classes (pass ``label_dir``)."""

    METAINFO = dict(seg_classes=MFNET_CLASSES, det_classes=(), palette=MFNET_PALETTE)

    def condition(self, img_id: str) -> Dict[str, str]:
        return mfnet_condition(img_id)


@DATASETS.register_module()
class RoadSceneDataset(VisibleInfraredDataset):
    """RoadScene (Xu et al., U2Fusion): ``vi/`` and ``ir/`` road scenes, sizes vary per pair,
    no labels."""
