"""Bag replay: run the node core over a recorded rosbag2 and write its outputs as a new bag.

The node core runs exactly as live, with bag time as its clock (stale-sensor timeouts and
diagnostics follow the recording, not the speed of the replay) and without the drop-to-newest
worker: offline, every synchronised set is processed, so a replay is deterministic.
Outputs keep the input header stamps; their bag log time is the log time of the message that
completed the set.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

from . import typestore as ts
from .bag_io import BagWriter, bag_topics, read_messages
from .config import NodeConfig
from .core import PerceptionCore, PredictorFn, used_sensors
from .outputs import OUTPUT_TYPES

log = logging.getLogger('perception.ros')


@dataclass
class ReplayReport:
    input_messages: Dict[str, int] = field(default_factory=dict)
    sets: int = 0
    written: Dict[str, int] = field(default_factory=dict)
    undecodable: int = 0
    wall_s: float = 0.0
    stats: Dict[str, Any] = field(default_factory=dict)


def _absolute(topic: str) -> str:
    return topic if topic.startswith('/') else '/' + topic


def resolve_config(config: NodeConfig, available: Dict[str, tuple]) -> NodeConfig:
    """Disable sensors whose topic is not in the bag; fail clearly when none is left or types differ."""
    topics, transports = dict(config.topics), dict(config.transports)
    for sensor, topic in config.topics.items():
        if not topic:
            continue
        if topic not in available:
            log.warning(f'replay: {sensor} topic {topic} is not in the bag; replaying without {sensor}')
            topics[sensor] = ''
        elif available[topic][0] == ts.COMPRESSED_IMAGE:    # the bag says what the topic carries
            transports[sensor] = 'compressedDepth' if sensor == 'depth' else 'compressed'
        elif available[topic][0] == ts.IMAGE:
            transports[sensor] = 'raw'
        else:
            raise ValueError(f'replay: {sensor} topic {topic} holds {available[topic][0]}, expected '
                             f'{ts.IMAGE} or {ts.COMPRESSED_IMAGE}')
    if not any(topics.values()):
        listing = ', '.join(f'{t} ({m[0]})' for t, m in sorted(available.items()))
        raise ValueError(f'replay: none of the sensor topics {dict(config.topics)} is in the bag; '
                         f'it holds: {listing}')
    # a sensor missing from the bag is not registered either
    gone = [s for s in ('thermal', 'depth') if config.topics.get(s) and not topics[s]]
    infos = {s: ('' if s in gone else t) for s, t in config.camera_info_topics.items()}
    config = dataclasses.replace(config, topics=topics, camera_info_topics=infos,
                                 transports=transports,
                                 **{f'{s}_to_rgb': () for s in gone})
    for sensor, topic in config.camera_info_topics.items():
        if topic and topic not in available:
            if sensor in config.awaited_camera_infos:
                raise ValueError(f'replay: registration needs the {sensor} CameraInfo, but '
                                 f'{topic} (topics.{sensor}_camera_info) is not in the bag')
            log.warning(f'replay: CameraInfo topic {topic} is not in the bag; outputs go without it')
            infos[sensor] = ''
        elif topic and available[topic][0] != ts.CAMERA_INFO:
            raise ValueError(f'replay: {sensor} CameraInfo topic {topic} holds {available[topic][0]}, '
                             f'expected {ts.CAMERA_INFO}')
    return dataclasses.replace(config, camera_info_topics=infos)


def replay_bag(in_path: str | Path, out_path: str | Path, predictor: PredictorFn,
               config: NodeConfig, storage: str = 'mcap', copy_inputs: bool = False) -> ReplayReport:
    t_start = time.perf_counter()
    config = resolve_config(config, bag_topics(in_path))
    # topics of sensors the model does not use are not read (the core warns about them)
    used = config.restricted_to(used_sensors(predictor))
    by_topic = {topic: sensor for sensor, topic in used.topics.items() if topic}
    report = ReplayReport(input_messages={s: 0 for s in used.sensors})
    now_ns = [0]
    with BagWriter(out_path, storage) as writer:
        def sink(name: str, msg: Any) -> None:
            topic = config.output_topics.get(name)
            if topic:
                writer.write(_absolute(topic), OUTPUT_TYPES[name], now_ns[0], msg)

        core = None
        info_of = {topic: sensor for sensor, topic in used.camera_info_topics.items() if topic}
        wanted = set(by_topic) | set(info_of)
        for bag_msg in read_messages(in_path, wanted):
            now_ns[0] = bag_msg.log_time_ns
            if core is None:   # created at the first message: its start-up grace is in bag time
                core = PerceptionCore(config, predictor, sink, clock=lambda: now_ns[0] * 1e-9,
                                      stamp_clock=lambda: now_ns[0])
                core.publish_classes()      # the model's class lists, at the bag's start
            if copy_inputs:
                writer.write_cdr(bag_msg.topic, bag_msg.msgtype, bag_msg.log_time_ns, bag_msg.cdr)
            try:
                msg = ts.deserialize(bag_msg.cdr, bag_msg.msgtype)
            except Exception as err:
                report.undecodable += 1
                log.warning(f'replay: {bag_msg.topic} at {bag_msg.log_time_ns} ns: cannot decode as '
                            f'{bag_msg.msgtype}: {err}')
                continue
            if bag_msg.topic in info_of:
                core.on_camera_info(info_of[bag_msg.topic], msg)
                continue
            sensor = by_topic[bag_msg.topic]
            report.input_messages[sensor] += 1
            for frame_set in core.on_image(sensor, msg) + core.tick():
                report.sets += 1
                core.process(frame_set)
        if core is None:
            raise ValueError(f'replay: {in_path} holds no messages on {sorted(wanted)}')
        core.publish_diagnostics()
    report.written = dict(writer.counts)
    report.stats = core.stats()
    report.wall_s = time.perf_counter() - t_start
    return report
