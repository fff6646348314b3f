"""Wire-level tests over CycloneDDS on loopback (127.0.0.1 only).

A separate process publishes RGB/thermal/depth as ROS 2 DDS topics (rt/..., ROS 2 type names, CDR)
at camera rates; the node core runs in this process behind the DDS transport; another process
subscribes to the results and decodes them with rosbags. Measured figures are printed (run with -s)
and quoted in docs/ros.md.

The three scenario rigs (nominal, fault, flood) play their scripts at wall-clock pace and bound
latency, output rates and stall times in milliseconds, which a busy 2-core machine breaks: they are
marked ``timing`` and run by `make test-slow` (and CI), not by `make test`. The other tests check
what arrives, not when.
"""
import itertools
import logging
import multiprocessing as mp
import os
import time

import numpy as np
import psutil
import pytest
import ros2_env
import ros_dds_peers as peers
from ros_testkit import ToyPredictor
from wire_rig import (ALL, SCENARIOS, SENSOR_TOPICS, RigResult, RssSampler, check_contents,
                      check_fault, check_flood, check_nominal, fault_timing, flood_timing,
                      nominal_timing, report)

from perception.ros.config import NodeConfig
from perception.ros.dds import DdsBus, loopback_config
from perception.ros.dds_node import DdsPerceptionNode

# Image size of the test streams; PERCEPTION_DDS_TEST_SIZE=480x640 measures VGA (docs/ros.md).
HEIGHT, WIDTH = (int(v) for v in os.environ.get('PERCEPTION_DDS_TEST_SIZE', '120x160').split('x'))
_DOMAINS = itertools.count()


def pick_domain() -> int:
    # a fresh DDS domain per run keeps concurrent test runs on one machine apart
    domains = ros2_env.DDS_SHIM_DOMAINS
    return domains[(os.getpid() * 3 + next(_DOMAINS)) % len(domains)]


def test_test_domains_keep_their_ports_out_of_the_ephemeral_range_and_apart():
    """The shim tests and the real-ROS 2 tests use disjoint DDS domains, and none of their RTPS
    ports falls in the kernel's ephemeral port range (where another socket may hold it)."""
    low, high = 32768, 60999                          # Linux's default ip_local_port_range
    for domains in (ros2_env.DDS_SHIM_DOMAINS, ros2_env.REAL_ROS_DOMAINS):
        for domain in domains:
            ports = ros2_env.dds_ports(domain)
            assert ports[-1] < low or ports[0] > high, f'domain {domain}: ports {ports}'
            assert ports[-1] <= 65535
    assert not set(ros2_env.DDS_SHIM_DOMAINS) & set(ros2_env.REAL_ROS_DOMAINS)
    # a fresh domain per run: one process goes through every shim domain before it reuses one
    picks = [pick_domain() for _ in range(len(ros2_env.DDS_SHIM_DOMAINS))]
    assert sorted(picks) == list(ros2_env.DDS_SHIM_DOMAINS)


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
    rss = RssSampler(psutil.Process())
    node.start()
    try:
        sub.start()
        assert sub_ready.wait(60), 'result subscriber did not start'
        rss.start()
        pub.start()
        budget = sum(p['duration_s'] for p in script) + 60
        pub_result = pub_q.get(timeout=budget)
        assert pub_result['matched'], 'sensor publisher never matched the node (DDS discovery)'
        time.sleep(drain_s)
        sub_stop.set()
        sub_result = sub_q.get(timeout=30)
        assert sub_result['matched'], 'result subscriber never matched the node (DDS discovery)'
    finally:
        rss.stop()
        sub_stop.set()
        for p in (pub, sub):
            if p.pid is None:          # never started
                continue
            p.join(10)
            if p.is_alive():
                p.terminate()
        node.stop()
    return RigResult(pub_result['log'], sub_result['records'], node.core.stats(), rss.samples,
                     sub_result['endpoints'])


def scenario(name):
    spec = SCENARIOS[name]
    config = NodeConfig(**spec['settings'])
    return config, run_rig(config, ToyPredictor(delay_s=spec['delay_s']), spec['script'])


@pytest.mark.timing
def test_dds_loopback_end_to_end_latency_and_throughput():
    config, result = scenario('nominal')
    figures = check_nominal(result, HEIGHT, WIDTH)
    nominal_timing(figures)
    report('dds', 'nominal', **figures, image=f'{HEIGHT}x{WIDTH}', node=result.stats)
    # what discovery shows of the node: ROS 2 topic and type names, sensor-data QoS on its inputs
    image = 'sensor_msgs::msg::dds_::Image_'
    assert {('rt/perception/labels', image, 'reliable'), ('rt/perception/depth', image, 'reliable'),
            ('rt/perception/overlay', image, 'reliable'),
            ('rt/perception/detections', 'vision_msgs::msg::dds_::Detection2DArray_', 'reliable'),
            ('rt/diagnostics', 'diagnostic_msgs::msg::dds_::DiagnosticArray_', 'reliable'),
            } <= set(result.endpoints['writers'])
    assert {(f'rt{t}', image, 'best_effort') for t in SENSOR_TOPICS.values()} <= set(
        result.endpoints['readers'])


