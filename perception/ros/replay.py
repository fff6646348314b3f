"""Bag replay: run the node core over a recorded rosbag2 and write its outputs as a new bag
(``replay_bag``); ``feed_bag`` is the reading half, which ``bag_frames`` shares.

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
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import typestore as ts
from .bag_io import BagMessage, BagWriter, bag_topics, read_messages
from .config import NodeConfig
from .core import FrameSet, PerceptionCore, PredictorFn, Sink, used_sensors
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


class BagTime:
    """The node core's clocks in replay: the log time of the message being fed."""

    def __init__(self) -> None:
        self.ns = 0

    def seconds(self) -> float:
        return self.ns * 1e-9

    def nanoseconds(self) -> int:
        return self.ns


def feed_bag(in_path: str | Path, config: NodeConfig, predictor: PredictorFn, sink: Sink,
             report: ReplayReport, clock: Optional[BagTime] = None,
             on_start: Optional[Callable[[PerceptionCore], None]] = None,
             on_message: Optional[Callable[[BagMessage], None]] = None
             ) -> Iterator[Tuple[PerceptionCore, FrameSet]]:
    """Feed a bag to a node core, as live but on bag time; yield each synchronised set.

    Args:
        in_path: the bag.
        config: the node's parameters, already ``resolve_config`` -d against the bag.
        predictor: the model (only its ``spec`` is read here: the sensors it uses, its thermal
            scaling); the caller decides what to do with each set.
        sink: where the core publishes (its diagnostics, and whatever ``process`` makes).
        report: counts input messages per sensor, undecodable messages and sets; ``stats`` is the
            core's at the end.
        clock: set to each message's log time before it is fed (the core's clocks; a sink reads
            it to log what it writes at bag time).
        on_start: called with the core, created at the first message (its start-up grace is in
            bag time).
        on_message: called with every message read, before it is decoded.

    Yields:
        ``(core, frame_set)`` for every set the core completes, in bag order.

    Raises:
        ValueError: the bag holds no message on the topics used.
    """
    # topics of sensors the model does not use are not read (the core warns about them)
    used = config.restricted_to(used_sensors(predictor))
    by_topic = {topic: sensor for sensor, topic in used.topics.items() if topic}
    info_of = {topic: sensor for sensor, topic in used.camera_info_topics.items() if topic}
    wanted = set(by_topic) | set(info_of)
    report.input_messages = {s: 0 for s in used.sensors}
    clock = clock or BagTime()
    core = None
    for bag_msg in read_messages(in_path, wanted):
        clock.ns = bag_msg.log_time_ns
        if core is None:
            core = PerceptionCore(config, predictor, sink, clock=clock.seconds,
                                  stamp_clock=clock.nanoseconds)
            if on_start is not None:
                on_start(core)
        if on_message is not None:
            on_message(bag_msg)
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
            yield core, frame_set
    if core is None:
        raise ValueError(f'replay: {in_path} holds no messages on {sorted(wanted)}')
    report.stats = core.stats()


def replay_bag(in_path: str | Path, out_path: str | Path, predictor: PredictorFn,
               config: NodeConfig, storage: str = 'mcap', copy_inputs: bool = False) -> ReplayReport:
    t_start = time.perf_counter()
    config = resolve_config(config, bag_topics(in_path))
    report = ReplayReport()
    with BagWriter(out_path, storage) as writer:
        log_time = BagTime()

        def sink(name: str, msg: Any) -> None:
            topic = config.output_topics.get(name)
            if topic:
                writer.write(_absolute(topic), OUTPUT_TYPES[name], log_time.ns, msg)

        def start(core: PerceptionCore) -> None:
            cores.append(core)
            core.publish_classes()      # the model's class lists, at the bag's start

        def copy(bag_msg: BagMessage) -> None:
            writer.write_cdr(bag_msg.topic, bag_msg.msgtype, bag_msg.log_time_ns, bag_msg.cdr)

        cores: List[PerceptionCore] = []
        for core, frame_set in feed_bag(in_path, config, predictor, sink, report, log_time, start,
                                        copy if copy_inputs else None):
            core.process(frame_set)
        cores[0].publish_diagnostics()
    report.written = dict(writer.counts)
    report.stats = cores[0].stats()
    report.wall_s = time.perf_counter() - t_start
    return report
