"""RGB-D-D (He et al., CVPR 2021, "Towards Fast and Accurate Real-World Depth Super-Resolution"):
real indoor frames from a phone's colour camera and its time-of-flight sensor, the benchmark of
guided depth super-resolution (docs/real_rgbd.md).

Layout: ``ROOT/rgb/STEM.jpg`` (colour, 512x384) and ``ROOT/depth/STEM.png`` (uint16 millimetres,
encoding ``uint16_mm``), stems = capture time ``YYYYMMDDhhmmss``. The depth file is both the depth
sensor's input (degraded by the pipeline, e.g. ``DepthDownsample``) and the ground truth.

Split. Frames taken minutes apart show the same room, so a per-frame random split would put near
copies of a validation frame into training. The rule works on capture *sessions* instead: frames in
time order, a new session after a gap of more than 30 minutes; every fifth session (the 5th, 10th,
...) is validation, the others training. Applied once to the 304 frames of
``../shared/data/real/rgbdd`` it gave 236 training frames in 43 sessions and 68 validation frames in
11; the training stems are stored in ``rgbdd_split.json`` (``session_split`` reproduces them, a test
checks it). ``split='val'`` is every frame of the folder that is *not* a training frame, so pointing
``data_root`` at another folder of the same layout (the held-out test frames) scores all of its
frames, and never a frame the model was trained on.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from perception.contract import SensorError
from perception.registry import DATASETS

from .base import MultiSensorDataset, index_folder, sample_info, source

SPLIT_FILE = Path(__file__).with_name('rgbdd_split.json')
SPLITS = ('train', 'val', 'all')
SESSION_GAP_MINUTES = 30
VAL_EVERY = 5


def capture_time(stem: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(stem, '%Y%m%d%H%M%S')
    except ValueError:
        raise SensorError('dataset', 'file name', 'an RGB-D-D capture time YYYYMMDDhhmmss', stem)


def capture_sessions(stems: Sequence[str],
                     gap_minutes: float = SESSION_GAP_MINUTES) -> List[List[str]]:
    """Stems in time order, cut into sessions wherever two frames are more than ``gap`` apart."""
    ordered = sorted(stems, key=capture_time)
    sessions: List[List[str]] = []
    last: Optional[dt.datetime] = None
    for stem in ordered:
        t = capture_time(stem)
        if last is None or (t - last).total_seconds() > gap_minutes * 60:
            sessions.append([])
        sessions[-1].append(stem)
        last = t
    return sessions


def session_split(stems: Sequence[str], every: int = VAL_EVERY) -> Tuple[List[str], List[str]]:
    """(train, val) stems: every ``every``-th session (1-based: the 5th, 10th, ...) is validation."""
    train, val = [], []
    for i, session in enumerate(capture_sessions(stems)):
        (val if i % every == every - 1 else train).extend(session)
    return train, val


def training_stems(path: Path = SPLIT_FILE) -> frozenset:
    """The stems the shipped configs train on (read from ``rgbdd_split.json``)."""
    return frozenset(json.loads(Path(path).read_text())['train'])


@DATASETS.register_module()
class RGBDDDataset(MultiSensorDataset):
    """RGB-D-D frames: ``rgb`` + ``depth`` sensors, ``gt_depth`` target (the same depth file).

    Args:
        data_root: folder with ``rgb/`` and ``depth/``.
        split: ``'train'`` (the stored training stems; all must be in the folder), ``'val'``
            (every frame of the folder that is not a training stem) or ``'all'``.
        rgb_dir / depth_dir / depth_encoding: the layout; RGB-D-D stores millimetres.

    A colour frame without its depth file (or the reverse) is an error naming the stems: the depth
    is the ground truth, a frame without it cannot be scored.
    """

    METAINFO = dict(seg_classes=(), det_classes=(), palette=())

    def __init__(self, data_root: str, split: str = 'val', rgb_dir: str = 'rgb',
                 depth_dir: str = 'depth', depth_encoding: str = 'uint16_mm', **kwargs):
        if split not in SPLITS:
            raise SensorError('dataset', 'split', f'one of {SPLITS}', repr(split))
        self.split, self.rgb_dir, self.depth_dir = split, rgb_dir, depth_dir
        self.depth_encoding = depth_encoding
        super().__init__(data_root=data_root, **kwargs)

    def _frames(self) -> Dict[str, Tuple[Path, Path]]:
        rgb = index_folder(self.root / self.rgb_dir, 'rgb')
        depth = index_folder(self.root / self.depth_dir, 'depth')
        if not rgb and not depth:
            raise SensorError('dataset', 'data_root', f'{self.rgb_dir}/STEM.jpg and '
                              f'{self.depth_dir}/STEM.png files', 'none', str(self.root))
        for sensor, have, lack, folder in (('depth', rgb, depth, self.depth_dir),
                                           ('rgb', depth, rgb, self.rgb_dir)):
            missing = sorted(set(have) - set(lack))
            if missing:
                shown = ', '.join(missing[:5]) + (f' and {len(missing) - 5} more'
                                                   if len(missing) > 5 else '')
                raise SensorError(sensor, 'file', f'a {folder}/STEM file for every frame',
                                  f'none for {shown}', str(self.root / folder))
        return {stem: (rgb[stem], depth[stem]) for stem in rgb}

    def load_data_list(self) -> List[dict]:
        frames = self._frames()
        stems = sorted(frames)
        if self.split != 'all':
            train = training_stems()
            if self.split == 'train':
                absent = sorted(train - set(stems))
                if absent:
                    raise SensorError('dataset', 'split', f'the {len(train)} training frames of '
                                      f'{SPLIT_FILE.name} in the folder',
                                      f'{len(absent)} missing (e.g. {absent[0]})', str(self.root))
                stems = [s for s in stems if s in train]
            else:
                stems = [s for s in stems if s not in train]
        return [sample_info(stem,
                            sensors=dict(rgb=source(frames[stem][0], 'rgb8'),
                                         depth=source(frames[stem][1], self.depth_encoding)),
                            targets=dict(gt_depth=source(frames[stem][1], self.depth_encoding)))
                for stem in stems]