@pytest.mark.timing
def test_dds_sensor_dropout_degrades_and_recovers():
    config, result = scenario('fault')
    figures = check_fault(result, config.stale_timeout, HEIGHT, WIDTH)
    fault_timing(figures)
    report('dds', 'fault', **figures)


@pytest.mark.timing
def test_dds_flood_keeps_memory_and_latency_bounded():
    config, result = scenario('flood')
    figures = check_flood(result, SCENARIOS['flood']['delay_s'], HEIGHT, WIDTH)
    flood_timing(figures)
    report('dds', 'flood', **figures)


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
    # counted against what was sent in each phase, however fast the publisher managed to send
    sent_in = [sum(1 for s in result.sent if s['phase'] == k) for k in range(len(script))]
    assert min(sent_in) > 0, sent_in
    assert stats['malformed.thermal'] >= 0.5 * sent_in[1], (stats, sent_in)
    assert stats['malformed.depth'] >= 0.5 * sent_in[2], (stats, sent_in)
    assert stats['malformed_sets'] >= 0.5 * sent_in[3], (stats, sent_in)
    text = ' | '.join(r.getMessage() for r in caplog.records)
    assert "thermal on /thermal/image_raw', field 'step'" in text
    assert "depth on /camera/depth/image_rect_raw', field 'encoding'" in text
    assert 'size mismatch between sensors: rgb 60x80' in text
    sent = result.sent_by_stamp()
    phases = {sent[r['stamp']]['phase'] for r in result.records['depth']}
    assert 4 in phases and not phases & {1, 2, 3}         # nothing from bad frames; goes on after
    check_contents(result, HEIGHT, WIDTH)
    report('dds', 'malformed', **{k: stats[k] for k in ('malformed.thermal', 'malformed.depth',
                                                   'malformed_sets', 'processed')})


def test_dds_node_command_line(capsys, monkeypatch):
    """python -m perception.ros.dds_node: parameters file + model override, runs until SIGINT,
    processes what a peer publishes on the parameters file's topics, reports counters.

    Held on events, not sleeps: a publisher process plays one second of frames once it has matched
    the node; a thread waits until the node has processed a set (or 60 s passed), then sends the
    SIGINT that main() stops on."""
    import re
    import signal
    import threading

    from perception.ros import dds_node
    params = os.path.join(os.path.dirname(__file__), '..', '..', 'ros_nodes', 'config', 'params.yaml')
    domain, xml = pick_domain(), loopback_config()
    nodes = []

    class Recorded(dds_node.DdsPerceptionNode):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            nodes.append(self)
    monkeypatch.setattr(dds_node, 'DdsPerceptionNode', Recorded)
    ctx = mp.get_context('spawn')
    started, pub_q = ctx.Event(), ctx.Queue()
    script = [{'duration_s': 1.0, 'rate_hz': 10, 'sensors': ALL}]
    pub = ctx.Process(target=peers.sensor_publisher,
                      args=(domain, xml, script, HEIGHT, WIDTH, started, pub_q), daemon=True)
    outcome = {}

    def stop_when_processed():
        deadline = time.monotonic() + 60
        try:
            outcome['pub'] = pub_q.get(timeout=60)
            while time.monotonic() < deadline and not (
                    nodes and nodes[0].core.stats()['processed'] > 0):
                time.sleep(0.05)
        finally:
            os.kill(os.getpid(), signal.SIGINT)      # main()'s handler: stop, print the counters
    pub.start()
    try:
        killer = threading.Thread(target=stop_when_processed, daemon=True)
        killer.start()
        rc = dds_node.main(['--params', params, '--model', 'ros_testkit:ToyPredictor',
                            '--loopback', '--domain-id', str(domain), '--duration', '0'])
        killer.join(10)
    finally:
        pub.join(10)
        if pub.is_alive():
            pub.terminate()
    assert rc == 0
    assert outcome['pub']['matched'], 'sensor publisher never matched the node (DDS discovery)'
    sent = len(outcome['pub']['log'])
    out = capsys.readouterr().out
    counters = dict(re.findall(r'([\w.]+)=([^,\s]+)', out.strip().splitlines()[-1]))
    assert sent > 0 and 0 < int(counters['received.rgb']) <= sent, (sent, counters)
    assert int(counters['processed']) > 0, counters
    assert 'active_sensors=' in out


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
