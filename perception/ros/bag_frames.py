"""The frames of a recorded rosbag2 (sqlite3 or MCAP) as a model would get them, without a model:
for training on robot logs (``perception pretrain --bags``).

The node core does the work, exactly as in ``perception`` inference on the robot and in bag replay:
each Image / CompressedImage is decoded to the contract's representation (``image_codec``; 16-bit
thermal with the given scaling), the sensors are synchronised by approximate time on bag time (a
sensor that goes stale leaves sets of the others: frames with any subset of the sensors), and where
the node is configured to register thermal/depth onto the colour camera and the bag carries their
CameraInfo, every set is warped onto the colour camera's grid (``PerceptionCore.registered``).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np

from perception.contract import NORMALIZATION

from .bag_io import bag_topics
from .config import NodeConfig
from .replay import ReplayReport, feed_bag, resolve_config


class FrameCollector:
    """Stands in for the predictor of the node core: its ``spec`` says which sensors to read and
    how 16-bit thermal is scaled; it is never run (the frames are taken before the predictor)."""

    def __init__(self, sensors: Sequence[str], thermal_scaling: Optional[Mapping] = None):
        self.spec = SimpleNamespace(trained_sensors=tuple(sensors),
                                    thermal_scaling=thermal_scaling, normalization=NORMALIZATION)

    def __call__(self, **frames: Any):
        raise RuntimeError('FrameCollector collects frames; it is not a model')


def bag_frames(path: str | Path, config: NodeConfig, sensors: Sequence[str],
               thermal_scaling: Optional[Mapping] = None,
               report: Optional[ReplayReport] = None
               ) -> Iterator[Tuple[int, Dict[str, np.ndarray]]]:
    """Every synchronised (and registered) set of the bag, in bag order.

    Args:
        path: a bag directory or a bare ``.db3`` / ``.mcap`` file.
        config: the node's parameters (topics, CameraInfo topics, registration, sync); sensors whose
            topic the bag lacks are left out, as in replay.
        sensors: the sensors wanted (those of the model to train); other topics are not read.
        thermal_scaling: how 16-bit thermal becomes [0, 1] (the training config's
            ``thermal_scaling``; None: / 65535).
        report: filled with the input messages per sensor, the sets and the core's counters
            (``stats``: e.g. ``awaiting_camera_info``, ``malformed_sets``).

    Yields:
        ``(stamp_ns, {sensor: decoded array})``, present sensors only, all on one image plane.

    Raises:
        ValueError: none of the configured sensor topics is in the bag (the message lists what it
            holds), a topic of the wrong type, or registration without its CameraInfo topics.
    """
    report = report if report is not None else ReplayReport()
    config = resolve_config(config, bag_topics(path))
    for core, frame_set in feed_bag(path, config, FrameCollector(sensors, thermal_scaling),
                                    lambda name, msg: None, report):
        frames = core.registered(frame_set)
        if frames is not None:
            yield frame_set.stamp_ns, frames
