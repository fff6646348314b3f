"""What the wire-level rigs share, over CycloneDDS directly (test_ros_dds.py, ros_dds_peers.py) and over
real rclpy (real/): the sensor script and its frames, the summary of every output message as the
receiving side decodes it (rosbags, from the CDR bytes), and the checks and figures on the result.

A script is a list of phases ``{'duration_s', 'rate_hz', 'sensors': [...], 'malformed': None|kind}``
played at wall-clock pace; each frame is stamped with ``time.time_ns()`` when it is built, so latency
is output receive time minus that stamp.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List

import numpy as np
import pytest
from ros_testkit import FAIL_MARKER, depth_for_index, synthetic_frame

SENSOR_TOPICS = {'rgb': '/camera/color/image_raw', 'thermal': '/thermal/image_raw',
                 'depth': '/camera/depth/image_rect_raw'}
OUTPUT_TOPICS = {'labels': '/perception/labels', 'detections': '/perception/detections',
                 'depth': '/perception/depth', 'diagnostics': '/diagnostics'}
ENCODINGS = {'rgb': 'rgb8', 'thermal': 'mono16', 'depth': '16UC1'}
SKEW_NS = {'rgb': 0, 'thermal': 1_000_000, 'depth': 2_000_000}
ALL = ['rgb', 'thermal', 'depth']


def output_type(name: str) -> str:
    from perception.ros import typestore as ts
    return {'detections': ts.DETECTION2D_ARRAY, 'diagnostics': ts.DIAGNOSTIC_ARRAY}.get(name, ts.IMAGE)


def malformed(msg: Any, kind: str, sensor: str) -> Any:
    from perception.ros.image_codec import encode_sensor
    if kind == 'step' and sensor == 'thermal':
        msg.step = msg.width        # mono16 needs 2 bytes per pixel
    elif kind == 'encoding' and sensor == 'depth':
        msg.encoding = 'yuv422'
    elif kind == 'size' and sensor == 'rgb':
        small = np.zeros((msg.height // 2, msg.width // 2, 3), np.uint8)
        msg = encode_sensor(small, 'rgb', 'rgb8', msg.header)
    elif kind == 'predictor_error' and sensor == 'rgb':
        msg.data[:3] = FAIL_MARKER      # a valid image that ros_testkit.FailOnMarker refuses
    return msg


def frame_messages(index: int, stamp: int, phase: Dict[str, Any], height: int, width: int,
                   frame_id: str = 'camera') -> Dict[str, Any]:
    """The rosbags Image of each sensor of ``phase`` for frame ``index`` (malformed as it says)."""
    from perception.ros import typestore as ts
    from perception.ros.image_codec import encode_sensor
    rgb, thermal, depth, _ = synthetic_frame(index, height, width)
    values = {'rgb': rgb, 'thermal': thermal, 'depth': depth}
    out = {}
    for sensor in phase['sensors']:
        msg = encode_sensor(values[sensor], sensor, ENCODINGS[sensor],
                            ts.header(stamp + SKEW_NS[sensor], frame_id))
        if phase.get('malformed'):
            msg = malformed(msg, phase['malformed'], sensor)
        out[sensor] = msg
    return out


def play(script: List[Dict[str, Any]], height: int, width: int,
         publish: Callable[[str, Any], None]) -> List[Dict[str, Any]]:
    """Play ``script`` through ``publish(sensor, rosbags Image)``; return the log of frames sent."""
    log: List[Dict[str, Any]] = []
    index = 0
    for phase_no, phase in enumerate(script):
        period = 1.0 / phase['rate_hz']
        t_next = time.monotonic()
        t_end = t_next + phase['duration_s']
        while time.monotonic() < t_end:
            stamp = time.time_ns()
            for sensor, msg in frame_messages(index, stamp, phase, height, width).items():
                publish(sensor, msg)
            log.append({'index': index, 'stamp': stamp, 'phase': phase_no,
                        'sensors': list(phase['sensors'])})
            index += 1
            t_next += period
            now = time.monotonic()
            # behind schedule (a loaded machine): wait at least half a period, as a camera that
            # skips frames does; catching up in a burst would stamp frames closer together than
            # the node's slop, and a set could then rightly pair one frame's rgb with the
            # previous frame's depth
            t_next = max(t_next, now + period / 2)
            time.sleep(t_next - now)
    return log


def summarise(name: str, cdr: bytes, recv: int) -> Dict[str, Any]:
    """What the checks need of one output message, decoded by rosbags from its CDR."""
    from perception.ros import typestore as ts
    from perception.ros.image_codec import image_to_array
    msg = ts.deserialize(cdr, output_type(name))
    rec: Dict[str, Any] = {'recv': recv, 'stamp': ts.stamp_ns(msg.header),
                           'frame_id': msg.header.frame_id}
    if name == 'labels':
        rec['encoding'] = msg.encoding
        rec['values'] = sorted(int(v) for v in np.unique(image_to_array(msg)))
        rec['shape'] = (int(msg.height), int(msg.width))
    elif name == 'depth':
        depth = image_to_array(msg)
        rec.update(encoding=msg.encoding, mean=float(depth.mean()), shape=depth.shape,
                   finite=bool(np.isfinite(depth).all()))
    elif name == 'detections':
        rec['dets'] = [(d.results[0].hypothesis.class_id, d.results[0].hypothesis.score,
                        d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x)
                       for d in msg.detections]
    elif name == 'diagnostics':
        summary = msg.status[0]
        rec.update(level=int(summary.level), message=summary.message,
                   values={kv.key: kv.value for kv in summary.values},
                   sensors={s.name.rsplit(' ', 1)[-1]: int(s.level) for s in msg.status[1:]})
    return rec


class RssSampler:
    """The resident memory of a process (a psutil.Process) every 0.1 s between start() and stop():
    ``samples`` is a list of (time_ns, bytes)."""

    def __init__(self, proc):
        self.proc, self.samples = proc, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.1):
            self.samples.append((time.time_ns(), self.proc.memory_info().rss))

    def start(self) -> 'RssSampler':
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)


@dataclass
class RigResult:
    sent: List[Dict[str, Any]]
    records: Dict[str, List[Dict[str, Any]]]
    stats: Dict[str, Any]
    rss: List[tuple] = field(default_factory=list)     # (time_ns, rss bytes) of the node's process
    endpoints: Dict[str, List[tuple]] = field(default_factory=dict)   # seen in DDS discovery

    def latencies_ms(self, name='depth', t0=None, t1=None):
        return np.array([(r['recv'] - r['stamp']) / 1e6 for r in self.records[name]
                         if (t0 is None or r['stamp'] >= t0) and (t1 is None or r['stamp'] < t1)])

    def phase_window(self, phase):
        stamps = [s['stamp'] for s in self.sent if s['phase'] == phase]
        return min(stamps), max(stamps) + 1

    def sent_by_stamp(self):
        return {s['stamp']: s for s in self.sent}


def report(rig: str, name: str, **figures) -> None:
    """One line of figures (run pytest with -s to see it), quoted in docs/ros.md."""
    print(f'\n[{rig}:{name}] ' + json.dumps(figures, default=str))


def check_contents(result: RigResult, height: int, width: int) -> None:
    """Every output is stamped with a frame that was sent and shows that frame's content (for the
    ToyPredictor of ros_testkit, which echoes depth and boxes the hot square)."""
    sent = result.sent_by_stamp()
    for rec in result.records['depth']:
        frame = sent[rec['stamp']]                                # rgb stamp = reference
        assert rec['frame_id'] == 'camera' and rec['encoding'] == '32FC1'
        assert rec['mean'] == pytest.approx(depth_for_index(frame['index']), abs=1e-3)
    for rec in result.records['detections']:
        frame = sent[rec['stamp']]
        _, _, _, (x0, y0, size) = synthetic_frame(frame['index'], height, width)
        cls, score, cx, cy, sx = rec['dets'][0]
        expect_cls = 'hot' if 'thermal' in frame['sensors'] else 'bright'
        assert (cls, cx, cy, sx) == (expect_cls, x0 + size / 2, y0 + size / 2, size)
        assert score == pytest.approx(0.9)


def nominal_figures(result: RigResult, phase: int = 0) -> Dict[str, Any]:
    """Delivery, output rate and latency of one phase (the 'nominal' rows of docs/ros.md)."""
    t0, t1 = result.phase_window(phase)
    sent = sum(1 for s in result.sent if s['phase'] == phase)
    outs = sum(1 for r in result.records['depth'] if t0 <= r['stamp'] < t1)
    lat = result.latencies_ms(t0=t0, t1=t1)
    return dict(frames_sent=sent, outputs=outs, delivered=round(outs / sent, 3),
                output_rate_hz=round(outs / ((t1 - t0) / 1e9), 1),
                latency_ms_p50=round(float(np.median(lat)), 1),
                latency_ms_p90=round(float(np.percentile(lat, 90)), 1),
                latency_ms_max=round(float(lat.max()), 1))


def flood_figures(result: RigResult, phase: int = 1) -> Dict[str, Any]:
    """Output rate, latency early and late in the flood, the node's memory before and during it."""
    f0, f1 = result.phase_window(phase)
    early = result.latencies_ms(t0=f0, t1=f0 + 1.5e9)
    late = result.latencies_ms(t0=f1 - 1.5e9, t1=f1)
    outs = len([r for r in result.records['depth'] if r['stamp'] >= f0])
    before = [v for t, v in result.rss if t < f0]
    during = [v for t, v in result.rss if t >= f0]
    return dict(flood_frames=sum(1 for s in result.sent if s['phase'] == phase), outputs=outs,
                output_rate_hz=round(outs / ((f1 - f0) / 1e9), 1),
                latency_ms_p50_first=round(float(np.median(early)), 1),
                latency_ms_p50_last=round(float(np.median(late)), 1),
                latency_ms_max=round(float(max(early.max(), late.max())), 1),
                rss_mb_before=round(before[-1] / 2**20, 1), rss_mb_after=round(during[-1] / 2**20, 1),
                rss_mb_peak=round(max(during) / 2**20, 1))


