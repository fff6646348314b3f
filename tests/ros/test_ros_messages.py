"""Output messages and wire formats: CDR round trips through rosbags' typestore, byte identity with
CycloneDDS' own serializer for the generated DDS types, vision_msgs 4.x layout, ROS 2 DDS naming."""
import struct

import numpy as np
import pytest
from cyclonedds.idl import IdlStruct

from perception.results import PerceptionResult
from perception.ros import typestore as ts
from perception.ros.dds_types import dds_topic_name, dds_type_name, idl_class, to_idl, wire_sample
from perception.ros.health import SensorState, diagnostics_message
from perception.ros.image_codec import array_to_image, image_to_array
from perception.ros.outputs import (OutputOptions, detections_message, labels_image,
                                    result_messages)
from perception.ros.overlay import palette

HEADER = ts.header(1_722_000_000_250_000_000, 'camera_color_optical_frame')


def result(**kw):
    base = dict(det_boxes=np.array([[10, 20, 50, 60], [0, 0, 4, 2], [5, 5, 6, 6]], np.float32),
                det_scores=np.array([0.95, 0.5, 0.1], np.float32),
                det_labels=np.array([1, 0, 7], np.int32), det_classes=('person', 'car'))
    base.update(kw)
    return PerceptionResult(**base)


def test_detection2d_array_cdr_round_trip():
    msg = detections_message(result(), HEADER, score_thr=0.3)
    back = ts.deserialize(ts.serialize(msg, ts.DETECTION2D_ARRAY), ts.DETECTION2D_ARRAY)
    assert ts.stamp_ns(back.header) == ts.stamp_ns(HEADER)
    assert back.header.frame_id == 'camera_color_optical_frame'
    assert len(back.detections) == 2          # 0.1 is below the threshold
    first, second = back.detections
    assert first.results[0].hypothesis.class_id == 'car'      # label 1
    assert first.results[0].hypothesis.score == pytest.approx(0.95)
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (30.0, 40.0)
    assert (first.bbox.size_x, first.bbox.size_y, first.bbox.center.theta) == (40.0, 40.0, 0.0)
    assert second.results[0].hypothesis.class_id == 'person'  # label 0
    assert ts.stamp_ns(first.header) == ts.stamp_ns(HEADER)
    assert first.results[0].pose.pose.orientation.w == 1.0


def test_class_id_falls_back_to_index():
    msg = detections_message(result(), HEADER, class_id='index')
    assert [d.results[0].hypothesis.class_id for d in msg.detections] == ['1', '0', '7']
    msg = detections_message(result(), HEADER)   # label 7 has no name: its index is used
    assert msg.detections[2].results[0].hypothesis.class_id == '7'


def test_empty_and_inconsistent_detections():
    empty = PerceptionResult(det_boxes=np.zeros((0, 4)), det_scores=np.zeros(0), det_labels=np.zeros(0))
    assert detections_message(empty, HEADER).detections == []
    with pytest.raises(ValueError, match='same length'):
        detections_message(result(det_labels=np.array([1])), HEADER)


def test_vision_msgs_definition_is_the_4x_layout():
    msgdef, _ = ts.typestore().generate_msgdef(ts.DETECTION2D_ARRAY, ros_version=2)
    for line in ('MSG: vision_msgs/BoundingBox2D\nvision_msgs/Pose2D center\nfloat64 size_x',
                 'MSG: vision_msgs/Pose2D\nvision_msgs/Point2D position\nfloat64 theta',
                 'MSG: vision_msgs/ObjectHypothesis\nstring class_id\nfloat64 score',
                 'MSG: vision_msgs/Detection2D\nstd_msgs/Header header\n'
                 'vision_msgs/ObjectHypothesisWithPose[] results\nvision_msgs/BoundingBox2D bbox\n'
                 'string id'):
        assert line in msgdef


