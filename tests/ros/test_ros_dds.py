"""Wire-level tests over CycloneDDS on loopback (127.0.0.1 only).

A separate process publishes RGB/thermal/depth as ROS 2 DDS topics (rt/..., ROS 2 type names, CDR)
at camera rates; the node core runs in this process behind the DDS transport; another process
subscribes to the results and decodes them with rosbags. Measured figures are printed (run with -s)
and quoted in docs/ros.md.
"""
import itertools
import json
import logging
import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List

import numpy as np
import psutil
import pytest
import ros_dds_peers as peers
from ros_testkit import ToyPredictor, depth_for_index, synthetic_frame

from perception.ros.config import NodeConfig
from perception.ros.dds import DdsBus, loopback_config
from perception.ros.dds_node import DdsPerceptionNode
from perception.ros.health import OK, STALE, WARN

# Image size of the test streams; PERCEPTION_DDS_TEST_SIZE=480x640 measures VGA (docs/ros.md).
HEIGHT, WIDTH = (int(v) for v in os.environ.get('PERCEPTION_DDS_TEST_SIZE', '120x160').split('x'))
ALL = ['rgb', 'thermal', 'depth']
_DOMAINS = itertools.count()


def pick_domain() -> int:
    # a fresh DDS domain per run keeps concurrent test runs on one machine apart
    return 1 + (os.getpid() * 3 + next(_DOMAINS)) % 200


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


def run_rig(config: NodeConfig, predictor, script, drain_s=1.0) -> RigResult:
    domain, xml = pick_domain(), loopback_config()
    ctx = mp.get_context('spawn')
    node = DdsPerceptionNode(config, predictor, DdsBus(domain, xml))
    sub_ready, sub_stop, pub_started = ctx.Event(), ctx.Event(), ctx.Event()
    sub_q, pub_q = ctx.Queue(), ctx.Queue()
    sub = ctx.Process(target=peers.result_subscriber, args=(domain, xml, sub_ready, sub_stop, sub_q),
                      daemon=True)
    pub = ctx.Process(target=peers.sensor_publisher,
                      args=(domain, xml, script, HEIGHT, WIDTH, pub_started, pub_q), daemon=True)
    proc, rss, sampling = psutil.Process(), [], threading.Event()

    def sample_rss():
        while not sampling.wait(0.1):
            rss.append((time.time_ns(), proc.memory_info().rss))
    sampler = threading.Thread(target=sample_rss, daemon=True)
    node.start()
    try:
        sub.start()
        assert sub_ready.wait(60), 'result subscriber did not start'
        sampler.start()
        pub.start()
        budget = sum(p['duration_s'] for p in script) + 60
        pub_result = pub_q.get(timeout=budget)
        assert pub_result['matched'], 'sensor publisher never matched the node (DDS discovery)'
        time.sleep(drain_s)
        sub_stop.set()
        sub_result = sub_q.get(timeout=30)
        assert sub_result['matched'], 'result subscriber never matched the node (DDS discovery)'
    finally:
        sampling.set()
        sub_stop.set()
        for p in (pub, sub):
            if p.pid is None:          # never started
                continue
            p.join(10)
            if p.is_alive():
                p.terminate()
        node.stop()
    return RigResult(pub_result['log'], sub_result['records'], node.core.stats(), rss,
                     sub_result['endpoints'])


def report(name, **figures):
    print(f'\n[dds:{name}] ' + json.dumps(figures))


def check_contents(result: RigResult):
    """Every output is stamped with a frame that was sent, and shows that frame's content."""
    sent = result.sent_by_stamp()
    for rec in result.records['depth']:
        frame = sent[rec['stamp']]                                # rgb stamp = reference
        assert rec['frame_id'] == 'camera' and rec['encoding'] == '32FC1'
        assert rec['mean'] == pytest.approx(depth_for_index(frame['index']), abs=1e-3)
    for rec in result.records['detections']:
        frame = sent[rec['stamp']]
        _, _, _, (x0, y0, size) = synthetic_frame(frame['index'], HEIGHT, WIDTH)
        cls, score, cx, cy, sx = rec['dets'][0]
        expect_cls = 'hot' if 'thermal' in frame['sensors'] else 'bright'
        assert (cls, cx, cy, sx) == (expect_cls, x0 + size / 2, y0 + size / 2, size)
        assert score == pytest.approx(0.9)