# --- the scenarios both rigs run: node settings (NodeConfig fields), the script, the test predictor
# (ToyPredictor(delay_s) in-process; model_path names the same for a launched node) ---
SCENARIOS: Dict[str, Dict[str, Any]] = {
    'nominal': dict(settings=dict(slop=0.01, stale_timeout=0.5, diagnostics_period=0.5),
                    delay_s=0.005, model_path='ros_testkit:toy_predictor_5ms',
                    script=[{'duration_s': 3.0, 'rate_hz': 30, 'sensors': ALL}]),
    'fault': dict(settings=dict(slop=0.01, stale_timeout=0.3, diagnostics_period=0.2), delay_s=0.005,
                  model_path='ros_testkit:toy_predictor_5ms',
                  script=[{'duration_s': 1.0, 'rate_hz': 30, 'sensors': ALL},
                          # thermal dies, and comes back
                          {'duration_s': 1.5, 'rate_hz': 30, 'sensors': ['rgb', 'depth']},
                          {'duration_s': 1.5, 'rate_hz': 30, 'sensors': ALL}]),
    # ~25 Hz at most with 40 ms inference: a flood at 3x = 75 Hz
    'flood': dict(settings=dict(slop=0.005, stale_timeout=0.5, diagnostics_period=0.5), delay_s=0.04,
                  model_path='ros_testkit:toy_predictor_40ms',
                  script=[{'duration_s': 1.0, 'rate_hz': 10, 'sensors': ALL},
                          {'duration_s': 4.0, 'rate_hz': 75, 'sensors': ALL}]),
}


