"""Approximate-time synchroniser: properties over jittered, out-of-order, dropped and duplicated
stamps (hypothesis), plus the documented edge cases."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perception.ros.sync import ApproximateTimeSync

MS = 1_000_000
PERIOD = 33 * MS
SLOP = 15 * MS
TOPICS = ('rgb', 'thermal', 'depth')
# (period, jitter): SLOP < period - 2 * jitter in both, so a set can only hold one frame. Narrow:
# every frame fits in SLOP; wide: a frame's stamps can span up to 24 ms > SLOP and must not sync.
REGIMES = ((PERIOD, 5 * MS), (60 * MS, 12 * MS))


@st.composite
def scenarios(draw, reorder: bool, allow_drops: bool = True, allow_dups: bool = True):
    topics = TOPICS[:draw(st.integers(1, 3))]
    period, jitter = draw(st.sampled_from(REGIMES))
    n_frames = draw(st.integers(1, 30))
    events = []   # (arrival_ns, topic, stamp_ns, frame)
    for frame in range(n_frames):
        for topic in topics:
            if allow_drops and draw(st.integers(0, 9)) == 0:       # ~10 % lost
                continue
            stamp = 1_000 * MS + frame * period + draw(st.integers(-jitter, jitter))
            delay = draw(st.integers(0, 120 * MS)) if reorder else 0
            events.append((stamp + delay, topic, stamp, frame))
            if allow_dups and draw(st.integers(0, 9)) == 0:         # ~10 % delivered twice
                events.append((stamp + delay + draw(st.integers(0, 50 * MS)), topic, stamp, frame))
    events.sort(key=lambda e: e[0])
    queue_size = draw(st.integers(1, 12)) if not reorder else 200
    return topics, events, queue_size


def run(topics, events, queue_size):
    sync = ApproximateTimeSync(topics, SLOP, queue_size)
    emitted = []
    for _, topic, stamp, frame in events:
        matched = sync.add(topic, stamp, frame)
        assert all(n <= queue_size for n in sync.queue_lengths().values())
        if matched:
            emitted.append(matched)
    return sync, emitted


def complete_frames(topics, events):
    """Frames with a message on every topic whose stamps fit within SLOP."""
    have = {}
    for _, topic, stamp, frame in events:
        have.setdefault(frame, {})[topic] = stamp
    return {f for f, st in have.items()
            if set(st) == set(topics) and max(st.values()) - min(st.values()) <= SLOP}


def check_safety(topics, events, sync, emitted):
    frames = []
    for matched in emitted:
        assert set(matched) == set(topics)                       # one message per topic
        stamps = [m.stamp_ns for m in matched.values()]
        assert max(stamps) - min(stamps) <= SLOP                  # within slop
        members = {m.item for m in matched.values()}
        assert len(members) == 1                                  # never mixes frames
        frames.append(members.pop())
    assert frames == sorted(set(frames))                          # in order, each frame once
    for topic in topics:                                          # stamps strictly increasing
        seq = [m[topic].stamp_ns for m in emitted]
        assert seq == sorted(set(seq))
    # every received message is accounted for: emitted, dropped (with a reason) or still queued
    received = {t: sum(1 for e in events if e[1] == t) for t in topics}
    queued = sync.queue_lengths()
    for t in topics:
        assert len(emitted) + sync.stats.per_topic_dropped[t] + queued[t] == received[t]
    assert sync.stats.emitted == len(emitted)
    return set(frames)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(reorder=False))
def test_in_order_delivery_emits_exactly_the_complete_frames(scenario):
    topics, events, queue_size = scenario
    sync, emitted = run(topics, events, queue_size)
    frames = check_safety(topics, events, sync, emitted)
    assert frames == complete_frames(topics, events)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(reorder=True))
def test_out_of_order_delivery_is_safe_and_keeps_the_newest_frame(scenario):
    topics, events, queue_size = scenario
    sync, emitted = run(topics, events, queue_size)
    frames = check_safety(topics, events, sync, emitted)
    complete = complete_frames(topics, events)
    assert frames <= complete
    if complete:
        assert max(complete) in frames      # the newest complete set always comes out


@settings(max_examples=80, deadline=None)
@given(scenarios(reorder=False, allow_drops=False, allow_dups=True))
def test_duplicates_never_produce_extra_sets(scenario):
    topics, events, queue_size = scenario
    sync, emitted = run(topics, events, queue_size)
    n_frames = len({e[3] for e in events})
    assert len(emitted) == len(complete_frames(topics, events)) <= n_frames
    assert sync.stats.duplicate + sync.stats.late >= len(events) - n_frames * len(topics)


def test_slop_bounds_the_whole_set_not_each_pair_with_the_anchor():
    sync = ApproximateTimeSync(['a', 'b', 'c'], SLOP)
    sync.add('a', 0, 'a')
    sync.add('c', 2 * SLOP - 2, 'c')
    assert sync.add('b', SLOP - 1, 'b') is None      # within SLOP of both, but spans 2 SLOP - 2


def test_slop_is_inclusive():
    sync = ApproximateTimeSync(['a', 'b'], SLOP)
    assert sync.add('a', 0, 'a0') is None
    assert sync.add('b', SLOP + 1, 'b_far') is None
    matched = sync.add('b', SLOP, 'b_edge')
    assert {t: m.item for t, m in matched.items()} == {'a': 'a0', 'b': 'b_edge'}


def test_smallest_span_wins_and_older_messages_are_superseded():
    sync = ApproximateTimeSync(['a', 'b'], 20 * MS)
    sync.add('b', 90 * MS, 'b90')
    sync.add('b', 99 * MS, 'b99')
    matched = sync.add('a', 100 * MS, 'a100')
    assert matched['b'].item == 'b99'
    assert sync.stats.superseded == 1 and sync.queue_lengths() == {'a': 0, 'b': 0}
    assert sync.add('b', 95 * MS, 'late') is None and sync.stats.late == 1


def test_queue_overflow_evicts_the_oldest():
    sync = ApproximateTimeSync(['a', 'b'], SLOP, queue_size=2)
    for k in range(4):
        sync.add('a', k * PERIOD, k)
    assert sync.queue_lengths()['a'] == 2 and sync.stats.overflow == 2
    assert sync.add('b', 0, 'b0') is None            # its partner was evicted
    assert sync.add('b', 3 * PERIOD, 'b3')['a'].item == 3


def test_set_active_drops_a_stale_topic_and_emits_the_newest_complete_set():
    sync = ApproximateTimeSync(TOPICS, SLOP)
    for k in range(3):                                # thermal never arrives
        sync.add('rgb', k * PERIOD, ('rgb', k))
        sync.add('depth', k * PERIOD + MS, ('depth', k))
    matched = sync.set_active(['rgb', 'depth'])
    assert {t: m.item for t, m in matched.items()} == {'rgb': ('rgb', 2), 'depth': ('depth', 2)}
    assert sync.active == ('rgb', 'depth')
    assert sync.stats.superseded == 4                 # frames 0 and 1 of both topics
    # thermal comes back: sets need it again
    assert sync.set_active(TOPICS) is None
    assert sync.add('rgb', 3 * PERIOD, 'r3') is None
    assert sync.add('depth', 3 * PERIOD, 'd3') is None
    assert set(sync.add('thermal', 3 * PERIOD, 't3')) == set(TOPICS)


def test_single_topic_passes_every_message_through():
    sync = ApproximateTimeSync(['rgb'], SLOP)
    assert [sync.add('rgb', k, k)['rgb'].item for k in range(5)] == list(range(5))


def test_invalid_use_is_refused():
    with pytest.raises(ValueError, match='at least one topic'):
        ApproximateTimeSync([], SLOP)
    with pytest.raises(ValueError, match='duplicate'):
        ApproximateTimeSync(['a', 'a'], SLOP)
    sync = ApproximateTimeSync(['a', 'b'], SLOP)
    sync.set_active(['a'])
    with pytest.raises(ValueError, match="topic 'b' is not active"):
        sync.add('b', 0, None)
    with pytest.raises(ValueError, match='unknown topics'):
        sync.set_active(['c'])
