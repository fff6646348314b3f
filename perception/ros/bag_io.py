"""rosbag2 reading and writing (sqlite3 and MCAP) through rosbags, with the package's typestore.

Reading: a bag directory (``metadata.yaml`` + storage files) or a bare ``.db3`` / ``.mcap`` file.
rosbags pairs the topics of ``metadata.yaml`` with those inside the storage file by topic, type *and*
offered QoS; when a tool rewrote one but not the other (rosbag2's own ``talker`` test bag is such a
case: QoS deadlines of 0 in the YAML, INT_MAX in the .db3), that pairing fails and rosbags yields no
messages at all. :func:`read_messages` detects the mismatch and reads by the storage file's own
connections instead, which is what rosbag2 itself trusts.

Writing: MCAP by default (opens in Foxglove and ``ros2 bag play``), sqlite3 on request.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from . import typestore as ts

log = logging.getLogger('perception.ros')
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
WRITER_VERSION = 8   # rosbags writes 8 or 9; 8 is the older layout (adds ros_distro only)


class BagMessage(NamedTuple):
    topic: str
    msgtype: str
    log_time_ns: int
    cdr: bytes


def bag_topics(path: str | Path) -> Dict[str, Tuple[str, int]]:
    """topic -> (message type, message count as the bag declares it)."""
    with Reader(path) as reader:
        out: Dict[str, Tuple[str, int]] = {}
        for conn in reader.connections:
            _, count = out.get(conn.topic, (conn.msgtype, 0))
            out[conn.topic] = (conn.msgtype, count + conn.msgcount)
        return out


def _storage_connections(reader: Reader) -> Optional[List[Connection]]:
    """The storage files' own connections when they disagree with metadata.yaml, else None."""
    storages = getattr(reader.storage, 'storages', None)   # only the directory reader has files
    if not storages:
        return None
    meta = [(c.topic, c.msgtype, c.ext) for c in reader.connections]   # ext holds lists: no set
    own = [c for s in storages for c in getattr(s, 'connections', [])]
    if all((c.topic, c.msgtype, c.ext) in meta for c in own):
        return None
    log.warning(f'{reader.path}: metadata.yaml and the storage file disagree on topic QoS/types; '
                'reading by the storage file\'s own topic list')
    return own


def read_messages(path: str | Path, topics: Optional[Iterable[str]] = None) -> Iterator[BagMessage]:
    """Messages in log-time order, optionally only ``topics``; payload stays CDR bytes."""
    wanted = set(topics) if topics is not None else None
    with Reader(path) as reader:
        conns = _storage_connections(reader) or list(reader.connections)
        selected = [c for c in conns if wanted is None or c.topic in wanted]
        if not selected:
            return
        for conn, log_time, raw in reader.messages(connections=selected):
            yield BagMessage(conn.topic, conn.msgtype, int(log_time), bytes(raw))


class BagWriter:
    """Context manager: ``write(topic, msgtype, log_time_ns, msg)``; topics are added on first use."""

    def __init__(self, path: str | Path, storage: str = 'mcap'):
        if storage not in STORAGES:
            raise ValueError(f'storage {storage!r}; expected one of {sorted(STORAGES)}')
        self.path = Path(path)
        self._writer = Writer(self.path, version=WRITER_VERSION, storage_plugin=STORAGES[storage])
        self._conns: Dict[str, Connection] = {}
        self.counts: Dict[str, int] = {}

    def __enter__(self) -> 'BagWriter':
        self._writer.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writer.close()

    def write(self, topic: str, msgtype: str, log_time_ns: int, msg: Any) -> None:
        self.write_cdr(topic, msgtype, log_time_ns, ts.serialize(msg, msgtype))

    def write_cdr(self, topic: str, msgtype: str, log_time_ns: int, cdr: bytes) -> None:
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._conns[topic] = self._writer.add_connection(topic, msgtype,
                                                                    typestore=ts.typestore())
        elif conn.msgtype != msgtype:
            raise ValueError(f'{self.path}: topic {topic} holds {conn.msgtype}, cannot add {msgtype}')
        self._writer.write(conn, int(log_time_ns), cdr)
        self.counts[topic] = self.counts.get(topic, 0) + 1
