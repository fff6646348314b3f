"""Peer processes for the wire-level DDS tests (run with multiprocessing 'spawn': no state shared with
the test process). Both speak ROS 2 over CycloneDDS on loopback through perception.ros.dds, and decode
everything with rosbags (the script, frames and summaries are wire_rig's, shared with the rclpy rig).

- sensor publisher: plays a script of phases (rate, which sensors, malformed variants) at wall-clock
  pace, stamping each frame with time.time_ns(); returns the log of what it sent.
- result subscriber: records every output message (receive time, header stamp, decoded summary).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List

from wire_rig import OUTPUT_TOPICS, SENSOR_TOPICS, output_type, play, summarise


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def sensor_publisher(domain_id: int, config_xml: str, script: List[Dict[str, Any]], height: int,
                     width: int, started, out_queue) -> None:
    """``script``: phases (wire_rig.play); puts ``{'matched', 'log'}`` on ``out_queue``."""
    from perception.ros import typestore as ts
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus

    bus = DdsBus(domain_id, config_xml)
    pubs = {s: bus.publisher(t, ts.IMAGE, QosSpec.preset('sensor_data'))
            for s, t in SENSOR_TOPICS.items()}
    matched = _wait(lambda: all(p.matched_subscriptions() for p in pubs.values()), 20.0)
    started.set()
    log = play(script, height, width, lambda sensor, msg: pubs[sensor].publish(msg)) if matched else []
    out_queue.put({'matched': matched, 'log': log})
    time.sleep(0.3)         # let the last best-effort samples leave before the participant goes
    bus.close()


def result_subscriber(domain_id: int, config_xml: str, ready, stop, out_queue) -> None:
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus

    records: Dict[str, List[Dict[str, Any]]] = {k: [] for k in OUTPUT_TOPICS}

    def record(name: str, cdr: bytes) -> None:
        records[name].append(summarise(name, cdr, time.time_ns()))  # rosbags decodes the wire bytes

    bus = DdsBus(domain_id, config_xml)
    subs = [bus.subscribe(topic, output_type(name), (lambda n: lambda cdr: record(n, cdr))(name),
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


def cdr_interop_peer(domain_id: int, config_xml: str, messages: Dict[str, tuple], ready,
                     out_queue) -> None:
    """The CycloneDDS-shim side of the interop test: ``messages`` maps a name to (msgtype, cdr).
    Receives raw on ``/interop/from_rclpy/<name>`` and publishes each cdr on
    ``/interop/from_dds/<name>`` once a reader matched; puts ``{'matched', 'received'}`` (name -> the
    bytes that came off the wire) on ``out_queue``."""
    from perception.ros.config import QosSpec
    from perception.ros.dds import DdsBus

    received: Dict[str, bytes] = {}
    bus = DdsBus(domain_id, config_xml)
    qos = QosSpec.preset('default', 10)
    subs = [bus.subscribe(f'/interop/from_rclpy/{name}', msgtype,
                          (lambda n: lambda cdr: received.setdefault(n, bytes(cdr)))(name), qos,
                          raw=True)
            for name, (msgtype, _) in messages.items()]
    pubs = {name: bus.publisher(f'/interop/from_dds/{name}', msgtype, qos)
            for name, (msgtype, _) in messages.items()}
    bus.start()
    ready.set()
    matched = _wait(lambda: all(p.matched_subscriptions() for p in pubs.values())
                    and all(s.matched_publications() for s in subs), 30.0)
    if matched:
        for name, (_, cdr) in messages.items():
            pubs[name].publish_cdr(cdr)
        _wait(lambda: len(received) == len(messages), 20.0)
    time.sleep(0.5)          # reliable samples still in flight to the rclpy side
    bus.close()
    out_queue.put({'matched': matched, 'received': received})