def check_nominal(result: RigResult, height: int, width: int) -> Dict[str, Any]:
    """30 Hz of all three sensors: frames come back with their content, diagnostics OK. How many,
    how soon, and from when on every diagnostic is OK depend on the machine's load:
    ``nominal_timing``."""
    from perception.ros.health import OK
    check_contents(result, height, width)
    assert {tuple(r['values']) for r in result.records['labels']} <= {(0, 1)}   # thermal-based
    figures = nominal_figures(result)
    assert figures['outputs'] > 0, f'none of {figures["frames_sent"]} frames came back'
    t0, t1 = result.phase_window(0)
    diag = [d for d in result.records['diagnostics'] if t0 <= d['stamp'] < t1]
    # the run's last diagnostic says OK and counts what was processed (the first ones may come
    # before every sensor was seen)
    assert diag and diag[-1]['level'] == OK and 'processed' in diag[-1]['values'], diag[-1:]
    settled = [d for d in diag if d['stamp'] >= t0 + 0.6e9]
    figures.update(diag_from_600ms=len(settled),
                   diag_not_ok_from_600ms=sum(d['level'] != OK for d in settled))
    return figures


def nominal_timing(figures: Dict[str, Any]) -> None:
    """Wall-clock bounds of the nominal run (an otherwise idle machine: pytest -m timing)."""
    sent, outs = figures['frames_sent'], figures['outputs']
    assert sent >= 75                                             # ~90 at 30 Hz
    assert outs >= 0.6 * sent, f'only {outs} of {sent} frames came back'
    assert figures['latency_ms_p50'] < 150
    # every diagnostic from 0.6 s into the run on says OK
    assert figures['diag_from_600ms'] > 0 and figures['diag_not_ok_from_600ms'] == 0, figures