def test_dds_loopback_end_to_end_latency_and_throughput():
    config = NodeConfig(slop=0.01, stale_timeout=0.5, diagnostics_period=0.5)
    result = run_rig(config, ToyPredictor(delay_s=0.005),
                     [{'duration_s': 3.0, 'rate_hz': 30, 'sensors': ALL}])
    sent, outs = len(result.sent), len(result.records['depth'])
    assert sent >= 75                                             # ~90 at 30 Hz
    check_contents(result)
    assert {tuple(r['values']) for r in result.records['labels']} <= {(0, 1)}   # thermal-based
    lat = result.latencies_ms()
    t0, t1 = result.phase_window(0)
    rate = outs / ((t1 - t0) / 1e9)
    report('nominal', frames_sent=sent, outputs=outs, delivered=round(outs / sent, 3),
           output_rate_hz=round(rate, 1), latency_ms_p50=round(float(np.median(lat)), 1),
           latency_ms_p90=round(float(np.percentile(lat, 90)), 1),
           latency_ms_max=round(float(lat.max()), 1), image=f'{HEIGHT}x{WIDTH}',
           node=json.loads(json.dumps(result.stats, default=str)))
    assert outs >= 0.6 * sent, f'only {outs} of {sent} frames came back'
    assert np.median(lat) < 150
    diag = [d for d in result.records['diagnostics'] if t0 + 0.6e9 <= d['stamp'] < t1]
    assert diag and all(d['level'] == OK for d in diag) and 'processed' in diag[-1]['values']
    # what discovery shows of the node: ROS 2 topic and type names, sensor-data QoS on its inputs
    image = 'sensor_msgs::msg::dds_::Image_'
    assert {('rt/perception/labels', image, 'reliable'), ('rt/perception/depth', image, 'reliable'),
            ('rt/perception/overlay', image, 'reliable'),
            ('rt/perception/detections', 'vision_msgs::msg::dds_::Detection2DArray_', 'reliable'),
            ('rt/diagnostics', 'diagnostic_msgs::msg::dds_::DiagnosticArray_', 'reliable'),
            } <= set(result.endpoints['writers'])
    assert {(f'rt{t}', image, 'best_effort') for t in peers.SENSOR_TOPICS.values()} <= set(
        result.endpoints['readers'])


