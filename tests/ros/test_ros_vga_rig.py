"""The VGA budget rig (tools/ros_vga_rig.py, issue 25) on the CycloneDDS shim: a colour camera, a
thermal camera of another size and a depth camera, at other poses, registered onto the colour grid
by the node started through its entry point (python -m perception.ros.dds_node), at 30 Hz.

Behaviour only (every output stamped and framed like a set that was sent, the node's per-stage
counters on /diagnostics): at a small size with a test predictor in `make test`; at VGA with the
exported nano as a `slow` test that prints the budget table. The figures of docs/ros.md come from
running the tool itself on a quiet machine (its docstring)."""
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[2] / 'tools'))
import ros_vga_rig as vga  # noqa: E402


def check_behaviour(result, figures):
    sent = set(result['sent']) | set(result['primed'])     # primed: before the measured
    assert result['node_alive'], open(result['node_log']).read()[-3000:]
    assert result['recorder_matched'], 'the recorder never matched every output of the node'
    assert figures['sets_received'] > 0, f'none of {figures["frames_sent"]} sets came back'
    names = {r[0] for r in result['records']}
    assert {'labels', 'overlay', 'detections', 'depth', 'camera_info'} <= names, names
    for name, stamp, frame_id, published, recv in result['records']:
        # outputs on the colour grid: the rgb image's stamp and frame
        assert stamp in sent and frame_id == 'rgb_optical_frame', (name, stamp, frame_id)
        assert published is not None and stamp <= published <= recv, (name, stamp, published, recv)
    diag = result['diagnostics']
    assert diag, 'no /diagnostics'
    values = diag[-1]['values']
    assert all(f'ms.{stage}' in values for stage in vga.STAGES), sorted(values)
    # the node decoded, registered, encoded and published what it processed
    for stage in ('decode', 'register', 'encode', 'publish'):
        assert float(values[f'ms.{stage}']) > 0, (stage, values)
    assert float(values['processed']) > 0


def test_vga_rig_small_with_test_predictor(tmp_path, capsys):
    """The rig scaled to a 160-pixel-wide colour camera (thermal 160x128, depth 160x120, focal
    lengths scaled alike), 1.5 s at 30 Hz into the DDS runner with ros_testkit's 5 ms predictor."""
    result = vga.run('dds', seconds=1.5, model='ros_testkit:toy_predictor_5ms', width=160,
                     warmup_s=0.5, workdir=tmp_path)
    figures = vga.figures(result)
    check_behaviour(result, figures)
    assert figures['rig'] == {'rgb': '160x120', 'thermal': '160x128', 'depth': '160x120'}
    assert figures['goal_met'] is None           # a test predictor times no inference of its own
    with capsys.disabled():
        print('\n' + vga.table(figures))


@pytest.mark.slow
def test_vga_rig_with_exported_nano(tmp_path, capsys):
    """The rig at VGA with the nano exported for rgb+thermal+depth at 480x640 (random weights),
    5 s at 30 Hz: behaviour checks, and the budget table printed (no bounds: a figure for a
    quiet machine, docs/ros.md)."""
    result = vga.run('dds', seconds=5.0, model=None, width=640, workdir=tmp_path)
    figures = vga.figures(result)
    check_behaviour(result, figures)
    assert figures['node_ms']['inference'] > 0
    with capsys.disabled():
        print('\n' + vga.table(figures))


def test_priming_runs_until_the_first_output_then_measures():
    """The cameras prime the node (sets until its first output, however long a cold start takes)
    and only then publish the measured seconds; a node that never answers ends priming, unmeasured."""
    import threading
    frames = vga.Frames(32, distinct=2)
    flowing, sent = threading.Event(), []

    def publish(channel, msg):
        if channel == 'image.rgb':
            sent.append(msg.header.stamp)
            if len(sent) == 7:                # the node's first output after its 7th set
                flowing.set()
    played = vga.prime_and_play(frames, 0.1, 200.0, publish, flowing, prime_s=30.0)
    assert played['flowing'] and len(played['primed']) == 7
    assert 5 <= len(played['stamps']) <= 21 and len(sent) == 7 + len(played['stamps'])
    assert max(played['primed']) < min(played['stamps'])
    silent = vga.prime_and_play(frames, 0.1, 200.0, lambda c, m: None, threading.Event(), 0.05)
    assert not silent['flowing'] and silent['primed'] and silent['stamps'] == []