def _degraded_thermal(d: Dict[str, Any]) -> bool:
    from perception.ros.health import STALE, WARN
    return (d['level'] == WARN and d['message'].startswith('DEGRADED: thermal')
            and d['sensors']['thermal'] == STALE)


def check_fault(result: RigResult, stale_timeout: float, height: int, width: int) -> Dict[str, Any]:
    """Thermal stops for 1.5 s: outputs go on from rgb + depth with DEGRADED diagnostics, and thermal
    is used again (diagnostics OK) once it is back -- checked in the order of events, not within
    wall-clock windows (how soon after the stall and after the return: ``fault_timing``)."""
    from perception.ros.health import OK
    check_contents(result, height, width)
    sent = result.sent_by_stamp()
    t_gap0, t_gap1 = result.phase_window(1)
    t_back0, t_back1 = result.phase_window(2)
    labels, diag = result.records['labels'], result.records['diagnostics']
    # keeps publishing without thermal: the gap's frames carry none, so their outputs are rgb-based
    in_gap = [r for r in result.records['depth'] if t_gap0 <= r['stamp'] < t_gap1]
    assert in_gap, 'no output while thermal was stalled'
    gap_labels = [r for r in labels if t_gap0 <= r['stamp'] < t_gap1]
    assert gap_labels and all(r['values'] == [0, 2] for r in gap_labels)
    # diagnostics: DEGRADED (thermal STALE) after thermal stopped, then OK for a set it is back in
    degraded = [i for i, d in enumerate(diag) if d['recv'] >= t_gap0 and _degraded_thermal(d)]
    assert degraded, 'no DEGRADED (thermal STALE) diagnostics after thermal stopped'
    assert any(d['level'] == OK and d['stamp'] >= t_back0 for d in diag[degraded[0] + 1:]), \
        'diagnostics not OK again after thermal came back'
    # recovers: thermal used again (for frames that had it) and still used at the end
    back = [r for r in labels if r['stamp'] >= t_back0]
    assert back and back[-1]['values'] == [0, 1], back[-1:]
    assert all('thermal' in sent[r['stamp']]['sensors'] for r in back if r['values'] == [0, 1])
    recv = sorted(r['recv'] for r in result.records['depth'] if t_gap0 - 0.2e9 <= r['stamp'] < t_gap1)
    max_gap_ms = max(np.diff(recv)) / 1e6 if len(recv) > 1 else float('inf')
    first_back = min(r['recv'] for r in labels if r['stamp'] >= t_back0 and r['values'] == [0, 1])
    # what fault_timing bounds: from 0.4 s into the stall every diagnostic is DEGRADED; from 0.2 s
    # after the return every output uses thermal, from 0.3 s every diagnostic is OK
    diag_gap = [d for d in diag if t_gap0 + 0.4e9 <= d['recv'] < t_gap1]
    diag_back = [d for d in diag if t_back0 + 0.3e9 <= d['stamp'] < t_back1]
    return dict(stale_timeout_ms=stale_timeout * 1e3, max_output_gap_ms=round(max_gap_ms, 1),
                recovery_ms=round((first_back - t_back0) / 1e6, 1),
                gap_frames=sum(1 for s in result.sent if t_gap0 + 0.4e9 <= s['stamp'] < t_gap1),
                outputs_in_gap=sum(1 for r in in_gap if r['stamp'] >= t_gap0 + 0.4e9),
                diag_gap_from_400ms=len(diag_gap),
                diag_gap_not_degraded_from_400ms=sum(not _degraded_thermal(d) for d in diag_gap),
                outputs_without_thermal_from_200ms_back=sum(
                    r['values'] != [0, 1] for r in back if r['stamp'] >= t_back0 + 0.2e9),
                diag_back_from_300ms=len(diag_back),
                diag_back_not_ok_from_300ms=sum(d['level'] != OK for d in diag_back),
                diag_levels=[d['level'] for d in diag],
                frames_after_recovery=sum(1 for s in result.sent if s['phase'] == 2),
                outputs_after_recovery=sum(1 for r in result.records['depth'] if r['stamp'] >= t_back0))


