"""On a real ROS 2: the node reads image_transport's CompressedImage topics (compressed colour,
compressedDepth depth) and the raw encodings drivers send (bgra8, yuv422, 16UC1 thermal), survives a
malformed compressed payload, and publishes the model's classes as vision_msgs/LabelInfo on a
transient-local topic that a subscriber joining later still receives."""
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from ros_testkit import synthetic_frame
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray, LabelInfo

from perception.ros import typestore as ts
from perception.ros.image_codec import compress_sensor, encode_sensor

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'ros_nodes'))
from perception_ros.perception_node import PerceptionNode  # noqa: E402


class ClassesPredictor:
    """ros_testkit's ToyPredictor with a spec naming its classes (what a Predictor has)."""

    def __init__(self):
        from ros_testkit import ToyPredictor
        self.toy = ToyPredictor()
        self.spec = type('Spec', (), dict(trained_sensors=('rgb', 'thermal', 'depth'),
                                          thermal_scaling=None, normalization=None,
                                          det_classes=('hot', 'bright'),
                                          seg_classes=('none', 'hot', 'bright'),
                                          display_thr=None))()

    def __call__(self, **kw):
        return self.toy(**kw)


def _to_rclpy(msg, cls):
    """A rosbags message as the rclpy message of the same type (through its CDR bytes)."""
    from rclpy.serialization import deserialize_message
    msgtype = ts.COMPRESSED_IMAGE if cls is CompressedImage else ts.IMAGE
    return deserialize_message(ts.serialize(msg, msgtype), cls)


