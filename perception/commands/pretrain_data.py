"""The frames ``perception pretrain`` reads instead of its config's datasets: folders of the generic
layout (``--folders``) and rosbag2 / MCAP logs (``--bags``).

A bag's frames are decoded, synchronised and registered by the node core exactly as on the robot
(``perception.ros.bag_frames``) and written once to a generic-layout folder in the work dir
(``<work_dir>/bag_frames/<bag>/``, lossless: rgb PNG, thermal 16-bit PNG, depth float32 .npy), which
is then read like any other folder. Of every folder a few frames, evenly spaced, are held out: the
reconstruction figure and the held-out loss are measured on them, never trained on.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from perception.contract import SENSORS, ConfigError, PerceptionError

#: the folder under the work dir that receives the frames of ``--bags``
BAG_FRAMES = 'bag_frames'
#: storage of extracted frames (perception.sensors.encodings): nothing lost but thermal's 1/65535
BAG_ENCODINGS = dict(rgb='rgb8', thermal='u16_unit', depth='float32_m')
BAG_SUFFIXES = ('.mcap', '.db3')
META = 'metadata.yaml'


def find_bags(root: str) -> List[Path]:
    """The bags in ``root``: ``root`` itself when it is one (``metadata.yaml``, or a bare
    ``.mcap`` / ``.db3`` file), else its sub-folders that are bags and its bare bag files.

    Raises:
        ConfigError: ``root`` does not exist or holds no bag.
    """
    path = Path(root)
    if path.is_file() and path.suffix in BAG_SUFFIXES or (path / META).is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f'--bags {root}: no such folder or bag file')
    bags = sorted(p for p in path.iterdir()
                  if (p.is_dir() and (p / META).is_file()) or
                  (p.is_file() and p.suffix in BAG_SUFFIXES))
    if not bags:
        raise ConfigError(f'--bags {root}: no rosbag2 in it (a folder with {META}, or .mcap / .db3 '
                          'files; `ros2 bag record` writes the first)')
    return bags


def extract_bag(bag: Path, out: Path, node_config, sensors: Sequence[str],
                thermal_scaling: Optional[Mapping] = None) -> int:
    """Write the frames of ``bag`` to the generic-layout folder ``out`` (replaced if it was
    extracted before); returns how many.

    Raises:
        ConfigError: the bag lacks the configured topics (the message lists what it holds and how
            to name the topics), rosbags cannot read it, or it yields no frame (e.g. registration
            still awaiting CameraInfo).
    """
    from perception.datasets.writer import GenericLayoutWriter
    from perception.ros.bag_frames import bag_frames
    from perception.ros.replay import ReplayReport
    if (out / 'dataset.yaml').is_file():
        shutil.rmtree(out)
    report = ReplayReport()
    count = 0
    try:
        with GenericLayoutWriter(out, dict(name=bag.stem, encodings=BAG_ENCODINGS)) as writer:
            for stamp, frames in bag_frames(bag, node_config, sensors, thermal_scaling, report):
                writer.write(str(stamp), _sample(frames))
                count += 1
    except ValueError as err:
        if isinstance(err, PerceptionError):
            raise
        raise ConfigError(f'--bags {bag}: {" ".join(str(err).split())}. Name the sensor topics '
                          'with --topics rgb=/your/rgb thermal=/your/thermal depth=/your/depth, or '
                          'give the node parameters with --params params.yaml') from err
    except Exception as err:
        if type(err).__module__.split('.')[0] != 'rosbags':
            raise
        raise ConfigError(f'--bags {bag}: not a readable rosbag2 ({err})') from err
    if not count:
        waiting = report.stats.get('awaiting_camera_info', 0)
        hint = (f'{waiting} sets waited for the CameraInfo registration needs: record the '
                'topics.<sensor>_camera_info topics, or leave registration out of --params'
                if waiting else 'no set of the sensors was synchronised: check the topics '
                '(--topics) and sync.slop (--params)')
        raise ConfigError(f'--bags {bag}: no frame (messages read: {report.input_messages}); '
                          f'{hint}')
    return count


def _sample(frames: Mapping[str, np.ndarray]) -> Dict[str, object]:
    """A decoded sample of the contract from the node's frames (depth that is not a finite
    positive reading is invalid: 0)."""
    sample: Dict[str, object] = {s: frames.get(s) for s in SENSORS}
    depth = sample['depth']
    if depth is not None:
        depth = np.asarray(depth, np.float32)
        sample['depth'] = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
    sample['modality_mask'] = np.array([sample[s] is not None for s in SENSORS])
    return sample


def held_out_split(count: int, held_out: int) -> Tuple[List[int], List[int]]:
    """(training indices, held-out indices) of ``count`` frames: ``held_out`` evenly spaced ones
    are held out, but never all (a folder of one frame trains on it and holds none out)."""
    held = min(held_out, count - 1) if count > 1 else 0
    picked = sorted({int(i) for i in np.linspace(0, count - 1, held)}) if held else []
    return [i for i in range(count) if i not in set(picked)], picked


def folder_datasets(folders: Sequence[Path], train_pipeline: Sequence[dict],
                    held_out_pipeline: Sequence[dict], held_out: int) -> Tuple[dict, dict]:
    """(training dataset config, held-out dataset config) over generic-layout ``folders``.

    Raises:
        ConfigError: a folder is not in the generic layout or holds no frame.
    """
    from perception.datasets.generic import GenericMultiSensorDataset
    train, held = [], []
    for folder in folders:
        count = len(GenericMultiSensorDataset(str(folder), pipeline=[], serialize_data=False))
        if not count:
            raise ConfigError(f'{folder}: no frames (its dataset.yaml names sensor folders that '
                              'hold no image files): give a folder of the generic layout with '
                              'frames in it (docs/data.md)')
        train_ids, held_ids = held_out_split(count, held_out)
        base = dict(type='GenericMultiSensorDataset', data_root=str(folder))
        train.append(dict(base, indices=train_ids, pipeline=list(train_pipeline)))
        if held_ids:
            held.append(dict(base, indices=held_ids, pipeline=list(held_out_pipeline)))
    concat = dict(type='ConcatDataset', ignore_keys=['dataset_name', 'seg_classes', 'palette',
                                                     'det_classes'])
    if not held:     # folders of one frame each: the figure shows a training frame
        held = [dict(train[0], pipeline=list(held_out_pipeline))]
    return dict(concat, datasets=train), dict(concat, datasets=held)


def check_frames(dataset, hint: str = '') -> None:
    """Every dataset inside ``dataset`` (a built one; concatenations and repeats are walked) holds
    frames.

    Raises:
        ConfigError: one holds none, naming it and the fix.
    """
    parts = getattr(dataset, 'datasets', None) or (
        [dataset.dataset] if hasattr(dataset, 'dataset') else None)
    if parts is not None:
        for part in parts:
            check_frames(part, hint)
        return
    if not len(dataset):
        root = getattr(dataset, 'data_root', '') or '(no data_root)'
        raise ConfigError(f'{type(dataset).__name__} at {root}: no frames. Point its data_root at '
                          f'a folder of its layout. {hint}')
