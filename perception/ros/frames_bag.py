"""Image files of a camera rig as the rosbag2 a robot would have recorded, for bag replay.

``write_frames_bag({'rgb': DIR, 'thermal': DIR}, OUT)`` pairs the files of the sensor folders by
name (stem), and writes each set as ``sensor_msgs/Image`` messages the way drivers publish them:
colour as ``bgr8``; thermal as ``mono8`` (8-bit files; a grey image stored with three equal
channels, as LLVIP's infrared JPEGs, becomes one channel) or ``mono16`` (16-bit); depth as
``16UC1`` (16-bit, millimetres) or ``32FC1`` (float, metres). The sets are stamped ``1 / rate_hz``
apart, each sensor a millisecond after the previous one, on the node's default topics unless others
are given. ``perception`` bag replay (tools/replay_bag.py) then runs the node over them exactly as
over a recording.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from perception.contract import SENSORS, SensorError

from . import typestore as ts
from .bag_io import BagWriter
from .config import NodeConfig
from .image_codec import array_to_image

#: image files read (OpenCV)
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
#: the first stamp written (2023-11-14T22:13:20Z), as a robot's clock would have it
START_NS = 1_700_000_000_000_000_000


def sensor_image(path: Path, sensor: str) -> Tuple[np.ndarray, str]:
    """``(pixels, encoding)`` of one file as a driver of that sensor publishes it."""
    import cv2
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise SensorError(sensor, 'file', 'an image file OpenCV can read', 'unreadable',
                          path=str(path))
    if sensor == 'rgb':
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            pixels = pixels[..., :3]
        if pixels.ndim != 3 or pixels.dtype != np.uint8:
            raise SensorError(sensor, 'pixels', '8-bit colour (3 channels)',
                              f'{pixels.dtype} with shape {pixels.shape}', path=str(path))
        return np.ascontiguousarray(pixels), 'bgr8'
    if pixels.ndim == 3:   # a grey image stored as colour: one channel if they are all equal
        first = pixels[..., 0]
        if not all(np.array_equal(first, pixels[..., c]) for c in range(1, pixels.shape[2])):
            raise SensorError(sensor, 'pixels', 'one channel (or equal colour channels)',
                              f'{pixels.shape[2]} different channels', path=str(path))
        pixels = np.ascontiguousarray(first)
    if sensor == 'thermal':
        encodings = {np.dtype(np.uint8): 'mono8', np.dtype(np.uint16): 'mono16'}
    else:
        encodings = {np.dtype(np.uint16): '16UC1', np.dtype(np.float32): '32FC1'}
    if pixels.dtype not in encodings:
        raise SensorError(sensor, 'pixels', f'dtype {" or ".join(str(d) for d in encodings)}',
                          str(pixels.dtype), path=str(path))
    return pixels, encodings[pixels.dtype]


def matched_files(folders: Mapping[str, Path], allow_unpaired: bool = False
                  ) -> Tuple[List[Dict[str, Path]], List[Path]]:
    """Sets of files, one per sensor, paired by stem, in name order; and the unpaired files.
    A file without its partners is an error naming it unless ``allow_unpaired``."""
    stems: Dict[str, Dict[str, Path]] = {}
    for sensor, folder in folders.items():
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f'{sensor}: no folder {folder}')
        stems[sensor] = {p.stem: p for p in sorted(folder.iterdir())
                         if p.suffix.lower() in IMAGE_SUFFIXES}
        if not stems[sensor]:
            raise FileNotFoundError(f'{sensor}: no image files ({", ".join(IMAGE_SUFFIXES)}) '
                                    f'in {folder}')
    common = set.intersection(*(set(s) for s in stems.values()))
    unpaired = sorted(p for s in stems.values() for stem, p in s.items() if stem not in common)
    if unpaired and not allow_unpaired:
        first = unpaired[0]
        lacking = [s for s in folders if first.stem not in stems[s]]
        raise FileNotFoundError(f'{first}: no {"/".join(lacking)} image named {first.stem}.* '
                                f'({len(unpaired)} file(s) without partners; allow_unpaired / '
                                '--allow-unpaired skips and counts them)')
    return [{s: stems[s][stem] for s in folders} for stem in sorted(common)], unpaired


def write_frames_bag(folders: Mapping[str, Path], out: Path,
                     topics: Optional[Mapping[str, str]] = None, rate_hz: float = 5.0,
                     storage: str = 'mcap', frame_id: str = 'camera',
                     allow_unpaired: bool = False) -> Dict[str, object]:
    """Write the paired files of ``folders`` (sensor -> folder) as a bag at ``out``; returns
    ``dict(sets=..., messages={topic: count}, unpaired=[...], encodings={sensor: ...})``."""
    unknown = set(folders) - set(SENSORS)
    if unknown or not folders:
        raise ValueError(f'sensors {sorted(unknown) or "none"}; expected some of {SENSORS}')
    if rate_hz <= 0:
        raise ValueError(f'rate_hz must be > 0, got {rate_hz}')
    sensors = [s for s in SENSORS if s in folders]
    topics = {s: (topics or {}).get(s) or NodeConfig().topics[s] for s in sensors}
    sets, unpaired = matched_files({s: folders[s] for s in sensors}, allow_unpaired)
    encodings: Dict[str, str] = {}
    period = int(round(1e9 / rate_hz))
    try:
        with BagWriter(out, storage=storage) as bag:
            for k, files in enumerate(sets):
                for j, sensor in enumerate(sensors):
                    pixels, encoding = sensor_image(files[sensor], sensor)
                    encodings.setdefault(sensor, encoding)
                    stamp = START_NS + k * period + j * 1_000_000
                    bag.write(topics[sensor], ts.IMAGE, stamp,
                              array_to_image(pixels, encoding, ts.header(stamp, frame_id)))
            counts = dict(bag.counts)
    except BaseException:   # a bad file half-way: no partial bag is left behind
        shutil.rmtree(out, ignore_errors=True)
        raise
    return dict(sets=len(sets), messages=counts, unpaired=[str(p) for p in unpaired],
                encodings=encodings)
