"""RGB-thermal sources: MFNet (RGB + thermal in one 4-channel PNG), MSRS and RoadScene (visible and
infrared in two folders), MSRS with detection boxes (YOLO txt), LLVIP in its own layout (VOC XML).

Day/night: MFNet frame names end in ``D`` (day) or ``N`` (night), and MSRS keeps MFNet's frame
names; that letter becomes the sample's ``condition``. The thermal images of all of them are 8-bit
and already normalised by the dataset authors (no radiometric scale); LLVIP stores them as 3 equal
channels, which ``u8_unit`` reads as grey. Box files: perception.datasets.box_files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from perception.contract import SensorError
from perception.registry import DATASETS

from .base import MultiSensorDataset, index_folder, sample_info, sort_ids, source
from .box_files import BoxFolderReport, check_box_format, load_box_folder

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


def _split_ids(root: Path, split_file: Optional[str], available: Sequence[str],
               ids: Optional[Sequence[str]] = None,
               exclude_ids: Optional[Sequence[str]] = None) -> List[str]:
    """The frame ids to load: ``ids`` (a list), else those of ``split_file`` (one a line,
    relative to ``root``), else every available id (numeric ids in numeric order) but
    ``exclude_ids`` (e.g. the training frames: "every other frame of any folder"); listed ids
    must be available."""
    if ids is not None and split_file is not None:
        raise SensorError('dataset', 'ids', 'either ids or split_file, not both',
                          f'ids and {split_file!r}', str(root))
    if exclude_ids is not None and (ids is not None or split_file is not None):
        raise SensorError('dataset', 'exclude_ids', 'exclude_ids without ids or split_file '
                          '(it selects every other frame)', 'both given', str(root))
    if ids is None and split_file is None:
        excluded = set(str(i) for i in exclude_ids or ())
        return sort_ids([i for i in available if i not in excluded])
    where = str(root)
    if ids is None:
        path = root / split_file
        where = str(path)
        if not path.is_file():
            raise SensorError('dataset', 'split_file', 'an existing list of frame ids',
                              'no such file', where)
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    ids = [str(i) for i in ids]
    missing = sorted(set(ids) - set(available))
    if missing:
        raise SensorError('dataset', 'split_file' if split_file else 'ids',
                          'ids whose image files exist', missing[:5], where)
    return ids


def _check_pairs(ids: Sequence[str], folders: Mapping[str, Tuple[Dict[str, Path], Path]]) -> None:
    """Every id has a file in every folder (``{sensor: (index, folder)}``); else a SensorError
    naming the image without its partner."""
    for img_id in ids:
        present = {s: files[img_id] for s, (files, _) in folders.items() if img_id in files}
        missing = [s for s in folders if s not in present]
        if missing:
            raise SensorError(missing[0], 'file', f'a {missing[0]} partner in '
                              f'{folders[missing[0]][1]} for every image (require_pairs=True)',
                              f'none for {img_id!r}', str(next(iter(present.values()))))


def _pair_images(first: Dict[str, Path], second: Dict[str, Path]) -> Dict[str, List[Path]]:
    """``{id: [image files]}`` over two sensor folders, ``first``'s file first."""
    return {i: [f[i] for f in (first, second) if i in f] for i in set(first) | set(second)}


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

    A frame present in one folder only is kept with the other sensor missing (``require_pairs``
    makes it an error). The visible images may be colour or grey (``rgb8`` replicates grey).

    Args:
        label_dir: segmentation label PNGs (``label_u8``), optional.
        split_file: a file of frame ids, one a line, relative to ``data_root``.
        ids: instead of ``split_file``, the frame ids to load (e.g. a split declared in the
            config, as ``configs/rgbt_det/`` does for a read-only data folder).
        exclude_ids: instead of either, every frame but these (a held-out set that is "the rest"
            of whatever folder ``data_root`` names, e.g. every frame that is not a training one).
        box_dir: a folder of box label files ``<id>.txt`` / ``<id>.xml`` (``box_format``
            ``'yolo'`` / ``'voc'``; perception.datasets.box_files), optional. YOLO boxes are
            scaled by the infrared image's size (the visible one's when there is no infrared).
            A frame without a label file is not annotated; a label file without an image in
            either folder is an error.
        require_pairs: every frame must have both images (else a SensorError naming the one
            without its partner).
    """

    def __init__(self, data_root: str, vi_dir: str = 'vi', ir_dir: str = 'ir',
                 label_dir: Optional[str] = None, rgb_encoding: str = 'rgb8',
                 thermal_encoding: str = 'u8_unit', split_file: Optional[str] = None,
                 box_dir: Optional[str] = None, box_format: str = 'yolo',
                 require_pairs: bool = False, ids: Optional[Sequence[str]] = None,
                 exclude_ids: Optional[Sequence[str]] = None, **kwargs):
        self.vi_dir, self.ir_dir, self.label_dir = vi_dir, ir_dir, label_dir
        self.rgb_encoding, self.thermal_encoding = rgb_encoding, thermal_encoding
        self.split_file, self.ids, self.exclude_ids = split_file, ids, exclude_ids
        self.box_dir, self.require_pairs = box_dir, bool(require_pairs)
        self.box_format = check_box_format(box_format, f'{type(self).__name__}(box_format=...)')
        #: What the box folder gave (None without ``box_dir``), also logged.
        self.box_report: Optional[BoxFolderReport] = None
        super().__init__(data_root=data_root, **kwargs)

    def condition(self, img_id: str) -> Dict[str, str]:
        return {}

    def load_data_list(self) -> List[dict]:
        vi = index_folder(self.root / self.vi_dir, 'rgb')
        ir = index_folder(self.root / self.ir_dir, 'thermal')
        labels = {} if self.label_dir is None else index_folder(self.root / self.label_dir,
                                                                'gt_sem_seg')
        ids = _split_ids(self.root, self.split_file, list(set(vi) | set(ir)), self.ids,
                         self.exclude_ids)
        if self.require_pairs:
            _check_pairs(ids, dict(rgb=(vi, self.root / self.vi_dir),
                                   thermal=(ir, self.root / self.ir_dir)))
        boxes: Dict[str, dict] = {}
        if self.box_dir is not None:
            boxes, self.box_report = load_box_folder(
                self.root / self.box_dir, self.box_format, self.dataset_det_classes, ids,
                _pair_images(ir, vi))
        data_list = []
        for img_id in ids:
            data_list.append(sample_info(
                img_id,
                sensors=dict(rgb=source(vi[img_id], self.rgb_encoding) if img_id in vi else None,
                             thermal=source(ir[img_id], self.thermal_encoding)
                             if img_id in ir else None),
                targets=dict(gt_sem_seg=source(labels[img_id], 'label_u8')
                             if img_id in labels else None),
                boxes=boxes.get(img_id), extra=self.condition(img_id)))
        return data_list


@DATASETS.register_module()
class MSRSDataset(VisibleInfraredDataset):
    """MSRS (Tang et al., 2022; MFNet frames, registered and enhanced): ``vi/``, ``ir/`` and, in
    the full dataset, ``Segmentation_labels/`` with MFNet's classes (pass ``label_dir``)."""

    METAINFO = dict(seg_classes=MFNET_CLASSES, det_classes=(), palette=MFNET_PALETTE)

    def condition(self, img_id: str) -> Dict[str, str]:
        return mfnet_condition(img_id)


