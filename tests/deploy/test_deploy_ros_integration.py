"""The ROS node core with the real exported model: a rosbag2 of real MSRS RGB + thermal frames is
replayed through ``build_predictor(nano.onnx)`` (the path the node takes from its parameters), and the
output bag carries the predictor's results for the same frames, stamped like the input."""
import glob

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from perception.ros import typestore as ts
from perception.ros.bag_io import read_messages
from perception.ros.config import NodeConfig
from perception.ros.image_codec import array_to_image, image_to_array
from perception.ros.predictor_factory import build_predictor
from perception.ros.replay import replay_bag

RGB, THERMAL = '/camera/color/image_raw', '/thermal/image_raw'
T0, PERIOD = 1_700_000_000_000_000_000, 100_000_000


@pytest.mark.real_data
def test_replay_real_frames_through_the_exported_onnx_model(real_root, nano_export, tmp_path):
    vis = sorted(glob.glob(str(real_root / 'msrs_roadscene/MSRS/vi/*.png')))[:3]
    store = ts.typestore()
    frames = []                                   # what the Predictor is given directly
    with Writer(tmp_path / 'in', version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns = {t: writer.add_connection(t, ts.IMAGE, typestore=store) for t in (RGB, THERMAL)}
        for k, path in enumerate(vis):
            stamp = T0 + k * PERIOD
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            ir = cv2.imread(path.replace('/vi/', '/ir/'), cv2.IMREAD_GRAYSCALE)
            frames.append(dict(rgb=np.ascontiguousarray(bgr[..., ::-1]),
                               thermal=ir.astype(np.float32) / np.float32(255.0)))
            for topic, arr, enc in ((RGB, bgr, 'bgr8'), (THERMAL, ir, 'mono8')):
                msg = array_to_image(arr, enc, ts.header(stamp, 'camera'))
                writer.write(conns[topic], stamp + 5_000_000, ts.serialize(msg, ts.IMAGE))

    predictor = build_predictor(str(nano_export['onnx']), 'auto')
    config = NodeConfig(topics={'rgb': RGB, 'thermal': THERMAL, 'depth': ''}, score_thr=0.0)
    report = replay_bag(tmp_path / 'in', tmp_path / 'out', predictor, config)
    assert report.sets == 3 and report.undecodable == 0

    out = {}
    for m in read_messages(tmp_path / 'out'):
        out.setdefault(m.topic, []).append(ts.deserialize(m.cdr, m.msgtype))
    detections = 0
    for k in range(3):
        depth_msg, labels_msg, det_msg = (out[t][k] for t in (
            '/perception/depth', '/perception/labels', '/perception/detections'))
        for msg in (depth_msg, labels_msg, det_msg):          # stamped like the input
            assert ts.stamp_ns(msg.header) == T0 + k * PERIOD
        depth = image_to_array(depth_msg)                     # the model's depth, metres
        assert depth.shape == (480, 640) and np.isfinite(depth).all() and (depth > 0).all()
        labels = image_to_array(labels_msg)
        assert labels.shape == (480, 640) and labels.max() < 8   # synthetic classes
        expected = predictor(**frames[k])                     # the same frame, no ROS in between
        np.testing.assert_array_equal(labels, expected.seg_labels)
        np.testing.assert_allclose(depth, expected.depth, rtol=1e-6)
        published = [(d.results[0].hypothesis.class_id, d.results[0].hypothesis.score,
                      d.bbox.center.position.x - d.bbox.size_x / 2,
                      d.bbox.center.position.y - d.bbox.size_y / 2,
                      d.bbox.center.position.x + d.bbox.size_x / 2,
                      d.bbox.center.position.y + d.bbox.size_y / 2) for d in det_msg.detections]
        assert [p[0] for p in published] == [expected.det_classes[i] for i in expected.det_labels]
        np.testing.assert_allclose(np.reshape([p[1:] for p in published], (-1, 5)),
                                   np.column_stack([expected.det_scores, expected.det_boxes])
                                   .reshape(-1, 5), rtol=1e-5, atol=1e-3)
        detections += len(published)
    assert detections > 0, 'no detection to compare: the check above compared nothing'