def fault_timing(figures: Dict[str, Any]) -> None:
    """Wall-clock bounds of the fault run: most frames of the gap come out degraded, and the only
    stall is the stale timeout itself (outputs resume right after it); DEGRADED within 0.4 s of the
    stall, thermal used within 0.2 s and OK within 0.3 s of its return."""
    assert figures['outputs_in_gap'] >= 0.5 * figures['gap_frames']
    assert figures['max_output_gap_ms'] < figures['stale_timeout_ms'] + 250
    assert figures['diag_gap_from_400ms'] > 0 and figures['diag_gap_not_degraded_from_400ms'] == 0
    assert figures['outputs_without_thermal_from_200ms_back'] == 0
    assert figures['diag_back_from_300ms'] > 0 and figures['diag_back_not_ok_from_300ms'] == 0


def check_flood(result: RigResult, delay_s: float, height: int, width: int) -> Dict[str, Any]:
    """75 Hz into a node that manages ~25: it drops to the newest set and says so; memory stays
    bounded (latency: ``flood_timing``). ``result.stats``: the node's counters (numbers)."""
    check_contents(result, height, width)
    figures = flood_figures(result)
    stats = result.stats
    drops = {k: stats[k] for k in ('busy_dropped', 'sync.superseded', 'sync.overflow', 'sync.late')}
    f0, f1 = result.phase_window(1)
    late = result.latencies_ms(t0=f1 - 1.5e9, t1=f1)
    assert figures['outputs'] <= figures['flood_frames'] * 0.6   # the node cannot and does not keep up
    assert drops['busy_dropped'] > 0                              # ... and says so
    assert figures['rss_mb_after'] - figures['rss_mb_before'] < 40   # memory bounded
    diag = result.records['diagnostics'][-1]
    assert int(diag['values']['busy_dropped']) > 0
    return dict(flood_rate_hz=75, predictor_ms=delay_s * 1e3, **figures, drops=drops,
                latency_ms_max_last=round(float(late.max()), 1), last_age_ms=stats['last_age_ms'],
                received={k: stats[k] for k in stats if k.startswith('received')})


def flood_timing(figures: Dict[str, Any]) -> None:
    """Wall-clock bounds of the flood run: latency does not grow and stays bounded (no queue builds
    up), a completed set is published soon."""
    delay_ms = figures['predictor_ms']
    assert figures['latency_ms_p50_last'] <= figures['latency_ms_p50_first'] + 60
    assert figures['latency_ms_max_last'] < 20 * delay_ms
    assert figures['last_age_ms'] < 5 * delay_ms
