"""Calibration files (ROS camera_info and OpenCV YAML, extrinsics as ROS static transforms), the
ROS-free builder from CameraInfo fields, and the Predictor registering before the network."""
from types import SimpleNamespace

import numpy as np
import pytest

from perception.apis.predictor import Predictor
from perception.apis.spec import ModelSpec
from perception.contract import ConfigError, SensorError
from perception.sensors.calibration import load_calibration, registration_from_camera_info
from perception.sensors.cameras import Rigid

ROS_RGB = """image_width: 640
image_height: 480
camera_name: rgb
camera_matrix:
  rows: 3
  cols: 3
  data: [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.05, -0.1, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [525.0, 0.0, 319.5, 0.0, 0.0, 525.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]
"""
OPENCV_THERMAL = """%YAML:1.0
---
image_width: 640
image_height: 512
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 800., 0., 319.5, 0., 800., 255.5, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -0.2, 0.05, 0., 0., 0. ]
avg_reprojection_error: 0.21
"""
# A 90 degree yaw about the optical axis z, and 5 cm to the right.
Q_Z90 = [0.0, 0.0, float(np.sqrt(0.5)), float(np.sqrt(0.5))]


def _rig(tmp_path, thermal_extra='', depth=True):
    (tmp_path / 'rgb.yaml').write_text(ROS_RGB)
    (tmp_path / 'thermal.yaml').write_text(OPENCV_THERMAL)
    text = f"""rgb:
  camera_info: rgb.yaml
thermal:
  camera_info: thermal.yaml
  transform_to_rgb:
    translation: [0.05, 0.0, 0.0]
    rotation: {Q_Z90}
{thermal_extra}"""
    if depth:
        text += """depth:
  image_width: 320
  image_height: 240
  camera_matrix: {rows: 3, cols: 3, data: [260, 0, 159.5, 0, 260, 119.5, 0, 0, 1]}
  transform_to_rgb: [-0.025, 0, 0, 0, 0, 0, 1]
"""
    path = tmp_path / 'rig.yaml'
    path.write_text(text)
    return path


