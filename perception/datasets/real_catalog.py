"""Dataset configs for the real sensor samples in ``../shared/data/real`` (perception.paths).

One entry per source: the folder relative to the real-data root and the dataset config that reads
it, with every encoding written out by the dataset classes. Used by tools/visualize_real.py, the
tests and anyone who wants real pixels in a smoke run::

    ds = build_real_dataset('nyu_demo')            # root defaults to perception.paths
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, Optional, Sequence

from perception.paths import real_data_root
from perception.registry import DATASETS

REAL_SOURCES: Dict[str, dict] = {
    'mfnet': dict(type='MFNetDataset', data_root='mfnet_rgbt'),
    'msrs': dict(type='MSRSDataset', data_root='msrs_roadscene/MSRS'),
    'roadscene': dict(type='RoadSceneDataset', data_root='msrs_roadscene/RoadScene'),
    'redwood': dict(type='RedwoodRGBDDataset', data_root='open3d_rgbd/RGBD'),
    'open3d_formats': dict(type='Open3DRGBDFormatsDataset',
                           data_root='open3d_rgbd/RGBD/other_formats'),
    # Open3D's TestData/depth.png has no colour frame: a depth-only sample.
    'open3d_depth_only': dict(type='FileListDataset', data_root='open3d_rgbd', samples=[
        dict(img_id='depth', depth=dict(path='depth.png', encoding='uint16_mm'))]),
    'nyu_demo': dict(type='NYUDepthV2DemoDataset', data_root='nyu_demo'),
    'esanet': dict(type='ESANetSampleDataset', data_root='esanet_rgbd'),
    'sunrgbd': dict(type='SUNRGBDDataset', data_root='sunrgbd/sunrgbd_trainval'),
    # Real RGB-thermal boxes (rgbt_det/): MSRS pairs with YOLO labels drawn on the infrared image,
    # LLVIP's labelled train frames (50 pairs + 50 thermal-only) and unlabelled test pairs.
    'msrs_det': dict(type='MSRSDetDataset', data_root='rgbt_det/msrs'),
    'llvip_train': dict(type='LLVIPDataset', data_root='rgbt_det/llvip', split='train'),
    'llvip_test': dict(type='LLVIPDataset', data_root='rgbt_det/llvip', split='test'),
}


def real_config(name: str, root: Optional[Path] = None, pipeline: Sequence = ()) -> dict:
    """The config of one source with ``data_root`` made absolute."""
    if name not in REAL_SOURCES:
        raise KeyError(f'unknown real source {name!r}; one of {sorted(REAL_SOURCES)}')
    cfg = copy.deepcopy(REAL_SOURCES[name])
    cfg['data_root'] = str(Path(root or real_data_root()) / cfg['data_root'])
    cfg['pipeline'] = list(pipeline)
    return cfg


def build_real_dataset(name: str, root: Optional[Path] = None, pipeline: Sequence = ()):
    return DATASETS.build(real_config(name, root, pipeline))