#: The classes of the MSRS detection labels (Lele-3/MSRS-detection-label): YOLO ids 0, 1, 2.
MSRS_DET_CLASSES = ('person', 'bicycle', 'car')


@DATASETS.register_module()
class MSRSDetDataset(MSRSDataset):
    """MSRS pairs with box labels: ``vi/``, ``ir/`` and ``labels/<id>.txt`` YOLO ``class cx cy w
    h`` (0 person, 1 bicycle, 2 car), drawn on the infrared image; ``box_dir='labels_visible'``
    reads the same objects as labelled on the visible image (at night they miss people).
    ``condition`` day/night from the frame name; frames must come in pairs by default.
    """

    METAINFO = dict(MSRSDataset.METAINFO, det_classes=MSRS_DET_CLASSES)

    def __init__(self, data_root: str, box_dir: Optional[str] = 'labels',
                 box_format: str = 'yolo', require_pairs: bool = True, **kwargs):
        super().__init__(data_root=data_root, box_dir=box_dir, box_format=box_format,
                         require_pairs=require_pairs, **kwargs)


#: LLVIP's one class.
LLVIP_CLASSES = ('person', )


@DATASETS.register_module()
class LLVIPDataset(MultiSensorDataset):
    """LLVIP (Jia et al., ICCV 2021 workshops) in its own layout::

        visible/<split>/<id>.jpg     colour (rgb8)
        infrared/<split>/<id>.jpg    thermal stored as 3 equal channels (u8_unit reads it as grey)
        Annotations/<id>.xml         Pascal VOC, class person, one folder for every split

    A frame with only one of its images is loaded with the other sensor missing (the 50
    thermal-only train frames in ../shared); a frame without an XML is not annotated (``boxes``
    None: LLVIP's test split here), distinct from an XML with zero objects (zero boxes).

    Args:
        split: ``'train'`` or ``'test'`` (a subfolder of ``visible/`` and ``infrared/``).
        ids: the frame ids to load (default: every id of the split, in numeric order).
        split_file: instead of ``ids``, a file of ids (one a line) relative to ``data_root``.
        ann_dir: the VOC folder (None: no boxes). An XML whose id has no image in any split is
            an error.
        require_pairs: every frame must have both images.
        condition: the ``condition`` of every sample (LLVIP is a low-light set taken at
            night); None leaves it out.
    """

    METAINFO = dict(seg_classes=(), det_classes=LLVIP_CLASSES, palette=())

    def __init__(self, data_root: str, split: str = 'train', ids: Optional[Sequence[str]] = None,
                 split_file: Optional[str] = None, ann_dir: Optional[str] = 'Annotations',
                 visible_dir: str = 'visible', infrared_dir: str = 'infrared',
                 rgb_encoding: str = 'rgb8', thermal_encoding: str = 'u8_unit',
                 require_pairs: bool = False, condition: Optional[str] = 'night', **kwargs):
        self.split, self.ids, self.split_file, self.ann_dir = split, ids, split_file, ann_dir
        self.visible_dir, self.infrared_dir = visible_dir, infrared_dir
        self.rgb_encoding, self.thermal_encoding = rgb_encoding, thermal_encoding
        self.require_pairs, self.condition = bool(require_pairs), condition
        #: What the VOC folder gave (None without ``ann_dir``), also logged.
        self.box_report: Optional[BoxFolderReport] = None
        super().__init__(data_root=data_root, **kwargs)

    def _all_images(self, sensor_dir: str, sensor: str) -> Dict[str, List[Path]]:
        """``{id: [files]}`` over every split folder of ``sensor_dir``."""
        out: Dict[str, List[Path]] = {}
        folder = self.root / sensor_dir
        for split_dir in sorted(folder.iterdir()) if folder.is_dir() else ():
            if split_dir.is_dir():
                for img_id, path in index_folder(split_dir, sensor).items():
                    out.setdefault(img_id, []).append(path)
        return out

    def load_data_list(self) -> List[dict]:
        vis_dir = self.root / self.visible_dir / self.split
        ir_dir = self.root / self.infrared_dir / self.split
        if not vis_dir.is_dir() and not ir_dir.is_dir():
            raise SensorError('dataset', 'split', f'a folder {self.visible_dir}/<split> or '
                              f'{self.infrared_dir}/<split>', repr(self.split), str(self.root))
        vi, ir = index_folder(vis_dir, 'rgb'), index_folder(ir_dir, 'thermal')
        ids = _split_ids(self.root, self.split_file, list(set(vi) | set(ir)), self.ids)
        if self.require_pairs:
            _check_pairs(ids, dict(rgb=(vi, vis_dir), thermal=(ir, ir_dir)))
        boxes: Dict[str, dict] = {}
        if self.ann_dir is not None:
            images = self._all_images(self.infrared_dir, 'thermal')
            for img_id, paths in self._all_images(self.visible_dir, 'rgb').items():
                images.setdefault(img_id, []).extend(paths)
            boxes, self.box_report = load_box_folder(self.root / self.ann_dir, 'voc',
                                                     self.dataset_det_classes, ids, images)
        extra = {} if self.condition is None else {'condition': self.condition}
        return [sample_info(
            img_id,
            sensors=dict(rgb=source(vi[img_id], self.rgb_encoding) if img_id in vi else None,
                         thermal=source(ir[img_id], self.thermal_encoding)
                         if img_id in ir else None),
            boxes=boxes.get(img_id), extra=extra) for img_id in ids]


@DATASETS.register_module()
class RoadSceneDataset(VisibleInfraredDataset):
    """RoadScene (Xu et al., U2Fusion): ``vi/`` and ``ir/`` road scenes, sizes vary per pair,
    no labels."""