def test_image_cdr_layout_matches_ros2():
    img = array_to_image(np.array([[1, 2, 3]], np.uint8), 'mono8', ts.header(5_000_000_007, 'f'))
    cdr = ts.serialize(img, ts.IMAGE)
    # encapsulation CDR_LE, then Time{int32 sec, uint32 nanosec}, string frame_id (len incl. NUL)
    assert cdr[:4] == b'\x00\x01\x00\x00'
    assert struct.unpack_from('<iII', cdr, 4) == (5, 7, 2) and cdr[16:18] == b'f\x00'
    # height, width, encoding 'mono8', is_bigendian, step, data
    assert struct.unpack_from('<II', cdr, 20) == (1, 3)
    assert struct.unpack_from('<I', cdr, 28) == (6, ) and cdr[32:38] == b'mono8\x00'
    assert cdr[38] == 0 and struct.unpack_from('<II', cdr, 40) == (3, 3) and cdr[48:51] == b'\x01\x02\x03'


def diag_message():
    states = {'rgb': SensorState(True, 0.01, 10), 'thermal': SensorState(False, 0.9, 3)}
    return diagnostics_message('perception_node', states, HEADER, {'processed': 7},
                               {'rgb': '/rgb', 'thermal': '/thermal'})


@pytest.mark.parametrize('msgtype,make', [
    (ts.IMAGE, lambda: array_to_image(np.arange(15, dtype=np.uint16).reshape(3, 5), 'mono16',
                                      HEADER, step=13 * 2, is_bigendian=True)),
    (ts.DETECTION2D_ARRAY, lambda: detections_message(result(), HEADER)),
    (ts.DIAGNOSTIC_ARRAY, diag_message),
    (ts.CAMERA_INFO, lambda: ts.msg_class(ts.CAMERA_INFO)(
        header=HEADER, height=480, width=640, distortion_model='plumb_bob',
        d=np.array([0.1, -0.2, 0, 0, 0.01]), k=np.arange(9, dtype=np.float64),
        r=np.eye(3).reshape(-1), p=np.arange(12, dtype=np.float64), binning_x=0, binning_y=0,
        roi=ts.msg_class('sensor_msgs/msg/RegionOfInterest')(x_offset=1, y_offset=2, height=3,
                                                             width=4, do_rectify=True))),
])
def test_dds_type_serializes_byte_identical_to_rosbags(msgtype, make):
    """cyclonedds' serializer over the generated DDS type == rosbags' CDR: the DDS types have the
    exact ROS 2 layout, so the raw payloads the transport sends are what such a type decodes."""
    msg = make()
    rosbags_cdr = ts.serialize(msg, msgtype)
    cyclone_cdr = IdlStruct.serialize(to_idl(msg, msgtype))
    assert cyclone_cdr == rosbags_cdr
    # and the transport's wire sample carries exactly rosbags' bytes
    assert wire_sample(rosbags_cdr, msgtype).serialize() == rosbags_cdr
    # cyclonedds can decode it with its own machinery too
    native = idl_class(msgtype).__idl__.deserialize(rosbags_cdr)
    assert native.header_.frame_id_ == HEADER.frame_id


def test_ros2_dds_names():
    assert dds_type_name(ts.IMAGE) == 'sensor_msgs::msg::dds_::Image_'
    assert dds_type_name(ts.DETECTION2D_ARRAY) == 'vision_msgs::msg::dds_::Detection2DArray_'
    assert idl_class(ts.IMAGE).__idl_typename__ == 'sensor_msgs::msg::dds_::Image_'
    assert dds_topic_name('/camera/color/image_raw') == 'rt/camera/color/image_raw'
    assert dds_topic_name('perception/labels', '/robot1') == 'rt/robot1/perception/labels'
    assert dds_topic_name('perception/labels') == 'rt/perception/labels'
    with pytest.raises(ValueError, match='private'):
        dds_topic_name('~/x')


