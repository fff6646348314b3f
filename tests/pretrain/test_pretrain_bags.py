"""``perception pretrain --bags``: an MCAP bag written here with the package's own ``BagWriter`` (a
colour camera, a smaller 16-bit thermal camera with its CameraInfo and a gap in it) gives the frames
the node gives a model -- the same decoding, synchronisation and registration as bag replay, sets
without thermal while it is stale -- and pretrains end to end; a bag without the configured topics
is an input error that names them."""
import sys

import numpy as np
import pytest
import yaml
from pretrain_helpers import TINY, run_perception, tiny_config

from perception.cli import main
from perception.contract import NORMALIZATION
from perception.datasets import GenericMultiSensorDataset
from perception.paths import REPO_ROOT
from perception.ros import typestore as ts
from perception.ros.bag_frames import bag_frames
from perception.ros.bag_io import BagWriter
from perception.ros.config import load_params_file
from perception.ros.image_codec import array_to_image
from perception.ros.replay import replay_bag

sys.path.insert(0, str(REPO_ROOT / 'tests' / 'ros'))
from ros_testkit import ToyPredictor, camera_info  # noqa: E402

RGB, THERMAL = '/cam/color/image_raw', '/cam/thermal/image_raw'
INFOS = {'rgb': '/cam/color/camera_info', 'thermal': '/cam/thermal/camera_info'}
THERMAL_SIZE = (48, 64)             # (H, W): another camera than the colour one (TINY)
T0, PERIOD = 1_700_000_000_000_000_000, 100_000_000
FRAMES, GAP = 20, range(8, 14)      # thermal silent for 0.6 s: stale after 0.3 s
PARAMS = {'perception_node': {'ros__parameters': {
    'topics': {'rgb': RGB, 'thermal': THERMAL, 'depth': '', 'rgb_camera_info': INFOS['rgb'],
               'thermal_camera_info': INFOS['thermal']},
    'registration': {'thermal_to_rgb': [0.03, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]},
    'stale_timeout': 0.3, 'sync': {'slop': 0.02}}}}


def write_bag(path):
    rng = np.random.default_rng(0)
    with BagWriter(path, 'mcap') as writer:
        for k in range(FRAMES):
            stamp = T0 + k * PERIOD
            for sensor, (h, w), focal in (('rgb', TINY, 80.0), ('thermal', THERMAL_SIZE, 50.0)):
                writer.write(INFOS[sensor], ts.CAMERA_INFO, stamp,
                             camera_info(w, h, focal, f'{sensor}_optical', stamp))
            rgb = rng.integers(0, 256, (*TINY, 3)).astype(np.uint8)
            writer.write(RGB, ts.IMAGE, stamp, array_to_image(rgb, 'rgb8', ts.header(stamp, 'c')))
            if k not in GAP:
                hot = rng.integers(0, 65536, THERMAL_SIZE).astype(np.uint16)
                msg = array_to_image(hot, 'mono16', ts.header(stamp + 2_000_000, 't'))
                writer.write(THERMAL, ts.IMAGE, stamp + 2_000_000, msg)
    return path


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('bags')
    params = tmp / 'params.yaml'
    params.write_text(yaml.safe_dump(PARAMS))
    return write_bag(tmp / 'logs' / 'run1'), params


class Recording(ToyPredictor):
    """A model of rgb + thermal that keeps what the node gives it."""

    spec = type('Spec', (), dict(trained_sensors=('rgb', 'thermal'), thermal_scaling=None,
                                 normalization=NORMALIZATION))()

    def __init__(self):
        super().__init__()
        self.inputs = []

    def __call__(self, rgb=None, thermal=None, depth=None):
        self.inputs.append({'rgb': rgb, 'thermal': thermal})
        return super().__call__(rgb=rgb, thermal=thermal, depth=depth)


def test_bag_frames_are_what_the_node_gives_a_model(bag, tmp_path):
    path, params = bag
    config = load_params_file(params)
    frames = list(bag_frames(path, config, ('rgb', 'thermal')))
    model = Recording()
    replay_bag(path, tmp_path / 'out', model, config)
    # a set or two is lost while the sync waits for thermal before calling it stale
    assert len(frames) == len(model.inputs) >= FRAMES - 3
    for (_, ours), given in zip(frames, model.inputs):
        assert set(ours) == {s for s, v in given.items() if v is not None}
        for sensor, array in ours.items():
            assert np.array_equal(array, given[sensor])
            assert array.shape[:2] == TINY              # thermal registered onto the colour grid
    subsets = [tuple(sorted(f)) for _, f in frames]
    assert subsets.count(('rgb', )) >= 2
    assert subsets.count(('rgb', 'thermal')) >= FRAMES - len(GAP) - 1
    stamps = [stamp for stamp, _ in frames]
    assert stamps == sorted(stamps) and stamps[0] == T0


def test_pretrain_on_a_folder_of_bags(bag, tmp_path):
    path, params = bag
    proc = run_perception('pretrain', tiny_config(tmp_path / 'tiny.py'), '--bags', path.parent,
                          '--params', params, '--held-out', '2', '--work-dir', tmp_path / 'work')
    assert proc.returncode == 0, proc.stderr[-3000:]
    extracted = tmp_path / 'work' / 'bag_frames' / 'run1'
    count = len(GenericMultiSensorDataset(str(extracted)))
    assert f'{path}: {count} frames -> {extracted}' in proc.stdout and count >= FRAMES - 3
    first = GenericMultiSensorDataset(str(extracted)).load_sample(0)
    assert first['thermal'].shape == first['rgb'].shape[:2] == TINY
    assert (tmp_path / 'work' / 'pretrained_encoders.pth').is_file()
    assert (tmp_path / 'work' / 'reconstruction.png').is_file()
    assert 'held-out frames, fixed masks: rgb' in proc.stdout and '(2 frames)' in proc.stdout


def test_a_bag_without_the_sensor_topics_names_them(tmp_path, capsys):
    talker = tmp_path / 'talker'
    with BagWriter(talker, 'mcap') as writer:
        writer.write('/chatter', 'std_msgs/msg/String', T0,
                     ts.msg_class('std_msgs/msg/String')(data='hello'))
    assert main(['pretrain', str(tiny_config(tmp_path / 'tiny.py')), '--bags', str(talker)]) == 2
    error = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith('error: ')]
    assert len(error) == 1
    assert 'none of the sensor topics' in error[0] and '/chatter (std_msgs/msg/String)' in error[0]
    assert '--topics rgb=' in error[0] and '--params' in error[0]
