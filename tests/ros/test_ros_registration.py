"""The node core with sensors as a rig delivers them: thermal and depth of other sizes registered onto
the colour camera from CameraInfo topics and static transform parameters; 16-bit thermal scaled as
the model records it; negative float depth refused as a malformed frame. All without ROS."""
import logging
import math

import cv2
import numpy as np
import pytest
import yaml
from core_harness import Clock
from ros_testkit import ToyPredictor, camera_info

from perception.apis.predictor import Predictor
from perception.apis.preprocess import preprocess
from perception.apis.spec import ModelSpec
from perception.contract import ConfigError
from perception.ros import typestore as ts
from perception.ros.config import NodeConfig, load_params_file
from perception.ros.core import PerceptionCore
from perception.ros.health import ERROR, OK, WARN
from perception.ros.image_codec import array_to_image, encode_sensor
from perception.sensors.calibration import registration_from_camera_info
from perception.sensors.encodings import decode_file

COLOUR, THERMAL, DEPTH = (128, 96, 110.0), (80, 64, 70.0), (64, 48, 50.0)   # width, height, focal
THERMAL_TO_RGB = [0.04, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
DEPTH_TO_RGB = [-0.02, 0.01, 0.0, 0.0, 0.0, 0.0, 1.0]
INFO_TOPICS = {'rgb': '/color/camera_info', 'thermal': '/thermal/camera_info',
               'depth': '/depth/camera_info'}
STAMP = 7_000_000_000


class Recording(ToyPredictor):
    """ToyPredictor that keeps the arrays it was given."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def __call__(self, rgb=None, thermal=None, depth=None):
        self.inputs.append({'rgb': rgb, 'thermal': thermal, 'depth': depth})
        return super().__call__(rgb=rgb, thermal=thermal, depth=depth)


def rig_config(**overrides):
    return NodeConfig(**{'camera_info_topics': dict(INFO_TOPICS), 'thermal_to_rgb': THERMAL_TO_RGB,
                         'depth_to_rgb': DEPTH_TO_RGB, 'plane_distance': 3.0,
                         'stale_timeout': 0.3, 'slop': 0.01, **overrides})


def infos():
    return {s: camera_info(w, h, f, f'{s}_optical_frame')
            for s, (w, h, f) in zip(('rgb', 'thermal', 'depth'), (COLOUR, THERMAL, DEPTH))}


def rig_frame(index=0):
    """rgb / thermal / depth arrays at each camera's own size (a warm, near square in the middle)."""
    rng = np.random.default_rng(index)
    rgb = rng.integers(0, 256, (COLOUR[1], COLOUR[0], 3)).astype(np.uint8)
    thermal = np.full((THERMAL[1], THERMAL[0]), 0.2, np.float32)
    thermal[20:44, 25:55] = 0.9
    depth = np.full((DEPTH[1], DEPTH[0]), 3.0, np.float32)
    depth[15:33, 20:44] = 1.5
    depth[0:4, 0:6] = 0.0                        # a hole: must stay a hole on the colour grid
    return {'rgb': rgb, 'thermal': thermal, 'depth': depth}


ENCODING = {'rgb': 'rgb8', 'thermal': 'mono16', 'depth': '32FC1'}


def feed(core, frame, stamp=STAMP):
    sets = []
    for k, (sensor, value) in enumerate(frame.items()):
        msg = encode_sensor(value, sensor, ENCODING[sensor], ts.header(stamp + k * 1000,
                                                                       f'{sensor}_optical_frame'))
        sets += core.on_image(sensor, msg)
    return sets


def make_core(config, predictor=None):
    out, clock = [], Clock()
    core = PerceptionCore(config, predictor or Recording(), lambda n, m: out.append((n, m)),
                          clock=clock)
    return core, out, clock


def registration_status(diag):
    return next(s for s in diag.status if s.name.endswith(': registration'))


def test_different_size_thermal_and_depth_are_registered_onto_the_colour_grid():
    core, out, _ = make_core(rig_config())
    for sensor, info in infos().items():
        core.on_camera_info(sensor, info)
    frame = rig_frame()
    sets = feed(core, frame)
    assert len(sets) == 1
    published = core.process(sets[0])
    seen = core.predictor.inputs[-1]
    # What the network got is what Registration.apply makes of the decoded frames, computed here
    # from the same CameraInfos and transforms without the node.
    decoded = {'rgb': frame['rgb'], 'thermal': np.round(frame['thermal'] * 65535) / 65535,
               'depth': frame['depth']}
    direct = registration_from_camera_info(
        *infos().values(), thermal_transform=THERMAL_TO_RGB, depth_transform=DEPTH_TO_RGB,
        plane_distance=3.0).apply(**decoded, thermal_fill=0.5)
    for sensor in ('rgb', 'thermal', 'depth'):
        assert seen[sensor].shape[:2] == (COLOUR[1], COLOUR[0])
        np.testing.assert_allclose(seen[sensor], direct[sensor], atol=1e-6)
    # registration did something: the near square moved and the warm one is on the grid, the hole
    # stayed a hole (no depth invented), thermal outside the thermal view is the fill
    assert (seen['depth'] == 1.5).any() and (seen['depth'] == 0).any()
    assert np.isclose(seen['thermal'], 0.9, atol=1e-4).any()
    # outputs on the colour grid, in the colour camera's frame, stamped like the reference (rgb)
    labels = published['labels']
    assert (labels.height, labels.width) == (COLOUR[1], COLOUR[0])
    assert labels.header.frame_id == 'rgb_optical_frame'
    assert ts.stamp_ns(labels.header) == STAMP
    assert published['camera_info'].width == COLOUR[0]           # the output grid's CameraInfo
    assert core.stats()['processed'] == 1 and core.stats()['malformed_sets'] == 0


def test_only_thermal_registered_depth_already_on_the_colour_grid():
    config = rig_config(depth_to_rgb=(), camera_info_topics={**INFO_TOPICS, 'depth': ''})
    core, _, _ = make_core(config)
    assert config.awaited_camera_infos == ('rgb', 'thermal')
    for sensor in ('rgb', 'thermal'):
        core.on_camera_info(sensor, infos()[sensor])
    frame = rig_frame()
    frame['depth'] = np.full((COLOUR[1], COLOUR[0]), 2.0, np.float32)
    core.process(feed(core, frame)[0])
    seen = core.predictor.inputs[-1]
    np.testing.assert_array_equal(seen['depth'], frame['depth'])   # passed through
    assert seen['thermal'].shape == (COLOUR[1], COLOUR[0])


def test_sets_wait_for_every_camera_info_and_diagnostics_name_the_awaited_topics(caplog):
    caplog.set_level(logging.WARNING, logger='perception.ros')
    core, out, clock = make_core(rig_config())
    assert core.awaiting_camera_info() == ['rgb', 'thermal', 'depth']
    assert feed(core, rig_frame()) == []                  # nothing runs, nothing raises
    status = registration_status(core.publish_diagnostics())
    assert status.level == WARN
    for topic in INFO_TOPICS.values():
        assert topic in status.message
    core.on_camera_info('rgb', infos()['rgb'])
    core.on_camera_info('depth', infos()['depth'])
    clock.t += 0.05
    assert feed(core, rig_frame(1), STAMP + 50_000_000) == []
    status = registration_status(core.publish_diagnostics())
    assert 'thermal (/thermal/camera_info)' in status.message and '/depth/' not in status.message
    assert core.stats()['awaiting_camera_info'] == 2 and core.predictor.calls == []
    awaiting = [r.message for r in caplog.records if 'registration awaits CameraInfo' in r.message]
    assert len(awaiting) == 1 and 'thermal (/thermal/camera_info)' in awaiting[0]   # throttled
    # the last one arrives: the registration is built and the next set runs
    core.on_camera_info('thermal', infos()['thermal'])
    assert core.awaiting_camera_info() == [] and core.registration is not None
    clock.t += 0.05
    sets = feed(core, rig_frame(2), STAMP + 100_000_000)
    assert len(sets) == 1 and core.process(sets[0])
    status = registration_status(core.publish_diagnostics())
    assert status.level == OK and 'Registration(' in status.message


def test_the_first_camera_info_is_kept_and_an_unusable_one_is_reported_then_replaced():
    core, _, _ = make_core(rig_config())
    bad = infos()['thermal']
    bad.distortion_model, bad.d = 'fisheye', np.array([0.1, 0, 0, 0])   # not supported
    core.on_camera_info('rgb', infos()['rgb'])
    core.on_camera_info('depth', infos()['depth'])
    core.on_camera_info('thermal', bad)
    status = registration_status(core.publish_diagnostics())
    assert status.level == ERROR and 'fisheye' in status.message and core.registration is None
    for sensor, info in infos().items():                 # the next round of infos works
        core.on_camera_info(sensor, info)
    assert core.registration is not None
    built = core.registration
    core.on_camera_info('rgb', camera_info(64, 48, 55.0, 'other'))   # a rig is rigid: kept
    assert core.registration is built and core.registration.color.width == COLOUR[0]


def test_a_frame_that_does_not_fit_its_camera_info_is_skipped_and_counted():
    core, _, _ = make_core(rig_config())
    for sensor, info in infos().items():
        core.on_camera_info(sensor, info)
    frame = rig_frame()
    frame['thermal'] = np.zeros((40, 50), np.float32)    # not the 80x64 of its CameraInfo
    assert core.process(feed(core, frame)[0]) == {}
    assert core.stats()['malformed_sets'] == 1
    core.process(feed(core, rig_frame(1), STAMP + 40_000_000)[0])   # and it goes on
    assert core.stats()['processed'] == 1


@pytest.mark.parametrize('params,match', [
    ({'topics.thermal_camera_info': '/t/info', 'topics.rgb_camera_info': '/c/info'},
     r'topics.thermal_camera_info is set but registration.thermal_to_rgb is not'),
    ({'registration.depth_to_rgb': DEPTH_TO_RGB, 'topics.rgb_camera_info': '/c/info'},
     r'registration.depth_to_rgb is set but topics.depth_camera_info is empty'),
    ({'registration.thermal_to_rgb': THERMAL_TO_RGB, 'topics.thermal_camera_info': '/t/info'},
     r'needs topics.rgb_camera_info'),
    ({'registration.thermal_to_rgb': [0.1, 0.0, 0.0], 'topics.thermal_camera_info': '/t/info',
      'topics.rgb_camera_info': '/c/info'}, r'expected 7 finite numbers \[x, y, z, qx, qy, qz, qw\]'),
    ({'registration.plane_distance': 0.0}, r'registration.plane_distance: expected metres > 0'),
    ({'registration.thermal_to_rgb': 'identity'}, r'expected a list of 7 numbers'),
    ({'topics.lidar_camera_info': '/l/info'}, r"unknown parameter 'topics.lidar_camera_info'"),
])
def test_registration_configuration_errors_are_config_errors_naming_the_parameters(params, match):
    with pytest.raises((ConfigError, ValueError), match=match) as err:
        NodeConfig.from_params(params)
    if 'lidar' not in match:
        assert isinstance(err.value, ConfigError)


def test_registration_parameters_round_trip_through_a_params_file(tmp_path):
    config = rig_config()
    params = config.to_params()
    assert params['registration.thermal_to_rgb'] == THERMAL_TO_RGB
    assert params['topics.depth_camera_info'] == '/depth/camera_info'
    assert NodeConfig.from_params(params) == config
    nested = {'topics': {'rgb_camera_info': '/color/camera_info',
                         'thermal_camera_info': '/thermal/camera_info',
                         'depth_camera_info': '/depth/camera_info'},
              'registration': {'thermal_to_rgb': THERMAL_TO_RGB, 'depth_to_rgb': DEPTH_TO_RGB,
                               'plane_distance': 3.0},
              'stale_timeout': 0.3, 'sync': {'slop': 0.01}}
    path = tmp_path / 'rig.yaml'
    path.write_text(yaml.safe_dump({'/**/perception_node': {'ros__parameters': nested}}))
    assert load_params_file(path) == config
    unset = NodeConfig.from_params({'registration.thermal_to_rgb': None,
                                    'registration.depth_to_rgb': []})
    assert unset.registered_sensors == () and unset.awaited_camera_infos == ()
    assert math.isinf(unset.plane_distance)


def test_former_camera_info_parameter_is_the_reference_cameras_with_a_warning():
    with pytest.warns(DeprecationWarning, match="'topics.camera_info' is deprecated, use "
                                                "'topics.rgb_camera_info'"):
        config = NodeConfig.from_params({'topics.camera_info': '/c/info'})
    assert config.camera_info_topics['rgb'] == '/c/info' and config.output_camera_info == 'rgb'
    with pytest.warns(DeprecationWarning, match="use 'topics.thermal_camera_info'"):
        thermal_only = NodeConfig.from_params({'topics': {'rgb': '', 'depth': '',
                                                          'camera_info': '/t/info'}})
    assert thermal_only.output_camera_info == 'thermal'
    with pytest.raises(ConfigError, match="both 'topics.camera_info' and 'topics.rgb_camera_info'"):
        NodeConfig.from_params({'topics.camera_info': '/a', 'topics.rgb_camera_info': '/b'})


# --- 16-bit thermal: the model's recorded scaling ------------------------------------------------
SCALING = {'mode': 'kelvin', 'low': 273.15, 'high': 313.15, 'kelvin_per_count': 0.01, 'offset_k': 0.0}


class RecordingBackend:
    """A backend that records the network inputs (what the network sees)."""
    name = 'recorder'

    def __init__(self, thermal_scaling=None):
        self.spec = ModelSpec(input_size=(48, 64), nms='none', outputs=('depth_pred', ),
                              thermal_scaling=thermal_scaling)
        self.inputs = None

    def run(self, inputs):
        self.inputs = inputs
        return {'depth_pred': np.ones((1, 1, 48, 64), np.float32)}


def test_mono16_thermal_is_scaled_as_the_model_records_it_exactly_as_perception_infer(tmp_path):
    # FLIR TLinear counts (kelvin x 100): 263 K .. 323 K, beyond the model's 273-313 K range both ways
    counts = np.linspace(26315, 32315, 48 * 64).reshape(48, 64).astype(np.uint16)
    backend = RecordingBackend(SCALING)
    predictor = Predictor(backend)
    h = PerceptionCore(NodeConfig(topics={'rgb': '', 'thermal': '/t', 'depth': ''}), predictor,
                       lambda n, m: None, clock=Clock())
    assert h.thermal_scaling == SCALING
    sets = h.on_image('thermal', array_to_image(counts, 'mono16', ts.header(1, 't'),
                                                is_bigendian=True))
    h.process(sets[0])
    seen = backend.inputs['thermal']
    # the values the network sees: counts -> kelvin -> [0, 1] by the recorded range, normalised
    kelvin = counts.astype(np.float64) * 0.01
    expected, _ = preprocess(backend.spec, thermal=np.clip((kelvin - 273.15) / 40.0, 0, 1)
                             .astype(np.float32))
    np.testing.assert_allclose(seen, expected['thermal'], atol=1e-6)
    # ... and bit for bit what `perception infer --thermal-encoding u16_radiometric` gives the network
    png = tmp_path / 'thermal.png'
    cv2.imwrite(str(png), counts)
    cli = RecordingBackend(SCALING)
    Predictor(cli)(thermal=decode_file(png, 'u16_radiometric', 'thermal', thermal_scaling=SCALING))
    np.testing.assert_array_equal(seen, cli.inputs['thermal'])
    assert not np.allclose(seen, preprocess(backend.spec, thermal=(counts / 65535.0).astype(
        np.float32))[0]['thermal'])                          # not the former / 65535


def test_mono16_thermal_without_a_recorded_scaling_stays_unit_range():
    counts = np.array([[0, 13107, 65535]], np.uint16)
    core = PerceptionCore(NodeConfig(topics={'rgb': '', 'thermal': '/t', 'depth': ''}),
                          Recording(), lambda n, m: None, clock=Clock())
    assert core.thermal_scaling is None
    core.process(core.on_image('thermal', array_to_image(counts, 'mono16', ts.header(1, 't')))[0])
    np.testing.assert_allclose(core.predictor.inputs[-1]['thermal'], [[0, 0.2, 1]], rtol=1e-6)


# --- float depth: REP 117 ------------------------------------------------------------------------
def test_negative_float_depth_is_a_malformed_frame_counted_and_logged(caplog):
    caplog.set_level(logging.WARNING, logger='perception.ros')
    core, _, clock = make_core(NodeConfig(topics={'rgb': '', 'thermal': '', 'depth': '/d'}))
    depth = np.full((4, 5), 2.0, np.float32)
    depth[0, :3] = -1.0
    depth[1, 0] = np.nan                                 # REP 117 "no reading": fine
    depth[1, 1] = -np.inf                                # too close: fine
    assert core.on_image('depth', encode_sensor(depth, 'depth', '32FC1', ts.header(1, 'd'))) == []
    assert core.stats()['malformed.depth'] == 1
    assert any("'depth on /d', field 'value'" in r.message and '3 of 20 pixels < 0' in r.message
               for r in caplog.records)
    clock.t += 0.1                                       # the node survives: the next frame runs
    depth[0, :3] = 1.0
    sets = core.on_image('depth', encode_sensor(depth, 'depth', '32FC1', ts.header(2, 'd')))
    assert len(sets) == 1
    core.process(sets[0])
    np.testing.assert_array_equal(core.predictor.inputs[-1]['depth'][1, :2], [0, 0])


# --- bag replay: CameraInfo topics in the bag ----------------------------------------------------
def test_bag_replay_registers_from_the_camera_infos_in_the_bag(tmp_path):
    """A recording of the rig: images of three sizes and their CameraInfo topics (as drivers publish
    them, one per image). Replay waits for the infos, then writes outputs on the colour grid; without
    a registration CameraInfo topic in the bag it refuses with the parameter's name."""
    from perception.ros.bag_io import BagWriter, read_messages
    from perception.ros.replay import replay_bag
    topics = {'rgb': '/c/image', 'thermal': '/t/image', 'depth': '/d/image'}
    bag = tmp_path / 'rig'
    with BagWriter(bag) as writer:
        for k in range(6):
            stamp = STAMP + k * 100_000_000
            for sensor, value in rig_frame(k).items():
                if k > 0 or sensor == 'rgb':      # the first frame comes before two of the infos
                    writer.write(INFO_TOPICS[sensor], ts.CAMERA_INFO, stamp, infos()[sensor])
                msg = encode_sensor(value, sensor, ENCODING[sensor],
                                    ts.header(stamp, f'{sensor}_optical_frame'))
                writer.write(topics[sensor], ts.IMAGE, stamp + 1000, msg)
    config = rig_config(topics=topics, stale_timeout=1.0)
    predictor = Recording()
    report = replay_bag(bag, tmp_path / 'out', predictor, config)
    assert report.stats['awaiting_camera_info'] == 1 and report.stats['processed'] == 5
    labels = [ts.deserialize(m.cdr, m.msgtype) for m in read_messages(tmp_path / 'out')
              if m.topic == '/perception/labels']
    assert len(labels) == 5
    assert {(m.height, m.width, m.header.frame_id) for m in labels} == {
        (COLOUR[1], COLOUR[0], 'rgb_optical_frame')}
    missing = rig_config(topics=topics, camera_info_topics={**INFO_TOPICS, 'depth': '/nowhere'})
    with pytest.raises(ValueError, match=r'/nowhere \(topics.depth_camera_info\) is not in the bag'):
        replay_bag(bag, tmp_path / 'out2', Recording(), missing)


# --- the DDS runner: CameraInfo topics over CycloneDDS -------------------------------------------
def test_dds_node_subscribes_each_camera_info_and_registers():
    """The DDS runner subscribes the three CameraInfo topics (reliable) next to the images; a peer
    on the same domain publishes infos and images of three sizes and gets labels on the colour grid.
    No wall-clock bound: it waits (up to a hang guard) for what it checks."""
    import time

    from test_ros_dds import pick_domain

    from perception.ros.dds import DdsBus, loopback_config
    from perception.ros.dds_node import DdsPerceptionNode
    config = rig_config(stale_timeout=5.0)
    domain, xml = pick_domain(), loopback_config()
    node = DdsPerceptionNode(config, Recording(), DdsBus(domain, xml))
    peer = DdsBus(domain, xml)
    got = []
    try:
        labels = peer.subscribe(config.output_topics['labels'], ts.IMAGE, got.append)
        peer.start()
        node.start()
        image_pubs = {s: peer.publisher(t, ts.IMAGE, config.input_qos_spec())
                      for s, t in config.topics.items()}
        info_pubs = {s: peer.publisher(t, ts.CAMERA_INFO) for s, t in INFO_TOPICS.items()}
        deadline = time.monotonic() + 30                 # hang guard only
        while not (all(p.matched_subscriptions() for p in [*image_pubs.values(),
                                                           *info_pubs.values()])
                   and labels.matched_publications()):
            assert time.monotonic() < deadline, 'no DDS match on loopback'
            time.sleep(0.02)
        k = 0
        while len(got) < 3:
            assert time.monotonic() < deadline, f'no registered output; stats {node.core.stats()}'
            stamp = STAMP + k * 50_000_000
            for sensor, value in rig_frame(k).items():
                info_pubs[sensor].publish(infos()[sensor])
                image_pubs[sensor].publish(encode_sensor(
                    value, sensor, ENCODING[sensor], ts.header(stamp, f'{sensor}_optical_frame')))
            k += 1
            time.sleep(0.05)
    finally:
        node.stop()
        peer.close()
    assert {(m.height, m.width, m.header.frame_id) for m in got} == {
        (COLOUR[1], COLOUR[0], 'rgb_optical_frame')}
    assert node.core.registration is not None and node.core.stats()['malformed_sets'] == 0
