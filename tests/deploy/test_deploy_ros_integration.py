"""The ROS node core with the real exported model: a rosbag2 of real MSRS RGB + thermal frames is
replayed through ``build_predictor(nano.onnx)`` (the path the node takes from its parameters), and the
output bag carries the predictor's results, stamped like the input."""
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
    with Writer(tmp_path / 'in', version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns = {t: writer.add_connection(t, ts.IMAGE, typestore=store) for t in (RGB, THERMAL)}
        for k, path in enumerate(vis):
            stamp = T0 + k * PERIOD
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            ir = cv2.imread(path.replace('/vi/', '/ir/'), cv2.IMREAD_GRAYSCALE)
            for topic, arr, enc in ((RGB, bgr, 'bgr8'), (THERMAL, ir, 'mono8')):
                msg = array_to_image(arr, enc, ts.header(stamp, 'camera'))
                writer.write(conns[topic], stamp + 5_000_000, ts.serialize(msg, ts.IMAGE))

    predictor = build_predictor(str(nano_export['onnx']), 'auto')
    config = NodeConfig(topics={'rgb': RGB, 'thermal': THERMAL, 'depth': ''})
    report = replay_bag(tmp_path / 'in', tmp_path / 'out', predictor, config)
    assert report.sets == 3 and report.undecodable == 0

    out = {}
    for m in read_messages(tmp_path / 'out'):
        out.setdefault(m.topic, []).append(ts.deserialize(m.cdr, m.msgtype))
    for k in range(3):
        depth_msg, labels_msg, det_msg = (out[t][k] for t in (
            '/perception/depth', '/perception/labels', '/perception/detections'))
        for msg in (depth_msg, labels_msg, det_msg):          # stamped like the input
            assert ts.stamp_ns(msg.header) == T0 + k * PERIOD
        depth = image_to_array(depth_msg)                     # the model's depth, metres
        assert depth.shape == (480, 640) and np.isfinite(depth).all() and (depth > 0).all()
        labels = image_to_array(labels_msg)
        assert labels.shape == (480, 640) and labels.max() < 8   # synthetic classes