def _node(**params):
    overrides = {'model_path': f'{__name__}:ClassesPredictor', 'stale_timeout': 2.0, **params}
    return PerceptionNode(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


def test_compressed_and_driver_encodings_through_rclpy(ros_context):
    node = _node(**{'topics.rgb': '/cam/color/compressed', 'topics.rgb_transport': 'compressed',
                    'topics.depth': '/cam/depth/compressedDepth',
                    'topics.depth_transport': 'compressedDepth'})
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    helper = rclpy.create_node('perception_driver_helper')
    got = []
    helper.create_subscription(Detection2DArray, 'perception/detections', got.append, 10)
    pubs = {'rgb': helper.create_publisher(CompressedImage, '/cam/color/compressed', 10),
            'thermal': helper.create_publisher(Image, '/thermal/image_raw', 10),
            'depth': helper.create_publisher(CompressedImage, '/cam/depth/compressedDepth', 10)}
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    executor.add_node(helper)
    stamps = []
    for k in range(12):
        rgb, thermal, depth, _ = synthetic_frame(k)
        stamp = time.time_ns()
        stamps.append(stamp)
        header = ts.header(stamp, 'cam')
        pubs['rgb'].publish(_to_rclpy(compress_sensor(rgb, 'rgb', 'bgr8', header, 'jpeg'),
                                      CompressedImage))
        pubs['thermal'].publish(_to_rclpy(encode_sensor(thermal, 'thermal', '16UC1', header),
                                          Image))
        pubs['depth'].publish(_to_rclpy(compress_sensor(depth, 'depth', '16UC1', header),
                                        CompressedImage))
        executor.spin_once(timeout_sec=0.05)
    deadline = time.time() + 8
    while len(got) < 3 and time.time() < deadline:
        executor.spin_once(timeout_sec=0.05)
    assert got, 'no Detection2DArray from compressed and 16UC1 inputs'
    for msg in got:
        assert msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec in stamps
    # a broken payload (the sensor-data QoS may drop a message of a burst: send it until counted)
    bad = CompressedImage(format='bgr8; jpeg compressed bgr8', data=list(b'\xff\xd8garbage'))
    deadline = time.time() + 8
    while node.core.stats()['malformed.rgb'] == 0 and time.time() < deadline:
        pubs['rgb'].publish(bad)
        for _ in range(5):
            executor.spin_once(timeout_sec=0.05)
    stats = node.core.stats()
    assert stats['malformed.rgb'] >= 1 and stats['processed'] >= 1
    assert node.core.predictor.toy.calls[0] == (True, True, True)
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    node.destroy_node()
    helper.destroy_node()


def test_yuv_and_bgra_colour_through_rclpy(ros_context):
    """Each colour encoding in turn, published (again every 0.5 s: the input QoS is best effort)
    until the node has processed one more set; none counted malformed."""
    node = _node(**{'topics.thermal': '', 'topics.depth': ''})
    helper = rclpy.create_node('perception_yuv_helper')
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        pub = helper.create_publisher(Image, '/camera/color/image_raw', 10)
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        executor.add_node(helper)
        for k, encoding in enumerate(['yuv422', 'yuv422_yuy2', 'bgra8', 'rgba8']):
            rgb = synthetic_frame(k)[0]
            before, deadline, sent = node.core.stats()['processed'], time.time() + 10, 0.0
            while node.core.stats()['processed'] == before and time.time() < deadline:
                if time.time() - sent > 0.5:
                    pub.publish(_to_rclpy(encode_sensor(rgb, 'rgb', encoding,
                                                        ts.header(time.time_ns(), 'c')), Image))
                    sent = time.time()
                executor.spin_once(timeout_sec=0.05)
            assert node.core.stats()['processed'] > before, f'{encoding}: no set processed'
        assert node.core.stats()['malformed.rgb'] == 0
    finally:
        node.trigger_deactivate()
        node.trigger_cleanup()
        node.destroy_node()
        helper.destroy_node()


def test_class_lists_reach_a_late_subscriber(ros_context):
    node = _node(score_thr=0.25)
    helper = None
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        time.sleep(0.5)              # published at activation; the subscriber comes later
        helper = rclpy.create_node('perception_classes_helper')
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
        got = {}
        for name in ('det_classes', 'seg_classes'):
            helper.create_subscription(LabelInfo, f'perception/{name}',
                                       lambda msg, n=name: got.setdefault(n, msg), qos)
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        executor.add_node(helper)
        deadline = time.time() + 8
        while len(got) < 2 and time.time() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert set(got) == {'det_classes', 'seg_classes'}, \
            'LabelInfo not delivered to a late subscriber'
        assert [(c.class_id, c.class_name) for c in got['det_classes'].class_map] == [
            (0, 'hot'), (1, 'bright')]
        assert abs(got['det_classes'].threshold - 0.25) < 1e-6
        assert [c.class_name for c in got['seg_classes'].class_map] == ['none', 'hot', 'bright']
    finally:
        node.trigger_deactivate()
        node.trigger_cleanup()
        node.destroy_node()
        if helper is not None:
            helper.destroy_node()


def test_sim_time_drives_staleness(ros_context):
    """use_sim_time: a bag's /clock is the node's clock end to end -- paused playback (the clock
    stands still while wall time passes) leaves no sensor stale, and clock time passing without a
    thermal image makes thermal stale even when little wall time passed."""
    from builtin_interfaces.msg import Time
    from rosgraph_msgs.msg import Clock
    node = _node(use_sim_time=True, stale_timeout=1.0, **{'topics.depth': ''})
    helper = rclpy.create_node('perception_clock_helper')
    clock_pub = helper.create_publisher(Clock, '/clock', 10)
    pubs = {'rgb': helper.create_publisher(Image, '/camera/color/image_raw', 10),
            'thermal': helper.create_publisher(Image, '/thermal/image_raw', 10)}
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    executor.add_node(helper)

    def set_clock(seconds):
        clock_pub.publish(Clock(clock=Time(sec=int(seconds), nanosec=0)))
        end = time.time() + 0.5
        while time.time() < end:
            executor.spin_once(timeout_sec=0.02)

    def send(sensors, seconds, k):
        rgb, thermal, _, _ = synthetic_frame(k)
        values = {'rgb': (rgb, 'rgb8'), 'thermal': (thermal, 'mono8')}
        for s in sensors:
            arr, enc = values[s]
            pubs[s].publish(_to_rclpy(encode_sensor(arr, s, enc, ts.header(
                int(seconds * 1e9), 'cam')), Image))
        for _ in range(10):
            executor.spin_once(timeout_sec=0.02)

    set_clock(100)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    for k in range(3):
        send(('rgb', 'thermal'), 100, k)
    time.sleep(1.5)                                   # wall time passes, the bag is paused
    send(('rgb', ), 100, 3)
    node.core.tick()
    assert node.core.stats()['active_sensors'] == 'rgb,thermal'
    for k, t in enumerate((100.5, 101.0, 101.5, 102.0, 102.5)):   # 2.5 s of bag time, no thermal
        set_clock(t)
        send(('rgb', ), t, 4 + k)
        node.core.tick()
    assert node.core.stats()['active_sensors'] == 'rgb'
    node.trigger_deactivate()
    node.trigger_cleanup()
    node.destroy_node()
    helper.destroy_node()
