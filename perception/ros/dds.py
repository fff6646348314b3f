"""A ROS 2 transport over CycloneDDS (the default ROS 2 middleware), with no ROS 2 installed.

Topics are ``rt/<name>``, types ``pkg::msg::dds_::Name_`` (dds_types.py), payloads the rosbags CDR
(typestore.py): a ROS 2 node using rmw_cyclonedds on the same domain sees these as ordinary topics.
Received samples are taken by one dispatch thread (WaitSet) rather than in cyclone's listener
callbacks: those run on the DDS receive thread, where decoding images would stall the network stack.

Loopback: :func:`loopback_config` is the CycloneDDS XML that keeps all traffic on 127.0.0.1 (``lo``,
no multicast, unicast discovery to 127.0.0.1). Pass it as ``DdsBus(config=...)`` in-process, or put
it in ``CYCLONEDDS_URI`` for ROS 2 nodes that should talk to this process on one machine.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from cyclonedds.core import GuardCondition, Policy, Qos, ReadCondition, WaitSet
from cyclonedds.core import InstanceState, SampleState, ViewState
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from . import typestore as ts
from .config import QosSpec
from .dds_types import RawSample, dds_topic_name, idl_class, wire_sample

LOOPBACK_ADDRESS = '127.0.0.1'


def loopback_config(max_participants: int = 32) -> str:
    """CycloneDDS configuration confining discovery and data to the loopback interface."""
    # Unicast discovery probes one port per participant index on each peer; the bound is how many
    # local participants can find each other.
    return (
        '<CycloneDDS xmlns="https://cdds.io/config"><Domain Id="any">'
        '<General><Interfaces><NetworkInterface name="lo"/></Interfaces>'
        '<AllowMulticast>false</AllowMulticast></General>'
        '<Discovery><ParticipantIndex>auto</ParticipantIndex>'
        f'<MaxAutoParticipantIndex>{int(max_participants)}</MaxAutoParticipantIndex>'
        f'<Peers><Peer address="{LOOPBACK_ADDRESS}"/></Peers></Discovery>'
        '</Domain></CycloneDDS>')


_DOMAINS: Dict[int, Tuple[Domain, str]] = {}
_DOMAINS_LOCK = threading.Lock()


def _configured_domain(domain_id: int, config: str) -> Domain:
    with _DOMAINS_LOCK:
        if domain_id not in _DOMAINS:
            _DOMAINS[domain_id] = (Domain(domain_id, config), config)
        domain, existing = _DOMAINS[domain_id]
    if existing != config:
        raise ValueError(f'DDS domain {domain_id} is already configured differently in this process')
    return domain


def dds_qos(spec: QosSpec) -> Qos:
    reliability = (Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100))
                   if spec.reliability == 'reliable' else Policy.Reliability.BestEffort)
    durability = (Policy.Durability.TransientLocal if spec.durability == 'transient_local'
                  else Policy.Durability.Volatile)
    # XCDR1 ("CDR v0" in cyclone's terms) is what ROS 2 writes and what the payload header says.
    return Qos(reliability, durability, Policy.History.KeepLast(spec.depth),
               Policy.DataRepresentation(use_cdrv0_representation=True))


class DdsPublisher:
    def __init__(self, bus: 'DdsBus', topic: str, msgtype: str, qos: QosSpec):
        self.topic, self.msgtype = topic, msgtype
        self._topic = bus.topic(topic, msgtype)
        self._writer = DataWriter(bus.participant, self._topic, qos=dds_qos(qos))

    def publish(self, msg: Any) -> None:
        self.publish_cdr(ts.serialize(msg, self.msgtype))

    def publish_cdr(self, cdr: bytes) -> None:
        self._writer.write(wire_sample(cdr, self.msgtype))

    def matched_subscriptions(self) -> int:
        return len(self._writer.get_matched_subscriptions())


class DdsSubscription:
    def __init__(self, bus: 'DdsBus', topic: str, msgtype: str, callback: Callable[..., None],
                 qos: QosSpec, raw: bool = False, with_info: bool = False):
        self.topic, self.msgtype, self.callback, self.raw = topic, msgtype, callback, raw
        self.with_info = with_info
        self.reader = DataReader(bus.participant, bus.topic(topic, msgtype), qos=dds_qos(qos))
        self.condition = ReadCondition(self.reader, SampleState.Any | ViewState.Any | InstanceState.Any)
        self.decode_errors = 0

    def matched_publications(self) -> int:
        return len(self.reader.get_matched_publications())


class DdsBus:
    """One DDS participant carrying ROS 2 topics; callbacks run on one dispatch thread."""

    def __init__(self, domain_id: int = 0, config: Optional[str] = None, namespace: str = '/',
                 logger: Optional[logging.Logger] = None):
        self.domain_id = domain_id
        self.namespace = namespace
        self.log = logger or logging.getLogger('perception.ros.dds')
        # A Domain object with an explicit config must exist before the participant joins it, and
        # cyclone allows one per id and process: buses of one process share it.
        self._domain = _configured_domain(domain_id, config) if config is not None else None
        self.participant = DomainParticipant(domain_id)
        self._topics: Dict[str, Tuple[Topic, str]] = {}
        self._subs: List[DdsSubscription] = []
        self._waitset = WaitSet(self.participant)
        self._wake = GuardCondition(self.participant)
        self._waitset.attach(self._wake)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def topic(self, name: str, msgtype: str) -> Topic:
        dds_name = dds_topic_name(name, self.namespace)
        with self._lock:
            if dds_name not in self._topics:
                self._topics[dds_name] = (Topic(self.participant, dds_name, idl_class(msgtype)), msgtype)
            topic, known = self._topics[dds_name]
        if known != msgtype:
            raise ValueError(f'topic {name} ({dds_name}) already used with {known}, not {msgtype}')
        return topic

    def publisher(self, topic: str, msgtype: str, qos: QosSpec = QosSpec.preset('default')
                  ) -> DdsPublisher:
        return DdsPublisher(self, topic, msgtype, qos)

    def subscribe(self, topic: str, msgtype: str, callback: Callable[..., None],
                  qos: QosSpec = QosSpec.preset('sensor_data'), raw: bool = False,
                  with_info: bool = False) -> DdsSubscription:
        """``callback(msg)`` with the rosbags message (``raw=True``: the CDR bytes);
        ``with_info=True``: ``callback(msg, info)``, as rclpy's two-argument callbacks, with
        ``info['source_timestamp']`` the writer's wall-clock time of the sample (ns)."""
        sub = DdsSubscription(self, topic, msgtype, callback, qos, raw, with_info)
        with self._lock:
            self._subs.append(sub)
        self._waitset.attach(sub.condition)
        self._wake.set(True)
        return sub

    # --- dispatch ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name='dds-dispatch', daemon=True)
            self._thread.start()

    def spin_once(self, timeout_s: float = 0.05) -> int:
        """Wait for data up to ``timeout_s`` and run the callbacks; return how many samples."""
        self._waitset.wait(duration(seconds=timeout_s))
        self._wake.set(False)
        with self._lock:
            subs = list(self._subs)
        handled = 0
        for sub in subs:
            for sample in sub.reader.take(N=64):
                if isinstance(sample, RawSample):
                    handled += 1
                    self._deliver(sub, sample.cdr, sample.sample_info)
        return handled

    def _deliver(self, sub: DdsSubscription, cdr: bytes, sample_info: Any = None) -> None:
        if sub.raw:
            msg: Any = cdr
        else:
            try:
                msg = ts.deserialize(cdr, sub.msgtype)
            except Exception as err:  # a peer with a different definition must not kill the node
                sub.decode_errors += 1
                self.log.warning(f'{sub.topic}: cannot decode {len(cdr)} bytes of CDR as '
                                 f'{sub.msgtype}: {type(err).__name__}: {err}')
                return
        try:
            if sub.with_info:
                sub.callback(msg, {'source_timestamp': getattr(sample_info, 'source_timestamp', None)})
            else:
                sub.callback(msg)
        except Exception:  # one failing callback must not stop the dispatch thread
            self.log.exception(f'{sub.topic}: callback failed')

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.spin_once(0.05)

    def close(self) -> None:
        """Stop dispatching and delete the participant (and with it every reader/writer)."""
        self._stop.set()
        self._wake.set(True)
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        with self._lock:
            self._subs.clear()
        # cyclonedds-python has no close(): Entity.__del__ is its dds_delete (recursive), and waiting
        # for garbage collection would keep sockets and discovery alive for an unknown time.
        self.participant.__del__()
