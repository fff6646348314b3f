"""Bag replay on real pixels: input bags written with rosbags' own Writer from ../shared/data/real,
replayed through the node core, outputs read back with rosbags and with mcap_ros2 (an independent
decoder, the one Foxglove's Python tooling uses). Plus the real rosbag2 'talker' bag recorded by ROS 2."""
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from ros_testkit import ToyPredictor
from rosbags.rosbag2 import StoragePlugin, Writer

from perception.ros import typestore as ts
from perception.ros.bag_io import bag_topics, read_messages
from perception.ros.config import NodeConfig
from perception.ros.health import WARN
from perception.ros.image_codec import array_to_image, image_to_array
from perception.ros.overlay import palette
from perception.ros.replay import replay_bag

REPO = Path(__file__).resolve().parents[2]
RGB, THERMAL, DEPTH = '/camera/color/image_raw', '/thermal/image_raw', '/camera/depth/image_rect_raw'
T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000


def load_real_frames(real_root, n=5):
    """MSRS visible/infrared pairs (aligned, 480x640) + Redwood depth in mm (same size)."""
    vis = sorted(glob.glob(str(real_root / 'msrs_roadscene/MSRS/vi/*.png')))[:n]
    depth = sorted(glob.glob(str(real_root / 'open3d_rgbd/RGBD/depth/*.png')))[:n]
    frames = []
    for v, d in zip(vis, depth):
        bgr = cv2.imread(v, cv2.IMREAD_COLOR)
        ir = cv2.imread(v.replace('/vi/', '/ir/'), cv2.IMREAD_GRAYSCALE)
        mm = cv2.imread(d, cv2.IMREAD_UNCHANGED)
        assert bgr.shape[:2] == ir.shape == mm.shape == (480, 640) and mm.dtype == np.uint16
        frames.append((bgr, ir, mm))
    return frames


def write_input_bag(path, frames, storage=StoragePlugin.SQLITE3, skip_thermal=()):
    """Stamps 10 Hz with a few ms of skew between sensors, logged 10 ms after capture."""
    store = ts.typestore()
    with Writer(path, version=8, storage_plugin=storage) as writer:
        conns = {t: writer.add_connection(t, ts.IMAGE, typestore=store) for t in (RGB, THERMAL, DEPTH)}
        for k, (bgr, ir, mm) in enumerate(frames):
            stamp = T0 + k * PERIOD
            for topic, arr, enc, skew in ((RGB, bgr, 'bgr8', 0), (THERMAL, ir, 'mono8', 3_000_000),
                                          (DEPTH, mm, '16UC1', 6_000_000)):
                if topic == THERMAL and k in skip_thermal:
                    continue
                msg = array_to_image(arr, enc, ts.header(stamp + skew, 'camera'))
                writer.write(conns[topic], stamp + skew + 10_000_000, ts.serialize(msg, ts.IMAGE))
    return path


def outputs_by_topic(path):
    out = {}
    for m in read_messages(path):
        out.setdefault(m.topic, []).append(ts.deserialize(m.cdr, m.msgtype))
    return out


