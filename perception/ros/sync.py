"""Approximate-time synchroniser over header stamps (message_filters ApproximateTime, ROS-free).

Semantics, close to ``message_filters.ApproximateTimeSynchronizer`` (the rclpy one):
- one bounded queue per topic (``queue_size``; the oldest message is evicted first);
- a set is one message per *active* topic whose stamps span at most ``slop`` (max - min <= slop);
- matching is tried when a message arrives, anchored on it, so a set is emitted as soon as it is
  complete (no waiting for a possibly better one: the node wants low latency);
- among the candidate sets of an anchor, the one with the smallest span wins (ties: the newest);
Differences that make it safe for a live node, all counted in :attr:`stats`:
- each message is used at most once and sets come out in stamp order: after a set is emitted, every
  queued message at or before the set's stamp on its topic is discarded (``superseded``), and a later
  arrival at or before that stamp is dropped (``late``), so out-of-order delivery never yields a set
  older than one already emitted;
- a second message with a stamp already queued on the same topic is dropped (``duplicate``);
- topics can be switched off and on (stale sensors, health.py): :meth:`set_active` re-matches the
  queues of the remaining topics and returns the newest set that became complete.
Stamps are integer nanoseconds so equality and ordering are exact.
"""
from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple


class Stamped(NamedTuple):
    stamp_ns: int
    item: Any


#: One synchronised set: active topic -> its message.
MatchedSet = Dict[str, Stamped]


@dataclass
class SyncStats:
    emitted: int = 0
    late: int = 0          # arrived at/before the last emitted stamp of its topic
    duplicate: int = 0     # same stamp already queued on that topic
    overflow: int = 0      # evicted from a full queue before it could match
    superseded: int = 0    # discarded because a newer set was emitted first
    per_topic_dropped: Dict[str, int] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        return self.late + self.duplicate + self.overflow + self.superseded


class _Queue:
    """Stamp-sorted bounded queue of one topic."""

    def __init__(self):
        self.stamps: List[int] = []
        self.items: Dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.stamps)

    def insert(self, stamp: int, item: Any) -> None:
        bisect.insort(self.stamps, stamp)
        self.items[stamp] = item

    def pop_oldest(self) -> None:
        self.items.pop(self.stamps.pop(0))

    def discard_through(self, stamp: int) -> int:
        """Remove every message with stamp <= ``stamp``; return how many."""
        cut = bisect.bisect_right(self.stamps, stamp)
        for s in self.stamps[:cut]:
            del self.items[s]
        del self.stamps[:cut]
        return cut

    def window(self, lo: int, hi: int) -> List[int]:
        return self.stamps[bisect.bisect_left(self.stamps, lo):bisect.bisect_right(self.stamps, hi)]


class ApproximateTimeSync:
    """Synchronise ``topics`` by stamp; ``slop_ns`` is the largest allowed span of a set."""

    def __init__(self, topics: Sequence[str], slop_ns: int, queue_size: int = 10):
        if not topics:
            raise ValueError('ApproximateTimeSync needs at least one topic')
        if len(set(topics)) != len(topics):
            raise ValueError(f'duplicate topics in {list(topics)}')
        if slop_ns < 0:
            raise ValueError(f'slop must be >= 0 ns, got {slop_ns}')
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        self.topics: Tuple[str, ...] = tuple(topics)
        self.slop_ns = int(slop_ns)
        self.queue_size = int(queue_size)
        self._queues: Dict[str, _Queue] = {t: _Queue() for t in self.topics}
        self._last: Dict[str, int] = {t: -1 for t in self.topics}
        self.stats = SyncStats(per_topic_dropped={t: 0 for t in self.topics})

    # --- state -------------------------------------------------------------------------------
    @property
    def active(self) -> Tuple[str, ...]:
        return tuple(t for t in self.topics if t in self._queues)

    def queue_lengths(self) -> Dict[str, int]:
        return {t: len(q) for t, q in self._queues.items()}

    def set_active(self, topics: Iterable[str]) -> Optional[MatchedSet]:
        """Synchronise only ``topics`` from now on; return the newest set that this completes."""
        wanted = set(topics)
        unknown = wanted - set(self.topics)
        if unknown:
            raise ValueError(f'unknown topics {sorted(unknown)}; configured: {list(self.topics)}')
        for t in self.topics:
            if t not in wanted and t in self._queues:
                self._drop(t, len(self._queues.pop(t)), 'superseded')
            elif t in wanted and t not in self._queues:
                self._queues[t] = _Queue()
        return self._rematch() if self._queues else None

    # --- input -------------------------------------------------------------------------------
    def add(self, topic: str, stamp_ns: int, item: Any) -> Optional[MatchedSet]:
        """Queue one message; return the set it completes, if any."""
        if topic not in self._queues:
            raise ValueError(f'topic {topic!r} is not active (active: {list(self.active)}, '
                             f'configured: {list(self.topics)})')
        stamp_ns = int(stamp_ns)
        queue = self._queues[topic]
        if stamp_ns <= self._last[topic]:
            self._drop(topic, 1, 'late')
            return None
        if stamp_ns in queue.items:
            self._drop(topic, 1, 'duplicate')
            return None
        queue.insert(stamp_ns, item)
        if len(queue) > self.queue_size:
            queue.pop_oldest()
            self._drop(topic, 1, 'overflow')
            if stamp_ns not in queue.items:   # the new message itself was the oldest
                return None
        return self._match(topic, stamp_ns)

    # --- matching ------------------------------------------------------------------------------
    def _best_set(self, topic: str, stamp: int) -> Optional[Dict[str, int]]:
        others = [t for t in self.active if t != topic]
        windows = []
        for t in others:
            cands = self._queues[t].window(stamp - self.slop_ns, stamp + self.slop_ns)
            if not cands:
                return None
            windows.append(cands)
        best, best_key = None, None
        for combo in itertools.product(*windows):
            stamps = combo + (stamp, )
            span = max(stamps) - min(stamps)
            if span > self.slop_ns:
                continue
            key = (span, -sum(stamps))
            if best_key is None or key < best_key:
                best, best_key = combo, key
        if best is None:
            return None
        chosen = dict(zip(others, best))
        chosen[topic] = stamp
        return chosen

    def _emit(self, chosen: Dict[str, int]) -> MatchedSet:
        out: MatchedSet = {}
        for t, s in chosen.items():
            queue = self._queues[t]
            out[t] = Stamped(s, queue.items[s])
            older = queue.discard_through(s) - 1
            if older:
                self._drop(t, older, 'superseded')
            self._last[t] = s
        self.stats.emitted += 1
        return out

    def _match(self, topic: str, stamp: int) -> Optional[MatchedSet]:
        chosen = self._best_set(topic, stamp)
        return None if chosen is None else self._emit(chosen)

    def _rematch(self) -> Optional[MatchedSet]:
        # Anchors newest first: the first complete set found is the newest one.
        anchors = sorted(((s, t) for t, q in self._queues.items() for s in q.stamps), reverse=True)
        for stamp, topic in anchors:
            chosen = self._best_set(topic, stamp)
            if chosen is not None:
                return self._emit(chosen)
        return None

    def _drop(self, topic: str, n: int, reason: str) -> None:
        setattr(self.stats, reason, getattr(self.stats, reason) + n)
        self.stats.per_topic_dropped[topic] += n
