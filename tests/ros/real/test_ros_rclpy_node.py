"""The rclpy layer (ros_nodes/perception_ros) in this process on a real ROS 2: lifecycle transitions,
raw CDR in and out, outputs stamped like the inputs, rclpy's logger, and what transitions leave behind
(publishers, subscriptions) when they succeed, fail or are repeated."""
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import yaml
from core_harness import FailsFirst, Harness, log_an_error_and_a_warning
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from ros_testkit import synthetic_frame
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2DArray

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'ros_nodes'))
from perception_ros.perception_node import PerceptionNode  # noqa: E402

RGB_TOPIC = '/camera/color/image_raw'


def image(arr, encoding, stamp, frame):
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    msg.header.frame_id = frame
    msg.height, msg.width = arr.shape[:2]
    msg.encoding = encoding
    msg.step = arr.strides[0]
    msg.data = arr.tobytes()
    return msg


def toy_node(**params):
    overrides = {'model_path': 'ros_testkit:ToyPredictor', 'stale_timeout': 2.0, **params}
    return PerceptionNode(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


def subscriptions_on(node, topic):
    return [s for s in node.subscriptions if s.topic_name == topic]


def test_lifecycle_node_end_to_end(ros_context):
    node = toy_node()
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS

    helper = rclpy.create_node('perception_test_helper')
    got = []
    helper.create_subscription(Detection2DArray, 'perception/detections', got.append, 10)
    pubs = {s: helper.create_publisher(Image, t, 10) for s, t in (
        ('rgb', RGB_TOPIC), ('thermal', '/thermal/image_raw'),
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
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    node.destroy_node()
    helper.destroy_node()


def test_configure_fails_cleanly_without_a_model(ros_context, capfd):
    node = PerceptionNode()
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE   # model_path is empty
    assert 'configure failed: ValueError: parameter model_path is empty' in capfd.readouterr().err
    assert node.core is None and not node._pubs
    node.destroy_node()


def test_rclpy_logger_binds_one_severity_to_each_call_site(ros_context):
    """The rule that tests/ros/test_ros_core.py's CallSiteLogger reproduces, on the real logger."""
    node = rclpy.create_node('perception_logger_probe')
    log = node.get_logger()

    def shared_site(level, text):
        getattr(log, level)(text)
    shared_site('error', 'first an error')
    with pytest.raises(ValueError, match='Logger severity cannot be changed between calls'):
        shared_site('warning', 'then a warning from the same call site')
    node.destroy_node()


@pytest.mark.parametrize('first', ['predictor_error', 'malformed'])
def test_core_logs_an_error_and_a_warning_in_either_order_through_rclpy(ros_context, first):
    """The node core logging through rclpy's logger: a predictor error and a malformed image, in
    either order, are both logged and the core goes on (it raised ValueError before)."""
    node = rclpy.create_node('perception_log_orders')
    log_an_error_and_a_warning(Harness(FailsFirst(), logger=node.get_logger()), first)
    node.destroy_node()


def test_configure_cleanup_cycles_leave_no_publishers_behind(ros_context):
    """cleanup must release the lifecycle publishers entirely: destroy_publisher left each one among
    the node's managed entities, one more set per configure/cleanup cycle."""
    node = toy_node()
    base_publishers = len(list(node.publishers))          # rosout, parameter events
    base_entities = len(node._managed_entities)           # rclpy.lifecycle.Node's own list
    outputs = None
    for _ in range(3):
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        outputs = len(node._pubs)
        assert outputs == 7     # labels overlay detections depth diagnostics det_classes seg_classes
        assert len(list(node.publishers)) == base_publishers + outputs
        assert len(node._managed_entities) == base_entities + outputs
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert len(list(node.publishers)) == base_publishers
        assert len(node._managed_entities) == base_entities
    node.destroy_node()


def test_a_failing_activate_says_why_and_leaves_nothing_subscribed(ros_context, capfd):
    """An invalid topic name makes create_subscription raise half-way through activate (the depth
    topic, the last sensor: rgb and thermal are subscribed by then). rclpy turned that into ERROR
    without a word, and error processing left the node unconfigured with the subscriptions made so
    far (and its publishers) alive, for the next configure to orphan. Every subscription of the node
    is counted, not one topic's."""
    node = toy_node(**{'topics.depth': 'depth camera/image'})          # a space: invalid
    base_subscriptions = len(list(node.subscriptions))                 # parameter services' own
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.FAILURE
    err = capfd.readouterr().err
    assert 'activate failed: InvalidTopicNameException' in err and 'depth camera/image' in err
    assert node._state_machine.current_state[1] == 'inactive'     # FAILURE: back to inactive
    assert len(list(node.subscriptions)) == base_subscriptions and not node._subs
    assert node._timer is None and not list(node.timers)
    assert not node.core.worker.running
    # fixed parameter: cleanup, configure, activate work, and nothing is duplicated
    node.set_parameters([Parameter('topics.depth', value='/camera/depth/image_rect_raw')])
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert len(list(node.subscriptions)) == base_subscriptions + 3     # one per sensor
    assert len(subscriptions_on(node, RGB_TOPIC)) == 1
    assert sum(p.topic_name == '/perception/labels' for p in node.publishers) == 1
    node.trigger_deactivate()
    node.trigger_cleanup()
    node.destroy_node()


def test_a_failing_configure_leaves_no_publishers(ros_context, capfd):
    """A bad output topic fails configure after some publishers exist: all of them are released."""
    node = toy_node(**{'output_topics.overlay': 'perception/over lay'})
    base_publishers = len(list(node.publishers))
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert 'configure failed: InvalidTopicNameException' in capfd.readouterr().err
    assert node._state_machine.current_state[1] == 'unconfigured'
    assert len(list(node.publishers)) == base_publishers and not node._managed_entities
    assert node.core is None
    node.destroy_node()


def params_file_node(path, parameters):
    """perception_node reading ``parameters`` from a user's ROS 2 params file, through rcl's parser."""
    path.write_text(yaml.safe_dump({'/**/perception_node': {'ros__parameters': parameters}}))
    return PerceptionNode(cli_args=['--ros-args', '--params-file', str(path)])


def test_former_parameter_names_in_a_params_file_still_configure_the_node(ros_context, tmp_path,
                                                                          capfd):
    """score_threshold / nms_threshold / topics.camera_info (the names before the one-vocabulary
    rename) in a user's params file: rclpy drops parameters a node has not declared without a word,
    so the node ran with the defaults. Declared, they reach NodeConfig.from_params, which reads them
    as score_thr / iou_thr / topics.rgb_camera_info and says so in the log."""
    node = params_file_node(tmp_path / 'old.yaml', {
        'model_path': 'ros_testkit:ToyPredictor', 'score_threshold': 0.45, 'nms_threshold': 0.6,
        'topics': {'camera_info': '/camera/color/camera_info'}})
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    config = node.core.config
    assert (config.score_thr, config.iou_thr) == (0.45, 0.6)
    assert config.camera_info_topics['rgb'] == '/camera/color/camera_info'
    assert 'camera_info' in node._pubs                    # re-stamped onto the outputs, as before
    err = capfd.readouterr().err
    for old, new in (('score_threshold', 'score_thr'), ('nms_threshold', 'iou_thr'),
                     ('topics.camera_info', 'topics.rgb_camera_info')):
        assert f"'{old}' is deprecated, use '{new}'" in err
    node.trigger_cleanup()
    node.destroy_node()
    # with the new names only: no warning, and the former names hold no value
    node = params_file_node(tmp_path / 'new.yaml', {'model_path': 'ros_testkit:ToyPredictor',
                                                    'score_thr': 0.45})
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.core.config.score_thr == 0.45 and 'deprecated' not in capfd.readouterr().err
    assert node.get_parameter('score_threshold').value is None
    node.trigger_cleanup()
    node.destroy_node()
    # both names in one file: refused, naming them
    node = params_file_node(tmp_path / 'both.yaml', {'model_path': 'ros_testkit:ToyPredictor',
                                                     'score_thr': 0.45, 'score_threshold': 0.5})
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert "both 'score_threshold' and 'score_thr' are set" in capfd.readouterr().err
    node.destroy_node()


def ros_camera_info(width, height, focal, frame):
    msg = CameraInfo()
    msg.header.frame_id = frame
    msg.width, msg.height, msg.distortion_model = width, height, 'plumb_bob'
    msg.k = [focal, 0.0, width / 2, 0.0, focal, height / 2, 0.0, 0.0, 1.0]
    msg.d = [0.0] * 5
    return msg


def test_registration_from_camera_info_topics_and_transform_parameters(ros_context, tmp_path):
    """Thermal (80x64) and depth (64x48) beside a 128x96 colour camera: the transforms come from a
    params file (rcl's parser, double arrays into parameters declared without a type), the three
    CameraInfos from topics; the outputs are on the colour grid, in the colour camera's frame."""
    node = params_file_node(tmp_path / 'rig.yaml', {
        'model_path': 'ros_testkit:ToyPredictor', 'stale_timeout': 2.0,
        'topics': {'rgb_camera_info': '/camera/color/camera_info',
                   'thermal_camera_info': '/thermal/camera_info',
                   'depth_camera_info': '/camera/depth/camera_info'},
        'registration': {'thermal_to_rgb': [0.04, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
                         'depth_to_rgb': [-0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
                         'plane_distance': 4.0}})
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.core.config.thermal_to_rgb == (0.04, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    helper = rclpy.create_node('perception_registration_helper')
    got = []
    helper.create_subscription(Image, 'perception/labels', got.append, 10)
    sizes = {'rgb': (128, 96, 110.0), 'thermal': (80, 64, 70.0), 'depth': (64, 48, 50.0)}
    topics = {'rgb': RGB_TOPIC, 'thermal': '/thermal/image_raw',
              'depth': '/camera/depth/image_rect_raw'}
    info_topics = {'rgb': '/camera/color/camera_info', 'thermal': '/thermal/camera_info',
                   'depth': '/camera/depth/camera_info'}
    pubs = {s: helper.create_publisher(Image, t, 10) for s, t in topics.items()}
    info_pubs = {s: helper.create_publisher(CameraInfo, t, 10) for s, t in info_topics.items()}
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    executor.add_node(helper)
    for k in range(30):
        stamp = time.time_ns()
        frames = {s: synthetic_frame(k, h, w) for s, (w, h, _) in sizes.items()}
        for s, (w, h, f) in sizes.items():
            info_pubs[s].publish(ros_camera_info(w, h, f, f'{s}_optical'))   # as drivers do
        pubs['rgb'].publish(image(frames['rgb'][0], 'rgb8', stamp, 'rgb_optical'))
        pubs['thermal'].publish(image((frames['thermal'][1] * 255).astype(np.uint8), 'mono8',
                                      stamp, 'thermal_optical'))
        pubs['depth'].publish(image((frames['depth'][2] * 1000).astype(np.uint16), '16UC1', stamp,
                                    'depth_optical'))
        executor.spin_once(timeout_sec=0.05)
    deadline = time.time() + 5
    while len(got) < 3 and time.time() < deadline:
        executor.spin_once(timeout_sec=0.05)
    assert got, 'no labels from the registered rig'
    assert {(m.height, m.width, m.header.frame_id) for m in got} == {(96, 128, 'rgb_optical')}
    assert node.core.registration is not None and node.core.stats()['malformed_sets'] == 0
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    node.destroy_node()
    helper.destroy_node()


@pytest.mark.parametrize('broken', ['stats', 'stop'])
def test_a_failing_deactivate_says_why_and_error_processing_releases_everything(ros_context, capfd,
                                                                                broken):
    """deactivate raising (the counters summary, or stopping the worker): rclpy would turn it into
    ERROR without a word; the node logs 'deactivate failed', error processing (on_error) releases
    subscriptions, timer, publishers and the model even though stopping the worker fails again
    there, and the node is back to unconfigured holding nothing -- and can be configured again."""
    node = toy_node()
    base_publishers = len(list(node.publishers))
    base_subscriptions = len(list(node.subscriptions))
    base_entities = len(node._managed_entities)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    core = node.core
    assert len(subscriptions_on(node, RGB_TOPIC)) == 1 and core.worker.running

    def fail(*args, **kwargs):
        raise RuntimeError(f'simulated {broken} failure')
    real_stop = core.stop
    setattr(core, broken, fail)
    try:
        assert node.trigger_deactivate() == TransitionCallbackReturn.ERROR
    finally:
        real_stop()                       # the worker thread this test kept from stopping
    err = capfd.readouterr().err
    assert f'deactivate failed: RuntimeError: simulated {broken} failure' in err
    assert 'error processing (from active)' in err
    assert node._state_machine.current_state[1] == 'unconfigured'
    assert node.core is None and not node._pubs and not node._subs and node._timer is None
    assert len(list(node.publishers)) == base_publishers
    assert len(list(node.subscriptions)) == base_subscriptions
    assert len(node._managed_entities) == base_entities
    assert not list(node.timers)
    # and the node works again
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert len(subscriptions_on(node, RGB_TOPIC)) == 1
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    node.destroy_node()
