"""SUN RGB-D as prepared by mmdetection3d (``sunrgbd_trainval/``): colour image, 2D boxes from the
label files and, where present, depth recovered from the point cloud ``depth/<id>.mat``.

Conventions (mmdet3d ``tools/dataset_converters/sunrgbd_data_utils.py`` and the SUN RGB-D toolbox):
* ``label/<id>.txt``: ``class x y w h cx cy cz dx dy dz hx hy`` per object, the 2D box with (x, y)
  its top-left corner, in pixels -> xyxy ``(x, y, x + w, y + h)``.
* ``calib/<id>.txt``: line 1 ``Rtilt``, line 2 ``K``, 9 numbers each, column-major (MATLAB).
* ``depth/<id>.mat``: variable ``instance``, N x 6 float32 ``x y z r g b``, one point per valid
  depth pixel, in upright depth coordinates: the toolbox's ``read3dPoints`` made, for pixel
  (u, v) (1-based) with depth d, the camera point (X, Y, Z) = ((u - cx) d / fx, (v - cy) d / fy, d),
  stored it as (X, Z, -Y), rotated it by Rtilt, and clamped d to 8 m beforehand. Inverting that
  gives back the depth image exactly (rounded to the toolbox's mm); clamped pixels are invalid.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import scipy.io

from perception.contract import SensorError
from perception.registry import DATASETS

from .base import MultiSensorDataset, box_annotation, index_folder, sample_info, source
from ..sensors.encodings import Encoding, Site, register_encoding

#: The 10 classes of the SUN RGB-D detection benchmark (mmdet3d SUNRGBDDataset); objects of
#: other classes (lamp, ottoman, ...) are not loaded unless ``det_classes`` lists them.
SUNRGBD_CLASSES = ('bed', 'table', 'sofa', 'chair', 'toilet', 'desk', 'dresser', 'night_stand',
                   'bookshelf', 'bathtub')
#: read3dPoints.m clamps depth at 8 m: such points carry no measurement.
SUN_CLAMP_M = 8.0


def read_calib(path) -> Tuple[np.ndarray, np.ndarray]:
    """``(Rtilt, K)`` as 3 x 3 arrays from an mmdet3d SUN RGB-D calib file."""
    try:
        rows = [np.array(line.split(), dtype=np.float64)
                for line in Path(path).read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise SensorError('depth', 'calib', 'two lines of 9 numbers (Rtilt, K)',
                          f'{type(exc).__name__}: {exc}', str(path))
    if len(rows) != 2 or any(r.size != 9 for r in rows):
        raise SensorError('depth', 'calib', 'two lines of 9 numbers (Rtilt, K)',
                          [r.size for r in rows], str(path))
    return rows[0].reshape(3, 3, order='F'), rows[1].reshape(3, 3, order='F')


def project_upright_points(points: np.ndarray, rtilt: np.ndarray, k: np.ndarray,
                           shape: Tuple[int, int]) -> np.ndarray:
    """Depth image (H, W) float32 metres from upright-depth points (N, 3); 0 where no point."""
    upright = rtilt.T @ points[:, :3].astype(np.float64).T      # (X, Z, -Y) rows
    x, z, y = upright[0], upright[1], -upright[2]
    valid = z > 0
    x, y, z = x[valid], y[valid], z[valid]
    u = np.round(x * k[0, 0] / z + k[0, 2]).astype(np.int64) - 1   # MATLAB pixels are 1-based
    v = np.round(y * k[1, 1] / z + k[1, 2]).astype(np.int64) - 1
    h, w = shape
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    u, v, z = u[inside], v[inside], z[inside]
    z = np.round(z * 1000) / 1000          # the toolbox's depth was integer mm / 1000
    z[z >= SUN_CLAMP_M] = 0
    depth = np.zeros((h, w), np.float32)
    order = np.argsort(-z)                 # if two points hit one pixel the nearest is written last
    depth[v[order], u[order]] = z[order]
    return depth


def _read_points(site: Site) -> np.ndarray:
    try:
        mat = scipy.io.loadmat(site.path)
    except (ValueError, OSError, TypeError) as exc:
        raise site.error('file', 'a readable MATLAB .mat file', f'{type(exc).__name__}: {exc}')
    if 'instance' not in mat:
        raise site.error('file', "a .mat with the point cloud in variable 'instance'",
                         sorted(k for k in mat if not k.startswith('__')))
    return mat['instance']


def _points_from_raw(raw, site: Site, shape, calib):
    if raw.ndim != 2 or raw.shape[1] < 3 or raw.dtype.kind != 'f':
        raise site.error('channels', 'float points N x 6 (x y z r g b)',
                         f'{raw.dtype} {raw.shape}')
    rtilt, k = read_calib(calib)
    return project_upright_points(raw, rtilt, k, shape)


SUNRGBD_POINTS = register_encoding(Encoding(
    'sunrgbd_upright_points', 'depth', '.mat, variable instance: N x 6 float (x y z r g b)',
    'projected with calib Rtilt/K onto the image plane; mm; >= 8 m (clamped) = invalid',
    'SUN RGB-D toolbox read3dPoints.m, mmdet3d sunrgbd_data_utils.py', _points_from_raw,
    reader=_read_points, needs_shape=True))


def read_sun_labels(path, det_classes: Sequence[str]):
    """``(bboxes xyxy, labels)`` of the objects whose class is in ``det_classes``."""
    index = {c: i for i, c in enumerate(det_classes)}
    bboxes, labels = [], []
    for n, line in enumerate(Path(path).read_text().splitlines()):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 13:
            raise SensorError('boxes', f'line {n + 1}', 'class + 12 numbers '
                              '(x y w h cx cy cz dx dy dz hx hy)', len(fields), str(path))
        if fields[0] not in index:
            continue
        x, y, w, h = (float(f) for f in fields[1:5])
        bboxes.append([x, y, x + w, y + h])
        labels.append(index[fields[0]])
    return bboxes, labels


@DATASETS.register_module()
class SUNRGBDDataset(MultiSensorDataset):
    """mmdet3d's ``sunrgbd_trainval`` folder: RGB + (point-cloud) depth + 2D boxes.

    Args:
        split: None (every image), ``'train'`` or ``'val'`` (``<split>_data_idx.txt``).
        label_dir: ``'label'`` (mmdet3d's current labels) or ``'label_v1'``.
    """

    METAINFO = dict(seg_classes=(), det_classes=SUNRGBD_CLASSES, palette=())

    def __init__(self, data_root: str, split: Optional[str] = None, label_dir: str = 'label',
                 **kwargs):
        self.split, self.label_dir = split, label_dir
        super().__init__(data_root=data_root, **kwargs)

    def _ids(self, images) -> List[str]:
        if self.split is None:
            return sorted(images)
        path = self.root / f'{self.split}_data_idx.txt'
        if not path.is_file():
            raise SensorError('dataset', 'split', 'train or val (an existing <split>_data_idx.txt)',
                              self.split, str(path))
        ids = [f'{int(tok):06d}' for tok in path.read_text().split()]
        missing = [i for i in ids if i not in images]
        if missing:
            raise SensorError('rgb', 'split', 'an image for every listed id', missing[:5],
                              str(path))
        return ids

    def load_data_list(self) -> List[dict]:
        images = index_folder(self.root / 'image', 'rgb')
        det_classes = self.dataset_det_classes
        data_list = []
        for img_id in self._ids(images):
            mat = self.root / 'depth' / f'{img_id}.mat'
            label = self.root / self.label_dir / f'{img_id}.txt'
            boxes = None
            if label.is_file():
                bboxes, labels = read_sun_labels(label, det_classes)
                boxes = box_annotation(bboxes, labels, label)
            data_list.append(sample_info(
                img_id,
                sensors=dict(rgb=source(images[img_id], 'rgb8'),
                             depth=source(mat, SUNRGBD_POINTS.name,
                                          calib=str(self.root / 'calib' / f'{img_id}.txt'))
                             if mat.is_file() else None),
                boxes=boxes))
        return data_list