@pytest.mark.real_data
def test_replay_real_sqlite3_bag_to_mcap(real_root, tmp_path):
    frames = load_real_frames(real_root)
    in_bag = write_input_bag(tmp_path / 'in', frames)
    report = replay_bag(in_bag, tmp_path / 'out', ToyPredictor(), NodeConfig(slop=0.02))
    assert report.input_messages == {'rgb': 5, 'thermal': 5, 'depth': 5} and report.sets == 5
    assert (tmp_path / 'out' / 'metadata.yaml').is_file() and list((tmp_path / 'out').glob('*.mcap'))
    topics = bag_topics(tmp_path / 'out')
    assert topics['/perception/detections'] == (ts.DETECTION2D_ARRAY, 5)
    assert topics['/perception/labels'][1] == topics['/perception/depth'][1] == 5
    assert topics['/diagnostics'][0] == ts.DIAGNOSTIC_ARRAY

    out = outputs_by_topic(tmp_path / 'out')
    for k, (bgr, ir, mm) in enumerate(frames):
        stamp = T0 + k * PERIOD                                  # the rgb stamp: reference sensor
        depth_msg, labels_msg, det_msg, overlay_msg = (out[t][k] for t in (
            '/perception/depth', '/perception/labels', '/perception/detections',
            '/perception/overlay'))
        for msg in (depth_msg, labels_msg, det_msg, overlay_msg):
            assert ts.stamp_ns(msg.header) == stamp and msg.header.frame_id == 'camera'
        # depth echoed through 16UC1 (mm) -> metres -> 32FC1: exact
        np.testing.assert_array_equal(image_to_array(depth_msg), mm.astype(np.float32) / 1000)
        hot = ir.astype(np.float32) / 255 > 0.5                  # the real infrared image
        np.testing.assert_array_equal(image_to_array(labels_msg), hot.astype(np.uint8))
        ys, xs = np.nonzero(hot)
        box = det_msg.detections[0].bbox
        assert box.center.position.x == pytest.approx((xs.min() + xs.max() + 1) / 2)
        assert box.size_y == pytest.approx(ys.max() + 1 - ys.min())
        # overlay: hot pixels (away from the box outline) are rgb blended 50/50 with class 1's colour
        assert overlay_msg.encoding == 'rgb8'
        overlay = image_to_array(overlay_msg).astype(np.float32)
        inner = hot.copy()
        inner[:ys.min() + 2], inner[ys.max() - 1:], inner[:, :xs.min() + 2] = False, False, False
        inner[:, xs.max() - 1:] = False
        rgb = bgr[..., ::-1].astype(np.float32)
        np.testing.assert_array_equal(overlay[inner], np.rint(0.5 * rgb + 0.5 * palette(2)[1])[inner])
        outside = ~hot & (np.arange(640) < xs.min() - 2)     # left of the box: class 0's colour
        np.testing.assert_array_equal(overlay[outside], np.rint(0.5 * rgb + 0.5 * palette(2)[0])[outside])

    # the MCAP file decodes with mcap_ros2 from its embedded message definitions
    mcap_file = next((tmp_path / 'out').glob('*.mcap'))
    with open(mcap_file, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        decoded = [m for _, _, _, m in reader.iter_decoded_messages(topics=['/perception/detections'])]
    assert len(decoded) == 5
    first = decoded[0]
    assert first.detections[0].results[0].hypothesis.class_id == 'hot'
    assert first.header.stamp.sec * 10**9 + first.header.stamp.nanosec == T0


@pytest.mark.real_data
def test_replay_mcap_input_with_two_sensors(real_root, tmp_path):
    """MFNet RGBA frames (channel 4 is thermal) as an MCAP bag without depth -> sqlite3 output."""
    store = ts.typestore()
    paths = sorted(glob.glob(str(real_root / 'mfnet_rgbt/*.png')))
    with Writer(tmp_path / 'in', version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        c_rgb = writer.add_connection(RGB, ts.IMAGE, typestore=store)
        c_th = writer.add_connection(THERMAL, ts.IMAGE, typestore=store)
        for k, p in enumerate(paths):
            bgra = cv2.imread(p, cv2.IMREAD_UNCHANGED)
            stamp = T0 + k * PERIOD
            rgb = np.ascontiguousarray(bgra[..., 2::-1])
            writer.write(c_rgb, stamp, ts.serialize(array_to_image(rgb, 'rgb8', ts.header(stamp, 'mf')),
                                                    ts.IMAGE))
            th16 = (bgra[..., 3].astype(np.uint16) * 257)        # mono16, big-endian on the wire
            msg = array_to_image(th16, 'mono16', ts.header(stamp + 1_000_000, 'mf'), is_bigendian=True)
            writer.write(c_th, stamp + 1_000_000, ts.serialize(msg, ts.IMAGE))
    predictor = ToyPredictor()
    report = replay_bag(tmp_path / 'in', tmp_path / 'out', predictor, NodeConfig(),
                        storage='sqlite3', copy_inputs=True)
    assert report.sets == len(paths) == 2
    topics = bag_topics(tmp_path / 'out')
    assert topics[RGB] == topics[THERMAL] == (ts.IMAGE, 2)            # --copy-inputs
    assert predictor.calls == [(True, True, False)] * 2           # depth absent, never stale-waited
    assert list((tmp_path / 'out').glob('*.db3'))
    out = outputs_by_topic(tmp_path / 'out')
    thermal = cv2.imread(paths[0], cv2.IMREAD_UNCHANGED)[..., 3]
    np.testing.assert_array_equal(image_to_array(out['/perception/labels'][0]),
                                  (thermal.astype(np.float32) * 257 / 65535 > 0.5).astype(np.uint8))
    assert np.all(image_to_array(out['/perception/depth'][0]) == 1.0)   # toy: no depth -> 1 m


@pytest.mark.real_data
def test_replay_follows_a_sensor_gap_in_bag_time(real_root, tmp_path):
    frames = load_real_frames(real_root, 5)
    in_bag = write_input_bag(tmp_path / 'in', frames, skip_thermal=(2, 3))
    predictor = ToyPredictor()
    config = NodeConfig(slop=0.02, stale_timeout=0.15, diagnostics_period=0.05)
    report = replay_bag(in_bag, tmp_path / 'out', predictor, config)
    assert predictor.calls == [(True, True, True)] * 2 + [(True, False, True)] * 2 + [(True, True, True)]
    assert report.sets == 5
    levels = [d.status[0].level for d in outputs_by_topic(tmp_path / 'out')['/diagnostics']]
    assert WARN in levels and levels[-1] == 0


@pytest.mark.real_data
def test_read_the_real_rosbag2_talker_bag(real_root):
    """Recorded by ROS 2 itself (rosbag2 test resources). rosbags' plain Reader yields nothing for it
    (its metadata.yaml and .db3 disagree on QoS); bag_io reads it by the storage's own topics."""
    bag = real_root / 'rosbag2_talker'
    msgs = list(read_messages(bag))
    assert len(msgs) == 20
    strings = [ts.deserialize(m.cdr, m.msgtype).data for m in msgs if m.topic == '/topic']
    assert strings == [f'Hello, world! {k}' for k in range(10)]
    logs = [ts.deserialize(m.cdr, m.msgtype) for m in msgs if m.topic == '/rosout']
    assert len(logs) == 10 and all(log.name == 'minimal_publisher' for log in logs)
    assert [log.msg for log in logs] == [f"Publishing: 'Hello, world! {k}'" for k in range(10)]
    assert [m.log_time_ns for m in msgs] == sorted(m.log_time_ns for m in msgs)
    assert bag_topics(bag)['/topic'] == ('std_msgs/msg/String', 10)


@pytest.mark.real_data
def test_replay_refuses_a_bag_without_sensor_topics(real_root, tmp_path):
    with pytest.raises(ValueError, match=r'none of the sensor topics .* it holds: .*/topic '
                                         r'\(std_msgs/msg/String\)'):
        replay_bag(real_root / 'rosbag2_talker', tmp_path / 'out', ToyPredictor(), NodeConfig())
    config = NodeConfig(topics={'rgb': '/topic', 'thermal': '', 'depth': ''})
    with pytest.raises(ValueError, match='rgb topic /topic holds std_msgs/msg/String'):
        replay_bag(real_root / 'rosbag2_talker', tmp_path / 'out2', ToyPredictor(), config)


@pytest.mark.real_data
def test_replay_cli(real_root, tmp_path):
    in_bag = write_input_bag(tmp_path / 'in', load_real_frames(real_root, 3))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), str(REPO)]))
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'replay_bag.py'), str(in_bag), '--out',
         str(tmp_path / 'out'), '--model', 'ros_testkit:ToyPredictor', '--topics', 'depth=',
         '--params', str(REPO / 'ros_nodes' / 'config' / 'params.yaml'), '--quiet'],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary['sets'] == 3 and summary['input_messages'] == {'rgb': 3, 'thermal': 3}
    assert summary['written']['/perception/detections'] == 3
    assert '/perception/depth' in summary['written']           # toy predictor still returns depth