def test_dds_sensor_dropout_degrades_and_recovers():
    config = NodeConfig(slop=0.01, stale_timeout=0.3, diagnostics_period=0.2)
    script = [{'duration_s': 1.0, 'rate_hz': 30, 'sensors': ALL},
              {'duration_s': 1.5, 'rate_hz': 30, 'sensors': ['rgb', 'depth']},   # thermal dies
              {'duration_s': 1.5, 'rate_hz': 30, 'sensors': ALL}]              # and comes back
    result = run_rig(config, ToyPredictor(delay_s=0.005), script)
    check_contents(result)
    sent = result.sent_by_stamp()
    t_gap0, t_gap1 = result.phase_window(1)
    t_back0, t_back1 = result.phase_window(2)
    in_gap = [r for r in result.records['depth'] if t_gap0 + 0.4e9 <= r['stamp'] < t_gap1]
    gap_frames = sum(1 for s in result.sent if t_gap0 + 0.4e9 <= s['stamp'] < t_gap1)
    # keeps publishing without thermal: rgb-based segmentation
    assert len(in_gap) >= 0.5 * gap_frames
    gap_labels = [r for r in result.records['labels'] if t_gap0 + 0.4e9 <= r['stamp'] < t_gap1]
    assert gap_labels and all(r['values'] == [0, 2] for r in gap_labels)
    diag_gap = [d for d in result.records['diagnostics'] if t_gap0 + 0.4e9 <= d['recv'] < t_gap1]
    assert diag_gap and all(d['level'] == WARN and d['message'].startswith('DEGRADED: thermal')
                            and d['sensors']['thermal'] == STALE for d in diag_gap)
    # recovers: thermal used again, diagnostics OK
    back = [r for r in result.records['labels'] if r['stamp'] >= t_back0 + 0.2e9]
    assert back and all(r['values'] == [0, 1] for r in back)
    assert all('thermal' in sent[r['stamp']]['sensors'] for r in back)
    diag_back = [d for d in result.records['diagnostics'] if t_back0 + 0.3e9 <= d['stamp'] < t_back1]
    assert diag_back and all(d['level'] == OK for d in diag_back)
    outs_back = sum(1 for r in result.records['depth'] if r['stamp'] >= t_back0)
    # the only stall is the stale timeout itself: outputs resume degraded right after it
    recv = sorted(r['recv'] for r in result.records['depth'] if t_gap0 - 0.2e9 <= r['stamp'] < t_gap1)
    max_gap_ms = max(np.diff(recv)) / 1e6
    assert max_gap_ms < config.stale_timeout * 1e3 + 250
    first_back = min(r['recv'] for r in result.records['labels']
                     if r['stamp'] >= t_back0 and r['values'] == [0, 1])
    report('fault', stale_timeout_ms=config.stale_timeout * 1e3, max_output_gap_ms=round(max_gap_ms, 1),
           recovery_ms=round((first_back - t_back0) / 1e6, 1),
           gap_frames=gap_frames, outputs_in_gap=len(in_gap),
           diag_levels=[d['level'] for d in result.records['diagnostics']],
           frames_after_recovery=sum(1 for s in result.sent if s['phase'] == 2),
           outputs_after_recovery=outs_back)


def test_dds_flood_keeps_memory_and_latency_bounded():
    delay = 0.04                                          # ~25 Hz at most: flood at 3x = 75 Hz
    config = NodeConfig(slop=0.005, stale_timeout=0.5, diagnostics_period=0.5)
    script = [{'duration_s': 1.0, 'rate_hz': 10, 'sensors': ALL},
              {'duration_s': 4.0, 'rate_hz': 75, 'sensors': ALL}]
    result = run_rig(config, ToyPredictor(delay_s=delay), script)
    check_contents(result)
    f0, f1 = result.phase_window(1)
    flood_frames = sum(1 for s in result.sent if s['phase'] == 1)
    early = result.latencies_ms(t0=f0, t1=f0 + 1.5e9)
    late = result.latencies_ms(t0=f1 - 1.5e9, t1=f1)
    outs = len([r for r in result.records['depth'] if r['stamp'] >= f0])
    before = [v for t, v in result.rss if t < f0]
    during = [v for t, v in result.rss if t >= f0]
    rss_before, rss_after = before[-1], during[-1]
    stats = result.stats
    drops = {k: stats[k] for k in ('busy_dropped', 'sync.superseded', 'sync.overflow', 'sync.late')}
    report('flood', flood_rate_hz=75, predictor_ms=delay * 1e3, flood_frames=flood_frames,
           outputs=outs, output_rate_hz=round(outs / ((f1 - f0) / 1e9), 1),
           latency_ms_p50_first=round(float(np.median(early)), 1),
           latency_ms_p50_last=round(float(np.median(late)), 1),
           latency_ms_max=round(float(max(early.max(), late.max())), 1),
           rss_mb_before=round(rss_before / 2**20, 1), rss_mb_after=round(rss_after / 2**20, 1),
           rss_mb_peak=round(max(during) / 2**20, 1), drops=drops,
           received={k: stats[k] for k in stats if k.startswith('received')})
    assert outs <= flood_frames * 0.6                     # the node cannot and does not keep up
    assert drops['busy_dropped'] > 0                      # ... and says so
    assert np.median(late) <= np.median(early) + 60       # latency does not grow
    assert late.max() < 20 * delay * 1e3                  # bounded: no queue building up
    assert rss_after - rss_before < 40 * 2**20            # memory bounded
    assert stats['last_age_ms'] < 5 * delay * 1e3         # set complete -> published, in the node
    diag = result.records['diagnostics'][-1]
    assert int(diag['values']['busy_dropped']) > 0


