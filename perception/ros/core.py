"""The ROS-free node: decode -> stale-sensor policy -> approximate-time sync -> newest complete set ->
predictor -> output messages. Transports (rclpy layer, DDS runner, bag replay) only move messages in
and out; everything observable about the node's behaviour lives here and is tested without ROS.

Registration (docs/registration.md): when thermal and/or depth cameras are registered onto the colour
camera (``topics.<sensor>_camera_info`` + ``registration.<sensor>_to_rgb``), the core keeps the first
CameraInfo of each of those cameras and of the colour camera, builds the
:class:`~perception.sensors.registration.Registration` once all have arrived (a rig is rigid) and warps
every set onto the colour grid before the predictor, as ``perception infer --calibration`` does; until
then sets are not run and diagnostics name the CameraInfo topics awaited.

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
from .health import ERROR, OK, WARN, SensorHealth, diagnostics_message
from .image_codec import decode_sensor
from .outputs import CLASS_OUTPUTS, label_info_message, result_messages
from .sync import ApproximateTimeSync, MatchedSet
from .typestore import header as make_header
from .typestore import stamp_ns
from .worker import LatestOnlyWorker

#: The per-stage times the core keeps (running means, ``ms.<stage>`` in ``stats`` and /diagnostics):
#: one image's decoding, a set's registration, the Predictor's own three stages, building the output
#: messages and handing them to the transport.
STAGES = ('decode', 'register', 'preprocess', 'inference', 'postprocess', 'encode', 'publish')

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
    ``on_camera_info`` feeds the cameras' CameraInfo: the output grid's one is re-stamped onto the
    outputs, and with registration configured the first of each awaited camera builds
    ``registration`` (until then ``awaiting_camera_info()`` names the cameras and no set runs).

    Attributes:
        thermal_scaling: the 16-bit thermal scaling recorded in the predictor's model
            (``predictor.spec.thermal_scaling``; None: mono16 is read as / 65535).
        registration: the ``Registration`` built from CameraInfo, or None.
    """

    def __init__(self, config: NodeConfig, predictor: PredictorFn, sink: Sink, *,
                 clock: Callable[[], float] = time.monotonic,
                 stamp_clock: Callable[[], int] = time.time_ns,
                 logger: Optional[Any] = None):
        self.stamp_clock = stamp_clock     # ns, for headers the node makes itself (diagnostics)
        self.predictor = predictor
        self.sink = sink
        self.clock = clock
        self.log = logger or logging.getLogger('perception.ros')
        self._lock = threading.RLock()
        spec = getattr(predictor, 'spec', None)     # a perception.Predictor's ModelSpec
        #: enabled sensors the model does not use (not built for, or never trained on): their
        #: topics are not subscribed (one warning here; ``/diagnostics`` names them)
        self.config, self.ignored_sensors = model_inputs(config, predictor, self.log)
        config = self.config
        #: what the outputs carry; the overlay's display threshold falls back to the model's
        self.output_options = config.output_options(getattr(spec, 'display_thr', None))
        now = clock()
        self.health = SensorHealth(config.sensors, config.stale_timeout, now)
        self.sync = ApproximateTimeSync(config.sensors, int(round(config.slop * 1e9)),
                                        config.queue_size)
        self.worker: LatestOnlyWorker[FrameSet] = LatestOnlyWorker(self.process, logger=self.log)
        #: 16-bit thermal scaling recorded in the model (None: mono16 / 65535)
        self.thermal_scaling = getattr(spec, 'thermal_scaling', None)
        #: thermal outside the thermal camera's view after registration: the normalisation mean,
        #: which the network sees as 0 (as perception infer and Predictor.prepare fill it)
        norm = getattr(spec, 'normalization', None)
        self.thermal_fill = float(norm['thermal']['mean'][0]) if norm else 0.5
        self.registration: Optional[Any] = None     # perception.sensors.registration.Registration
        self._camera_infos: Dict[str, Any] = {}      # latest CameraInfo per camera
        self._registration_infos: Dict[str, Any] = {}   # the first ones, until registration is built
        self._registration_error = ''
        self._registration_frame = ''
        self._next_diag_s = now
        self._last_log: Dict[str, float] = {}
        self.counters: Dict[str, float] = {
            **{f'received.{s}': 0 for s in config.sensors},
            **{f'malformed.{s}': 0 for s in config.sensors},
            'malformed_sets': 0, 'awaiting_camera_info': 0, 'processed': 0, 'predictor_errors': 0,
            'output_errors': 0,
            'last_process_ms': 0.0, 'mean_process_ms': 0.0, 'last_age_ms': 0.0,
            **{f'ms.{stage}': 0.0 for stage in STAGES}}
        self._stage_counts: Dict[str, int] = {stage: 0 for stage in STAGES}

    # --- lifecycle (live mode: a worker thread runs the predictor) -------------------------------
    def start(self) -> None:
        """Start the inference worker (live mode): from now on ``on_image``/``tick`` hand the sets
        they complete to it, and it keeps only the newest one waiting.

        Returns:
            None. Starting a running worker does nothing.
        """
        self.worker.start()

    def class_messages(self) -> Dict[str, Any]:
        """The model's class lists as ``vision_msgs/LabelInfo`` (``det_classes``: detection
        classes, threshold ``score_thr``; ``seg_classes``: the label image's classes), from the
        predictor's ``ModelSpec``; those it has none of, or whose topic is empty, are left out."""
        spec = getattr(self.predictor, 'spec', None)
        header = make_header(self.stamp_clock(), self.config.output_frame_id)
        out = {}
        for name, threshold in zip(CLASS_OUTPUTS, (self.config.score_thr, 0.0)):
            classes = tuple(getattr(spec, name, ()) or ())
            if classes and self.config.output_topics.get(name):
                out[name] = label_info_message(classes, header, threshold)
        return out

    def publish_classes(self) -> Dict[str, Any]:
        """Publish ``class_messages`` through the sink (once, after the outputs are active: the
        transports give those topics a transient-local QoS). Returns what was published."""
        messages = self.class_messages()
        for name, msg in messages.items():
            self.sink(name, msg)
        return messages

    def stop(self) -> None:
        """Stop the inference worker, waiting (up to 5 s) for the set it is processing.

        Returns:
            None. A set still waiting is discarded; the core can be started again.
        """
        self.worker.stop()

    # --- inputs (thread-safe; called from transport callbacks) -----------------------------------
    def on_image(self, sensor: str, msg: Any) -> List[FrameSet]:
        """Feed one Image of ``sensor`` (thread-safe: transport callbacks call it).

        Args:
            sensor: ``'rgb'``, ``'thermal'`` or ``'depth'``; must be enabled in the config.
            msg: its ``sensor_msgs/Image`` (rosbags message object). A malformed image is counted
                (``malformed.<sensor>``), logged (throttled) and skipped, never raised.

        Returns:
            The synchronised sets it completes, oldest first (in live mode they also go to the
            worker, which keeps only the newest). Empty while registration awaits its CameraInfo.

        Raises:
            ValueError: ``sensor`` is not enabled.
        """
        if sensor not in self.config.sensors:
            raise ValueError(f'sensor {sensor!r} is not enabled (enabled: {self.config.sensors})')
        topic = self.config.topics[sensor]
        with self._lock:
            now = self.clock()
            self.counters[f'received.{sensor}'] += 1
            try:
                t0 = time.perf_counter()
                frame = decode_sensor(msg, sensor, source=f'{sensor} on {topic}',
                                      thermal_scaling=self.thermal_scaling)
                self._stage('decode', t0)
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

    def on_camera_info(self, sensor: str, msg: Any) -> None:
        """Feed one CameraInfo of ``sensor``'s camera (thread-safe).

        The latest one of the output grid's camera is re-stamped onto each set's outputs. With
        registration, the first one of each awaited camera is kept, and once all have arrived the
        registration is built from them (later ones do not change it: the rig is rigid).

        Args:
            sensor: the camera it describes (``'rgb'``, ``'thermal'``, ``'depth'``).
            msg: a ``sensor_msgs/CameraInfo`` (rosbags message object).

        Returns:
            None. An info that cannot be used for registration is logged, reported in diagnostics
            and discarded (the next ones are tried), never raised.
        """
        if sensor not in SENSORS:
            raise ValueError(f'camera_info: unknown sensor {sensor!r}; expected one of {SENSORS}')
        with self._lock:
            self._camera_infos[sensor] = msg
            awaited = self.config.awaited_camera_infos
            if self.registration is not None or sensor not in awaited:
                return
            self._registration_infos.setdefault(sensor, msg)
            if set(awaited) <= set(self._registration_infos):
                self._build_registration()

    def awaiting_camera_info(self) -> List[str]:
        """Cameras whose CameraInfo the registration still waits for (empty: ready, or none)."""
        with self._lock:
            if self.registration is not None:
                return []
            return [s for s in self.config.awaited_camera_infos if s not in self._registration_infos]

    def tick(self) -> List[FrameSet]:
        """Periodic housekeeping (a timer at ~10 Hz): stale detection and diagnostics.

        Returns:
            The set that a sensor going stale completed, if any (live mode: also handed to the
            worker); diagnostics are published when their period has passed.
        """
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
        """Run the predictor on one set and publish its outputs through the sink.

        With registration, thermal and depth are first warped onto the colour camera's grid (the
        outputs are on that grid). Errors (a frame that does not fit its CameraInfo, a failing
        predictor, a result that does not fit the frame) are counted and logged, never raised.

        Args:
            frame_set: a set returned by ``on_image`` or ``tick``.

        Returns:
            The published messages by output name (empty when the set failed).
        """
        t0 = time.perf_counter()
        frames = self.registered(frame_set)
        if frames is None:
            return {}
        shape = (self.registration.color.size if self.registration is not None
                 else next(iter(frames.values())).shape[:2])
        try:
            result = self.predictor(**{s: frames.get(s) for s in SENSORS})
        except Exception as err:  # a failing model must not take the node down
            self.counters['predictor_errors'] += 1
            self._log_throttled('predictor', 'error', f'predictor failed on the set stamped '
                                f'{frame_set.stamp_ns} ns: {type(err).__name__}: {err}')
            return {}
        for stage in ('preprocess', 'inference', 'postprocess'):   # the Predictor's own timings
            if stage in (getattr(result, 'timings_ms', None) or {}):
                self._stage(stage, ms=result.timings_ms[stage])
        try:
            t_encode = time.perf_counter()
            messages = result_messages(result, frame_set.header, frames, shape,
                                       self.output_options)
            self._stage('encode', t_encode)
        except (ValueError, TypeError) as err:
            self.counters['output_errors'] += 1
            self._log_throttled('outputs', 'error', f'predictor result for the set stamped '
                                f'{frame_set.stamp_ns} ns cannot be published: {err}')
            return {}
        with self._lock:
            info = self._camera_infos.get(self.config.output_camera_info)
        if info is not None and self.config.output_topics.get('camera_info'):
            messages['camera_info'] = dataclasses.replace(info, header=frame_set.header)
        t_publish = time.perf_counter()
        for name, message in messages.items():
            self.sink(name, message)
        self._stage('publish', t_publish)
        ms = (time.perf_counter() - t0) * 1e3
        with self._lock:
            n = self.counters['processed'] = self.counters['processed'] + 1
            self.counters['last_process_ms'] = ms
            # set complete -> published: waiting for the worker plus processing
            self.counters['last_age_ms'] = (self.clock() - frame_set.completed_s) * 1e3
            self.counters['mean_process_ms'] += (ms - self.counters['mean_process_ms']) / n
        return messages

    def registered(self, frame_set: FrameSet) -> Optional[Dict[str, np.ndarray]]:
        """The set's frames on the grid the predictor sees: with registration, thermal and depth
        warped onto the colour camera's grid (thermal outside its camera's view filled with the
        normalisation mean); without, as decoded.

        Returns:
            sensor -> decoded array, present sensors only; None when a frame does not fit the
            registration from CameraInfo (counted as ``malformed_sets`` and logged, never raised).
        """
        if self.registration is None:
            return dict(frame_set.frames)
        t0 = time.perf_counter()
        try:
            on_rgb = self.registration.apply(**frame_set.frames, thermal_fill=self.thermal_fill)
        except SensorError as err:
            with self._lock:
                self.counters['malformed_sets'] += 1
            self._log_throttled(f'registration:{err.sensor}:{err.field}', 'warning',
                                f'skipping set stamped {frame_set.stamp_ns} ns: it does not fit '
                                f'the registration from CameraInfo: {err}')
            return None
        self._stage('register', t0)
        return {s: on_rgb[s] for s in frame_set.frames}

    def publish_diagnostics(self) -> Any:
        """Publish one ``diagnostic_msgs/DiagnosticArray`` now: the inputs' summary with every
        counter, one status per sensor (OK / STALE) and, with registration, one saying whether it
        is built or which CameraInfo topics it awaits.

        Returns:
            The message published.
        """
        with self._lock:
            now = self.clock()
            extra = [self._registration_status()] if self.config.awaited_camera_infos else []
            msg = diagnostics_message(self.config.node_name, self.health.states(now),
                                      make_header(self.stamp_clock()), self.stats(),
                                      self.config.topics, extra)
        self.sink('diagnostics', msg)
        return msg

    def stats(self) -> Dict[str, float]:
        """The node's counters (thread-safe), as ``/diagnostics`` carries them.

        Returns:
            ``received.<sensor>``, ``malformed.<sensor>``, ``malformed_sets``,
            ``awaiting_camera_info``, ``processed``, ``predictor_errors``, ``output_errors``,
            timings (``last_process_ms``, ``mean_process_ms``, ``last_age_ms``; the running mean of
            each stage of ``STAGES`` as ``ms.<stage>``), the drops
            (``sync.*``: emitted/late/duplicate/overflow/superseded, ``busy_dropped``) and
            ``active_sensors`` and ``ignored_sensors`` (enabled but not used by the model), both
            comma-separated.
        """
        with self._lock:
            s = self.sync.stats
            return {**self.counters, 'sync.emitted': s.emitted, 'sync.late': s.late,
                    'sync.duplicate': s.duplicate, 'sync.overflow': s.overflow,
                    'sync.superseded': s.superseded, 'busy_dropped': self.worker.dropped,
                    'active_sensors': ','.join(self.sync.active),
                    'ignored_sensors': ','.join(self.ignored_sensors)}

    # --- internals -----------------------------------------------------------------------------
    def _stage(self, stage: str, since: Optional[float] = None, ms: Optional[float] = None) -> None:
        """Fold one stage time (``ms``, or from ``since`` to now) into its running mean
        ``ms.<stage>`` (what /diagnostics carries)."""
        value = (time.perf_counter() - since) * 1e3 if ms is None else float(ms)
        with self._lock:
            n = self._stage_counts[stage] = self._stage_counts[stage] + 1
            self.counters[f'ms.{stage}'] += (value - self.counters[f'ms.{stage}']) / n

    def _build_registration(self) -> None:
        from perception.sensors.calibration import registration_from_camera_info
        infos = self._registration_infos
        cfg = self.config
        try:
            self.registration = registration_from_camera_info(
                infos['rgb'], infos.get('thermal'), infos.get('depth'),
                thermal_transform=cfg.thermal_to_rgb if 'thermal' in infos else None,
                depth_transform=cfg.depth_to_rgb if 'depth' in infos else None,
                plane_distance=cfg.plane_distance).prepare()   # its tables now, not on frame 1
        except ValueError as err:     # ConfigError / SensorError: a CameraInfo it cannot use
            topics = ', '.join(cfg.camera_info_topics[s] for s in infos)
            self._registration_error = f'{err} (CameraInfo from {topics}; waiting for new ones)'
            self._registration_infos = {}
            self._log_throttled('registration_build', 'error',
                                f'cannot build the registration: {self._registration_error}')
            return
        self._registration_error = ''
        self._registration_frame = getattr(infos['rgb'].header, 'frame_id', '')
        self.log.info(f'registration ready: {self.registration}')

    def _registration_status(self) -> tuple:
        name = 'registration'
        if self.registration is not None:
            return OK, name, f'OK: {self.registration}'
        waiting = [f'{s} ({self.config.camera_info_topics[s]})'
                   for s in self.config.awaited_camera_infos if s not in self._registration_infos]
        text = f'AWAITING CameraInfo: {", ".join(waiting)}; sets are not run until it arrives'
        if self._registration_error:
            return ERROR, name, f'{text}; the last ones were unusable: {self._registration_error}'
        return WARN, name, text

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
        awaited = self.config.awaited_camera_infos
        if awaited and self.registration is None:
            self.counters['awaiting_camera_info'] += 1
            waiting = ', '.join(f'{s} ({self.config.camera_info_topics[s]})' for s in awaited
                                if s not in self._registration_infos)
            self._log_throttled('awaiting_camera_info', 'warning',
                                f'not running the set: registration awaits CameraInfo of {waiting}')
            return None
        shapes = {s: f.shape[:2] for s, f in frames.items()}
        if not awaited and len(set(shapes.values())) > 1:
            self.counters['malformed_sets'] += 1
            detail = ', '.join(f'{s} {h}x{w} ({self.config.topics[s]})' for s, (h, w) in shapes.items())
            self._log_throttled('size_mismatch', 'warning',
                                f'skipping set: image size mismatch between sensors: {detail} '
                                '(height x width); without registration every sensor must be on one '
                                'image plane. To register thermal/depth onto the colour camera set '
                                'the ROS parameters topics.rgb_camera_info, '
                                'topics.<sensor>_camera_info and registration.<sensor>_to_rgb '
                                '([x, y, z, qx, qy, qz, qw]); see docs/ros.md')
            return None
        ref = next(s for s in SENSORS if s in matched)
        # registered outputs lie on the colour camera's grid: its frame, whichever sensor is present
        frame_id = self.config.output_frame_id or (
            (self.registration is not None and self._registration_frame) or matched[ref].item[1])
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


def used_sensors(predictor: Any) -> tuple:
    """The sensors the predictor's model uses: ``spec.trained_sensors`` (built for and trained on);
    all of them when the predictor has no spec."""
    return tuple(getattr(getattr(predictor, 'spec', None), 'trained_sensors', None) or SENSORS)


def model_inputs(config: NodeConfig, predictor: Any, log: Any) -> tuple:
    """``(config, ignored)``: ``config`` restricted to ``used_sensors(predictor)`` and the enabled
    sensors left out, with one warning through ``log`` naming them and their topics.

    Raises:
        ConfigError: none of the enabled sensors is one the model uses.
    """
    used = used_sensors(predictor)
    ignored = tuple(s for s in config.sensors if s not in used)
    if ignored:
        log.warning('not subscribing to ' + ', '.join(f'{s} ({config.topics[s]})' for s in ignored)
                    + f': the model uses {"+".join(used)} only')
    return config.restricted_to(used), ignored


def counters_summary(stats: Mapping[str, Any]) -> str:
    return ', '.join(f'{k}={v:.1f}' if isinstance(v, float) else f'{k}={v}' for k, v in stats.items())
