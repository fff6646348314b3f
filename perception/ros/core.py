"""The ROS-free node: decode -> stale-sensor policy -> approximate-time sync -> newest complete set ->
predictor -> output messages. Transports (rclpy layer, DDS runner, bag replay) only move messages in
and out; everything observable about the node's behaviour lives here and is tested without ROS.

Inputs are rosbags message objects (``typestore.deserialize`` of the CDR payload); outputs go to a
``sink(output_name, message)`` with output names ``labels``, ``overlay``, ``detections``, ``depth``,
``camera_info`` and ``diagnostics``. Times are seconds on a monotonic clock passed in (``clock``), so
tests and bag replay can drive them; ``stamp_clock`` (ns) stamps the messages the node originates
(diagnostics): wall time live, bag time in replay.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np

from perception.contract import SENSORS, SensorError
from perception.results import PerceptionResult

from .config import NodeConfig
from .health import SensorHealth, diagnostics_message
from .image_codec import decode_sensor
from .outputs import result_messages
from .sync import ApproximateTimeSync, MatchedSet
from .typestore import header as make_header
from .typestore import stamp_ns
from .worker import LatestOnlyWorker

#: ``predictor(rgb=..., thermal=..., depth=...) -> PerceptionResult`` (absent sensors are None).
PredictorFn = Callable[..., PerceptionResult]
Sink = Callable[[str, Any], None]
LOG_THROTTLE_S = 5.0


@dataclass
class FrameSet:
    """One synchronised input set, decoded, ready for the predictor."""
    frames: Dict[str, np.ndarray]        # present sensors only, decoded representation
    stamps: Dict[str, int]               # header stamps (ns) of those sensors
    header: Any                          # output header: stamp/frame of the reference sensor
    completed_s: float                   # node clock when the set became complete

    @property
    def stamp_ns(self) -> int:
        return stamp_ns(self.header)

    @property
    def modality_mask(self) -> tuple:
        return tuple(s in self.frames for s in SENSORS)


class PerceptionCore:
    """The node without ROS: feed it images (``on_image``) and a timer (``tick``); it publishes through
    ``sink``.

    Args:
        config: the node's parameters (enabled sensors, topics, sync slop, stale timeout, outputs).
        predictor: ``predictor(rgb=, thermal=, depth=) -> PerceptionResult`` (absent sensors None).
        sink: ``sink(output_name, message)`` called for every output message (``labels``,
            ``overlay``, ``detections``, ``depth``, ``camera_info``, ``diagnostics``).
        clock: monotonic seconds (tests and bag replay drive it).
        stamp_clock: nanoseconds stamped on the messages the node originates (diagnostics).
        logger: where warnings go (``logging.getLogger('perception.ros')`` by default).

    Live mode: ``start()`` runs the predictor on a worker thread that keeps only the newest complete
    set; without it (bag replay, tests) the caller passes the sets ``on_image``/``tick`` return to
    ``process``, which returns the published messages. ``stats()`` returns the counters.
    """

    def __init__(self, config: NodeConfig, predictor: PredictorFn, sink: Sink, *,
                 clock: Callable[[], float] = time.monotonic,
                 stamp_clock: Callable[[], int] = time.time_ns,
                 logger: Optional[Any] = None):
        self.config = config
        self.stamp_clock = stamp_clock     # ns, for headers the node makes itself (diagnostics)
        self.predictor = predictor
        self.sink = sink
        self.clock = clock
        self.log = logger or logging.getLogger('perception.ros')
        self._lock = threading.RLock()
        now = clock()
        self.health = SensorHealth(config.sensors, config.stale_timeout, now)
        self.sync = ApproximateTimeSync(config.sensors, int(round(config.slop * 1e9)),
                                        config.queue_size)
        self.worker: LatestOnlyWorker[FrameSet] = LatestOnlyWorker(self.process, logger=self.log)
        self._camera_info: Optional[Any] = None
        self._next_diag_s = now
        self._last_log: Dict[str, float] = {}
        self.counters: Dict[str, float] = {
            **{f'received.{s}': 0 for s in config.sensors},
            **{f'malformed.{s}': 0 for s in config.sensors},
            'malformed_sets': 0, 'processed': 0, 'predictor_errors': 0, 'output_errors': 0,
            'last_process_ms': 0.0, 'mean_process_ms': 0.0, 'last_age_ms': 0.0}

    # --- lifecycle (live mode: a worker thread runs the predictor) -------------------------------
    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    # --- inputs (thread-safe; called from transport callbacks) -----------------------------------
    def on_image(self, sensor: str, msg: Any) -> List[FrameSet]:
        """Feed one Image of ``sensor``; return the sets it completes, oldest first (in live mode
        they also go to the worker, which keeps only the newest)."""
        if sensor not in self.config.sensors:
            raise ValueError(f'sensor {sensor!r} is not enabled (enabled: {self.config.sensors})')
        topic = self.config.topics[sensor]
        with self._lock:
            now = self.clock()
            self.counters[f'received.{sensor}'] += 1
            try:
                frame = decode_sensor(msg, sensor, source=f'{sensor} on {topic}')
                stamp = stamp_ns(msg.header)
            except SensorError as err:
                self.counters[f'malformed.{sensor}'] += 1
                self._log_throttled(f'malformed:{sensor}:{err.field}', 'warning',
                                    f'skipping malformed message: {err}')
                return []
            # A sensor going stale now can complete a set of the others: keep that one too.
            sets = [self._update_health(now)]
            if self.health.seen(sensor, now):
                self.log.info(f'sensor {sensor} ({topic}) is back; using it again')
                self._activate()
            sets.append(self.sync.add(sensor, stamp, (frame, msg.header.frame_id)))
            frame_sets = [self._to_frame_set(m, now) for m in sets if m]
            frame_sets = [f for f in frame_sets if f is not None]
        if self.worker.running:
            for frame_set in frame_sets:
                self.worker.submit(frame_set)
        return frame_sets

    def on_camera_info(self, msg: Any) -> None:
        with self._lock:
            self._camera_info = msg

    def tick(self) -> List[FrameSet]:
        """Periodic housekeeping (a timer at ~10 Hz): stale detection and diagnostics. Returns the set
        that a sensor going stale completed, if any (live mode: also handed to the worker)."""
        with self._lock:
            now = self.clock()
            matched = self._update_health(now)
            frame_set = self._to_frame_set(matched, now) if matched else None
            publish_diag = now >= self._next_diag_s
            if publish_diag:
                self._next_diag_s = now + self.config.diagnostics_period
        if frame_set is not None and self.worker.running:
            self.worker.submit(frame_set)
        if publish_diag:
            self.publish_diagnostics()
        return [frame_set] if frame_set is not None else []

    # --- processing ----------------------------------------------------------------------------
    def process(self, frame_set: FrameSet) -> Dict[str, Any]:
        """Run the predictor on one set and publish its outputs; errors are logged, never raised."""
        t0 = time.perf_counter()
        try:
            result = self.predictor(**{s: frame_set.frames.get(s) for s in SENSORS})
        except Exception as err:  # a failing model must not take the node down
            self.counters['predictor_errors'] += 1
            self._log_throttled('predictor', 'error', f'predictor failed on the set stamped '
                                f'{frame_set.stamp_ns} ns: {type(err).__name__}: {err}')
            return {}
        shape = next(iter(frame_set.frames.values())).shape[:2]
        try:
            messages = result_messages(result, frame_set.header, frame_set.frames, shape,
                                       self.config.output_options())
        except (ValueError, TypeError) as err:
            self.counters['output_errors'] += 1
            self._log_throttled('outputs', 'error', f'predictor result for the set stamped '
                                f'{frame_set.stamp_ns} ns cannot be published: {err}')
            return {}
        with self._lock:
            info = self._camera_info
        if info is not None and self.config.output_topics.get('camera_info'):
            messages['camera_info'] = dataclasses.replace(info, header=frame_set.header)
        for name, message in messages.items():
            self.sink(name, message)
        ms = (time.perf_counter() - t0) * 1e3
        with self._lock:
            n = self.counters['processed'] = self.counters['processed'] + 1
            self.counters['last_process_ms'] = ms
            # set complete -> published: waiting for the worker plus processing
            self.counters['last_age_ms'] = (self.clock() - frame_set.completed_s) * 1e3
            self.counters['mean_process_ms'] += (ms - self.counters['mean_process_ms']) / n
        return messages

    def publish_diagnostics(self) -> Any:
        with self._lock:
            now = self.clock()
            msg = diagnostics_message(self.config.node_name, self.health.states(now),
                                      make_header(self.stamp_clock()), self.stats(),
                                      self.config.topics)
        self.sink('diagnostics', msg)
        return msg

    def stats(self) -> Dict[str, float]:
        """Counters, incl. drops: sync.* (late/duplicate/overflow/superseded) and busy_dropped."""
        with self._lock:
            s = self.sync.stats
            return {**self.counters, 'sync.emitted': s.emitted, 'sync.late': s.late,
                    'sync.duplicate': s.duplicate, 'sync.overflow': s.overflow,
                    'sync.superseded': s.superseded, 'busy_dropped': self.worker.dropped,
                    'active_sensors': ','.join(self.sync.active)}

    # --- internals -----------------------------------------------------------------------------
    def _update_health(self, now: float) -> Optional[MatchedSet]:
        newly_stale = self.health.update(now)
        if not newly_stale:
            return None
        alive = self.health.alive()
        for s in newly_stale:
            self.log.warning(f'sensor {s} ({self.config.topics[s]}) stale: no message for '
                             f'{self.config.stale_timeout:.3f} s; continuing with '
                             f'{", ".join(alive) or "no sensor"}')
        matched = self._activate()
        self._next_diag_s = now      # report the change right away
        return matched

    def _activate(self) -> Optional[MatchedSet]:
        return self.sync.set_active(self.health.alive())

    def _to_frame_set(self, matched: MatchedSet, now: float) -> Optional[FrameSet]:
        frames = {s: m.item[0] for s, m in matched.items()}
        shapes = {s: f.shape[:2] for s, f in frames.items()}
        if len(set(shapes.values())) > 1:
            self.counters['malformed_sets'] += 1
            detail = ', '.join(f'{s} {h}x{w} ({self.config.topics[s]})' for s, (h, w) in shapes.items())
            self._log_throttled('size_mismatch', 'warning',
                                f'skipping set: image size mismatch between sensors: {detail}; '
                                'expected one registered image plane (same height x width)')
            return None
        ref = next(s for s in SENSORS if s in matched)
        frame_id = self.config.output_frame_id or matched[ref].item[1]
        return FrameSet(frames, {s: m.stamp_ns for s, m in matched.items()},
                        make_header(matched[ref].stamp_ns, frame_id), now)

    def _log_throttled(self, key: str, level: str, text: str) -> None:
        # A broken driver at 30 Hz must not flood the log: first occurrence, then every few seconds.
        now = self.clock()
        last = self._last_log.get(key)
        if last is not None and now - last < LOG_THROTTLE_S:
            return
        self._last_log[key] = now
        # One call site per severity: rclpy's logger binds the first severity logged from a call site
        # (file, line, bytecode offset) to that site and raises ValueError when it logs at another, so a
        # shared getattr(self.log, level)(text) would kill the node when a warning follows an error.
        if level == 'error':
            self.log.error(text)
        elif level == 'warning':
            self.log.warning(text)
        else:
            raise ValueError(f'log level {level!r}; expected error or warning')


def counters_summary(stats: Mapping[str, Any]) -> str:
    return ', '.join(f'{k}={v:.1f}' if isinstance(v, float) else f'{k}={v}' for k, v in stats.items())