def test_dds_malformed_messages_are_skipped(caplog):
    caplog.set_level(logging.WARNING, logger='perception.ros')
    config = NodeConfig(slop=0.01, stale_timeout=2.0, diagnostics_period=0.5)
    script = [{'duration_s': 0.5, 'rate_hz': 30, 'sensors': ALL},
              {'duration_s': 0.4, 'rate_hz': 30, 'sensors': ALL, 'malformed': 'step'},
              {'duration_s': 0.4, 'rate_hz': 30, 'sensors': ALL, 'malformed': 'encoding'},
              {'duration_s': 0.4, 'rate_hz': 30, 'sensors': ALL, 'malformed': 'size'},
              {'duration_s': 0.8, 'rate_hz': 30, 'sensors': ALL}]
    result = run_rig(config, ToyPredictor(), script)
    stats = result.stats
    assert stats['malformed.thermal'] >= 5 and stats['malformed.depth'] >= 5
    assert stats['malformed_sets'] >= 5
    text = ' | '.join(r.getMessage() for r in caplog.records)
    assert "thermal on /thermal/image_raw', field 'step'" in text
    assert "depth on /camera/depth/image_rect_raw', field 'encoding'" in text
    assert 'size mismatch between sensors: rgb 60x80' in text
    sent = result.sent_by_stamp()
    phases = {sent[r['stamp']]['phase'] for r in result.records['depth']}
    assert 4 in phases and not phases & {1, 2, 3}         # nothing from bad frames; goes on after
    check_contents(result)
    report('malformed', **{k: stats[k] for k in ('malformed.thermal', 'malformed.depth',
                                                   'malformed_sets', 'processed')})


def test_dds_node_command_line(capsys):
    """python -m perception.ros.dds_node: parameters file + model override, runs, reports counters."""
    from perception.ros.dds_node import main
    params = os.path.join(os.path.dirname(__file__), '..', '..', 'ros_nodes', 'config', 'params.yaml')
    rc = main(['--params', params, '--model', 'ros_testkit:ToyPredictor', '--loopback',
               '--domain-id', str(pick_domain()), '--duration', '0.6'])
    assert rc == 0
    out = capsys.readouterr().out
    assert 'processed=0' in out and 'received.rgb=0' in out and 'active_sensors=' in out


def test_dds_payloads_are_validated_against_the_ros2_type():
    """cyclone checks every payload against the generated ROS 2 type (its XCDR1 normaliser): rosbags'
    CDR of an Image passes and arrives intact, a corrupt payload is refused before it leaves."""
    from cyclonedds.core import DDSException

    from perception.ros import typestore as ts
    from perception.ros.image_codec import encode_sensor
    domain, xml = pick_domain(), loopback_config()
    node_bus, peer = DdsBus(domain, xml), DdsBus(domain, xml)   # two participants, one process
    got = []
    try:
        sub = node_bus.subscribe('/camera/color/image_raw', ts.IMAGE, got.append)
        node_bus.start()
        pub = peer.publisher('/camera/color/image_raw', ts.IMAGE, NodeConfig().input_qos_spec())
        deadline = time.monotonic() + 20
        while not (pub.matched_subscriptions() and sub.matched_publications()):
            assert time.monotonic() < deadline, 'no DDS match on loopback'
            time.sleep(0.02)
        with pytest.raises(DDSException, match='BAD_PARAMETER'):
            pub.publish_cdr(b'\x00\x01\x00\x00' + b'\xff' * 13)      # string length 0xffffffff
        good = encode_sensor(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), 'rgb', 'rgb8',
                             ts.header(42, 'cam'), step=16)
        pub.publish(good)
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        peer.close()
        node_bus.close()
    assert len(got) == 1 and sub.decode_errors == 0
    assert ts.serialize(got[0], ts.IMAGE) == ts.serialize(good, ts.IMAGE)
