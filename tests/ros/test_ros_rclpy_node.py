"""The rclpy layer (ros_nodes/perception_ros) on a real ROS 2 install: lifecycle transitions, raw CDR in
and out, outputs stamped like the inputs. rclpy is not installable on the development machines (not on
PyPI; Debian ships ROS 1 only), so these tests skip there; run them in a sourced ROS 2 workspace."""
import sys
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not importable (needs a sourced ROS 2 install; not on PyPI): the '
    'rclpy layer is tested only there, everything below it is tested by the other tests/ros files')
pytest.importorskip('vision_msgs', reason='vision_msgs is not installed in this ROS 2 environment')

from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'ros_nodes'))
from perception_ros.perception_node import PerceptionNode  # noqa: E402
from ros_testkit import synthetic_frame  # noqa: E402


@pytest.fixture
def ros_context():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def image(arr, encoding, stamp, frame):
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    msg.header.frame_id = frame
    msg.height, msg.width = arr.shape[:2]
    msg.encoding = encoding
    msg.step = arr.strides[0]
    msg.data = arr.tobytes()
    return msg


def test_lifecycle_node_end_to_end(ros_context):
    node = PerceptionNode(parameter_overrides=[
        Parameter('model_path', value='ros_testkit:ToyPredictor'),
        Parameter('stale_timeout', value=2.0)])
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS

    helper = rclpy.create_node('perception_test_helper')
    got = []
    helper.create_subscription(Detection2DArray, 'perception/detections', got.append, 10)
    pubs = {s: helper.create_publisher(Image, t, 10) for s, t in (
        ('rgb', '/camera/color/image_raw'), ('thermal', '/thermal/image_raw'),
        ('depth', '/camera/depth/image_rect_raw'))}
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    executor.add_node(helper)
    stamps = []
    for k in range(20):
        rgb, thermal, depth, _ = synthetic_frame(k)
        stamp = time.time_ns()
        stamps.append(stamp)
        pubs['rgb'].publish(image(rgb, 'rgb8', stamp, 'cam'))
        pubs['thermal'].publish(image((thermal * 255).astype(np.uint8), 'mono8', stamp, 'cam'))
        pubs['depth'].publish(image((depth * 1000).astype(np.uint16), '16UC1', stamp, 'cam'))
        executor.spin_once(timeout_sec=0.05)
    deadline = time.time() + 5
    while len(got) < 5 and time.time() < deadline:
        executor.spin_once(timeout_sec=0.05)
    assert got, 'no Detection2DArray received from the lifecycle node'
    for msg in got:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        assert stamp in stamps and msg.header.frame_id == 'cam'
        assert msg.detections[0].results[0].hypothesis.class_id == 'hot'
    node.trigger_deactivate()
    node.trigger_cleanup()
    node.destroy_node()
    helper.destroy_node()


def test_configure_fails_cleanly_without_a_model(ros_context):
    node = PerceptionNode()
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE   # model_path is empty
    node.destroy_node()