def test_labels_encoding():
    small = labels_image(np.array([[0, 3], [255, 1]]), HEADER)
    assert small.encoding == 'mono8' and image_to_array(small).tolist() == [[0, 3], [255, 1]]
    big = labels_image(np.array([[0, 300]]), HEADER)
    assert big.encoding == 'mono16' and image_to_array(big).tolist() == [[0, 300]]
    assert labels_image(np.array([[1]]), HEADER, 'mono16').encoding == 'mono16'
    with pytest.raises(ValueError, match='does not fit mono8'):
        labels_image(np.array([[300]]), HEADER, 'mono8')
    with pytest.raises(ValueError, match=r'\[0, 65535\]'):
        labels_image(np.array([[-1]]), HEADER)


def test_result_messages_all_outputs():
    seg = np.zeros((8, 10), np.int32)
    seg[2:4, 2:4] = 1
    rgb = np.full((8, 10, 3), 100, np.uint8)
    res = result(seg_labels=seg, depth=np.full((8, 10), 2.5, np.float32),
                 det_boxes=np.array([[1, 1, 9, 7]], np.float32), det_scores=np.array([0.9]),
                 det_labels=np.array([0]))
    out = result_messages(res, HEADER, {'rgb': rgb}, (8, 10), OutputOptions(overlay_alpha=1.0))
    assert set(out) == {'labels', 'overlay', 'detections', 'depth'}
    assert out['depth'].encoding == '32FC1' and image_to_array(out['depth']).max() == 2.5
    overlay = image_to_array(out['overlay'])
    assert out['overlay'].encoding == 'rgb8' and overlay.shape == (8, 10, 3)
    colours = palette(2)
    assert (overlay[3, 3] == colours[1]).all()          # class 1 pixel fully coloured
    assert (overlay[1, 1] == colours[0]).all()          # box outline in the box's class colour
    for msg in out.values():
        assert ts.stamp_ns(msg.header) == ts.stamp_ns(HEADER)
    only = result_messages(res, HEADER, {'rgb': rgb}, (8, 10),
                           OutputOptions(publish=frozenset({'detections'})))
    assert set(only) == {'detections'}


def test_overlay_draws_above_the_display_threshold_and_publishes_by_score():
    """The display threshold decides what the overlay draws, not what is published; the node's
    ``display_thr`` < 0 takes the model's (ModelSpec.display_thr)."""
    from perception.ros.config import NodeConfig
    rgb = np.full((20, 20, 3), 100, np.uint8)
    res = result(det_boxes=np.array([[1, 1, 9, 9], [11, 11, 19, 19]], np.float32),
                 det_scores=np.array([0.9, 0.4]), det_labels=np.array([0, 0]))
    for display, drawn in ((0.0, [True, True]), (0.5, [True, False])):
        out = result_messages(res, HEADER, {'rgb': rgb}, (20, 20),
                              OutputOptions(score_thr=0.3, display_thr=display))
        overlay = image_to_array(out['overlay'])
        assert [bool((overlay[y, x] != 100).any()) for y, x in ((1, 1), (11, 11))] == drawn
        assert len(out['detections'].detections) == 2      # both are published
    assert NodeConfig().output_options(0.45).display_thr == 0.45       # the model's
    assert NodeConfig().output_options(None).display_thr == 0.0
    assert NodeConfig(display_thr=0.7).output_options(0.45).display_thr == 0.7   # the parameter


def test_result_of_the_wrong_size_is_refused():
    res = result(seg_labels=np.zeros((4, 4), np.int32))
    with pytest.raises(ValueError, match=r'seg_labels: expected shape \(8, 10\)'):
        result_messages(res, HEADER, {}, (8, 10))


def test_options_are_validated():
    with pytest.raises(ValueError, match='unknown outputs'):
        OutputOptions(publish=frozenset({'pointcloud'}))
    with pytest.raises(ValueError, match='labels_encoding'):
        OutputOptions(labels_encoding='rgb8')