def test_ros_and_opencv_camera_files_with_static_transforms(tmp_path):
    reg = load_calibration(_rig(tmp_path, '  plane_distance: 12.5\n'))
    assert (reg.color.width, reg.color.height) == (640, 480)
    assert reg.color.K[0, 0] == 525.0 and reg.color.D.tolist() == [0.05, -0.1, 0.0, 0.0, 0.0]
    cal = reg.thermal
    assert cal.camera.size == (512, 640) and cal.camera.K[1, 2] == 255.5
    assert cal.camera.D[0] == -0.2 and cal.plane_distance == 12.5
    assert np.allclose(cal.transform.R, [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert np.allclose(cal.transform.t, [0.05, 0, 0])
    depth_cam, depth_to_rgb = reg.depth
    assert depth_cam.size == (240, 320) and not depth_cam.distorted
    assert np.allclose(depth_to_rgb.t, [-0.025, 0, 0]) and np.allclose(depth_to_rgb.R, np.eye(3))
    assert 'rig.yaml' in repr(reg)


def test_matrix_form_and_homography_only(tmp_path):
    m = np.eye(4)
    m[:3, 3] = (0.1, 0.2, 0.3)
    (tmp_path / 'rgb.yaml').write_text(ROS_RGB)
    path = tmp_path / 'm.yaml'
    path.write_text(f"""rgb: {{camera_info: rgb.yaml}}
depth:
  camera_info: rgb.yaml
  transform_to_rgb: {{matrix: {{rows: 4, cols: 4, data: {m.ravel().tolist()}}}}}
thermal:
  homography: [[1.5, 0, 12], [0, 1.5, 8], [0, 0, 1]]
  image_width: 400
  image_height: 300
""")
    reg = load_calibration(path)
    assert np.allclose(reg.depth[1].t, (0.1, 0.2, 0.3))
    assert reg.thermal.camera is None and reg.thermal.size == (300, 400)
    assert reg.thermal.homography[0, 2] == 12


@pytest.mark.parametrize('text, match', [
    ('thermal: {camera_info: rgb.yaml}\n', 'rgb required'),
    ('rgb: {camera_info: rgb.yaml}\nlidar: {}\n', "unknown \\['lidar'\\]"),
    ('rgb: {camera_info: nothere.yaml}\n', 'calibration file not found'),
    ('rgb: {camera_info: rgb.yaml, colour: 1}\n', "unknown keys \\['colour'\\]"),
    ('rgb: {camera_info: rgb.yaml}\nthermal: {camera_info: rgb.yaml}\n', 'transform_to_rgb'),
    ('rgb: {camera_info: rgb.yaml}\ndepth: {camera_info: rgb.yaml, transform_to_rgb: '
     '{translation: [0, 0, 0], rotation: [0, 0, 0, 0]}}\n', 'quaternion'),
    ('rgb: {camera_info: rgb.yaml}\ndepth: {camera_info: rgb.yaml, transform_to_rgb: [1, 2]}\n',
     'expected'),
    ('rgb: {image_width: 640, image_height: 480, camera_matrix: [1, 2, 3]}\n', 'camera matrix'),
    ('rgb: {image_width: 640}\n', 'needs k'),
    ('rgb: [1, 2\n', 'not valid YAML'),
    ('rgb: {camera_info: rgb.yaml}\nthermal: {camera_info: rgb.yaml, plane_distance: -3, '
     'transform_to_rgb: [0, 0, 0, 0, 0, 0, 1]}\n', 'plane_distance'),
])
def test_calibration_errors_name_file_and_field(tmp_path, text, match):
    (tmp_path / 'rgb.yaml').write_text(ROS_RGB)
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_calibration(path)


def test_unsupported_distortion_model_says_rectify(tmp_path):
    (tmp_path / 'fish.yaml').write_text(ROS_RGB.replace('plumb_bob', 'equidistant'))
    path = tmp_path / 'rig.yaml'
    path.write_text('rgb: {camera_info: fish.yaml}\n')
    with pytest.raises(ConfigError, match='rectif'):
        load_calibration(path)


def test_ros_node_builds_the_same_registration_from_camera_info(tmp_path):
    """What the ROS node will do: CameraInfo messages + static transform parameters."""
    from_file = load_calibration(_rig(tmp_path))
    msg = lambda cam, model='plumb_bob': SimpleNamespace(   # noqa: E731 (sensor_msgs/CameraInfo)
        k=cam.K.ravel().tolist(), d=cam.D.tolist(), width=cam.width, height=cam.height,
        distortion_model=model)
    reg = registration_from_camera_info(
        msg(from_file.color), msg(from_file.thermal.camera), msg(from_file.depth[0]),
        thermal_transform=[0.05, 0, 0, *Q_Z90], depth_transform=[-0.025, 0, 0, 0, 0, 0, 1])
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 5, (240, 320)).astype(np.float32)
    thermal = rng.uniform(0, 1, (512, 640)).astype(np.float32)
    a = from_file.apply(thermal=thermal, depth=depth)
    b = reg.apply(thermal=thermal, depth=depth)
    assert np.array_equal(a['depth'], b['depth']) and np.array_equal(a['thermal'], b['thermal'])
    with pytest.raises(ConfigError, match='transform'):
        registration_from_camera_info(msg(from_file.color), msg(from_file.thermal.camera))
    with pytest.raises(ConfigError, match=r'\[x, y, z, qx, qy, qz, qw\]'):
        Rigid.from_static_transform([0, 0, 0])


class _Recorder:
    """A backend that returns nothing but records what the network would see."""
    name = 'recorder'

    def __init__(self, size):
        self.spec = ModelSpec(input_size=size, nms='none', outputs=('depth_pred', ))
        self.inputs = None

    def run(self, inputs):
        self.inputs = inputs
        h, w = self.spec.input_size
        return {'depth_pred': np.ones((1, 1, h, w), np.float32)}


def test_predictor_registers_before_the_network(tmp_path):
    reg = load_calibration(_rig(tmp_path))
    rgb = np.zeros((480, 640, 3), np.uint8)
    thermal = np.full((512, 640), 0.75, np.float32)
    depth = np.full((240, 320), 3.0, np.float32)
    backend = _Recorder((48, 64))
    result = Predictor(backend, registration=reg)(rgb=rgb, thermal=thermal, depth=depth)
    assert result.depth.shape == (480, 640)            # results on the colour grid
    seen = backend.inputs
    assert seen['modality_mask'].tolist() == [[1, 1, 1]]
    # Thermal 0.75 normalises to 1.0 where the thermal camera sees; its rotated view leaves the
    # colour image's left and right parts empty: the mean there, i.e. 0 after normalisation.
    t = seen['thermal'][0, 0]
    assert np.isclose(t.max(), 1.0) and np.isclose(t[:, 0], 0).all() and (t == 0).any()
    d = seen['depth'][0, 0]
    assert np.isclose(d.max(), 0.3, atol=1e-3)           # 3 m / std 10
    with pytest.raises(SensorError, match='calibration'):
        Predictor(_Recorder((48, 64)))(rgb=rgb, thermal=thermal)   # no registration: sizes differ
