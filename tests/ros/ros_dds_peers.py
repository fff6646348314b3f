"""Peer processes for the wire-level DDS tests (run with multiprocessing 'spawn': no state shared with
the test process). Both speak ROS 2 over CycloneDDS on loopback through perception.ros.dds, and decode
everything with rosbags.

- sensor publisher: plays a script of phases (rate, which sensors, malformed variants) at wall-clock
  pace, stamping each frame with time.time_ns(); returns the log of what it sent.
- result subscriber: records every output message (receive time, header stamp, decoded summary).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

import numpy as np

SENSOR_TOPICS = {'rgb': '/camera/color/image_raw', 'thermal': '/thermal/image_raw',
                 'depth': '/camera/depth/image_rect_raw'}
OUTPUT_TOPICS = {'labels': '/perception/labels', 'detections': '/perception/detections',
                 'depth': '/perception/depth', 'diagnostics': '/diagnostics'}
ENCODINGS = {'rgb': 'rgb8', 'thermal': 'mono16', 'depth': '16UC1'}
SKEW_NS = {'rgb': 0, 'thermal': 1_000_000, 'depth': 2_000_000}


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _malformed(msg: Any, kind: str, sensor: str) -> Any:
    from perception.ros.image_codec import encode_sensor
    if kind == 'step' and sensor == 'thermal':
        msg.step = msg.width        # mono16 needs 2 bytes per pixel
    elif kind == 'encoding' and sensor == 'depth':
        msg.encoding = 'yuv422'
    elif kind == 'size' and sensor == 'rgb':
        small = np.zeros((msg.height // 2, msg.width // 2, 3), np.uint8)
        msg = encode_sensor(small, 'rgb', 'rgb8', msg.header)
    return msg


def sensor_publisher(domain_id: int, config_xml: str, script: List[Dict[str, Any]], height: int,
                     width: int, started, out_queue) -> None:
    """``script``: phases ``{'duration_s', 'rate_hz', 'sensors': [...], 'malformed': None|kind}``."""
    from ros_testkit import synthetic_frame

    from perception.ros import typestore as ts
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus
    from perception.ros.image_codec import encode_sensor

    bus = DdsBus(domain_id, config_xml)
    pubs = {s: bus.publisher(t, ts.IMAGE, QosSpec.preset('sensor_data')) for s, t in SENSOR_TOPICS.items()}
    matched = _wait(lambda: all(p.matched_subscriptions() for p in pubs.values()), 20.0)
    started.set()
    log: List[Dict[str, Any]] = []
    index = 0
    if matched:
        for phase_no, phase in enumerate(script):
            period = 1.0 / phase['rate_hz']
            t_next = time.monotonic()
            t_end = t_next + phase['duration_s']
            while time.monotonic() < t_end:
                rgb, thermal, depth, _ = synthetic_frame(index, height, width)
                stamp = time.time_ns()
                values = {'rgb': rgb, 'thermal': thermal, 'depth': depth}
                for sensor in phase['sensors']:
                    msg = encode_sensor(values[sensor], sensor, ENCODINGS[sensor],
                                        ts.header(stamp + SKEW_NS[sensor], 'camera'))
                    if phase.get('malformed'):
                        msg = _malformed(msg, phase['malformed'], sensor)
                    pubs[sensor].publish(msg)
                log.append({'index': index, 'stamp': stamp, 'phase': phase_no,
                            'sensors': list(phase['sensors'])})
                index += 1
                t_next += period
                time.sleep(max(0.0, t_next - time.monotonic()))
    out_queue.put({'matched': matched, 'log': log})
    time.sleep(0.3)         # let the last best-effort samples leave before the participant goes
    bus.close()


def result_subscriber(domain_id: int, config_xml: str, ready, stop, out_queue) -> None:
    from perception.ros import typestore as ts
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus
    from perception.ros.image_codec import image_to_array

    records: Dict[str, List[Dict[str, Any]]] = {k: [] for k in OUTPUT_TOPICS}

    def summarise(name: str, cdr: bytes) -> None:
        recv = time.time_ns()
        msgtype = {'detections': ts.DETECTION2D_ARRAY, 'diagnostics': ts.DIAGNOSTIC_ARRAY}.get(
            name, ts.IMAGE)
        msg = ts.deserialize(cdr, msgtype)          # rosbags decodes what came off the wire
        rec: Dict[str, Any] = {'recv': recv, 'stamp': ts.stamp_ns(msg.header),
                               'frame_id': msg.header.frame_id}
        if name == 'labels':
            rec['encoding'] = msg.encoding
            rec['values'] = sorted(int(v) for v in np.unique(image_to_array(msg)))
        elif name == 'depth':
            rec['encoding'] = msg.encoding
            rec['mean'] = float(image_to_array(msg).mean())
        elif name == 'detections':
            rec['dets'] = [(d.results[0].hypothesis.class_id, d.results[0].hypothesis.score,
                            d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x)
                           for d in msg.detections]
        else:
            summary = msg.status[0]
            rec.update(level=int(summary.level), message=summary.message,
                       values={kv.key: kv.value for kv in summary.values},
                       sensors={s.name.rsplit(' ', 1)[-1]: int(s.level) for s in msg.status[1:]})
        records[name].append(rec)

    bus = DdsBus(domain_id, config_xml)
    subs = [bus.subscribe(topic, {'detections': ts.DETECTION2D_ARRAY,
                                  'diagnostics': ts.DIAGNOSTIC_ARRAY}.get(name, ts.IMAGE),
                          (lambda n: lambda cdr: summarise(n, cdr))(name),
                          QosSpec.preset('default', 50), raw=True)
            for name, topic in OUTPUT_TOPICS.items()]
    bus.start()
    ready_ok = _wait(lambda: all(s.matched_publications() for s in subs), 20.0)
    ready.set()
    stop.wait(120.0)
    time.sleep(0.2)
    endpoints = discovered_endpoints(bus.participant)
    bus.close()
    out_queue.put({'matched': ready_ok, 'records': records, 'endpoints': endpoints})


def discovered_endpoints(participant) -> Dict[str, List[tuple]]:
    """(DDS topic name, DDS type name, reliability) of every reader and writer seen in discovery:
    what a ROS 2 node on the same domain would see of the perception node."""
    from cyclonedds.builtin import (BuiltinDataReader, BuiltinTopicDcpsPublication,
                                    BuiltinTopicDcpsSubscription)
    from cyclonedds.core import Policy
    out = {}
    for kind, topic in (('writers', BuiltinTopicDcpsPublication),
                        ('readers', BuiltinTopicDcpsSubscription)):
        reader = BuiltinDataReader(participant, topic)
        seen = set()
        for ep in reader.take(N=500):
            best_effort = ep.qos[Policy.Reliability] == Policy.Reliability.BestEffort
            seen.add((ep.topic_name, ep.type_name, 'best_effort' if best_effort else 'reliable'))
        out[kind] = sorted(seen)
    return out
