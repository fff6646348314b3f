"""Through the real command line (subprocess): input errors print one ``error: ...`` line and exit
with code 2, no traceback unless ``--debug``/``PERCEPTION_DEBUG=1``; and ``perception infer`` runs on
thermal files as datasets store them (3-channel grey JPG/PNG/BMP, sizes varying per pair) and on a
rig whose thermal camera differs from the colour camera (``--calibration``)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from perception.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'tests' / 'deploy'))   # the stand-in network (deploy_standin)

SIZE = (64, 80)
VENV_BIN = Path(sys.executable).parent


def perception_command():
    script = VENV_BIN / 'perception'   # the installed console script, as a user types it
    return [str(script)] if script.is_file() else [sys.executable, '-m', 'perception.cli']


def run(args, env=None, timeout=300):
    full_env = {k: v for k, v in os.environ.items() if k != 'PERCEPTION_DEBUG'}
    full_env.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, env=full_env, cwd=REPO_ROOT,
                          timeout=timeout)


def perception(*args, **kwargs):
    return run(perception_command() + [str(a) for a in args], **kwargs)


def assert_input_error(proc, *fragments):
    """Exit code 2, one ``error:`` line on stderr naming the fragments, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert 'Traceback' not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith('error: ')]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """The stand-in network exported to ONNX (host NMS), as `perception export` would write it."""
    import torch
    from deploy_standin import TinyPerceptor

    from perception.apis.spec import ModelSpec
    from perception.deploy.frames import synthetic_frames
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    torch.manual_seed(0)
    net = TinyPerceptor().eval()
    meta = net.dataset_meta
    spec = ModelSpec(input_size=SIZE, seg_classes=meta['seg_classes'],
                     det_classes=meta['det_classes'])
    path = tmp_path_factory.mktemp('model') / 'tiny.onnx'
    export_onnx(net, path, spec, ExportOptions(input_size=SIZE, nms='host', score_thr=0.3),
                frames=synthetic_frames(1, SIZE))
    return path


# --- perception infer: thermal as datasets store it ------------------------------------------------
def _grey3_folders(root: Path, pairs):
    """vi/STEM.png + ir/STEM.{jpg,png,bmp} with the thermal stored as 3 equal channels."""
    vi, ir = root / 'vi', root / 'ir'
    vi.mkdir(parents=True)
    ir.mkdir()
    for (stem, rgb, thermal), suffix in zip(pairs, ('.jpg', '.png', '.bmp')):
        assert cv2.imwrite(str(vi / f'{stem}.png'), rgb[:, :, ::-1])
        assert cv2.imwrite(str(ir / f'{stem}{suffix}'), cv2.merge([thermal] * 3))
    return vi, ir


def _synthetic_pairs():
    from perception.datasets.synthetic import generate_sample
    pairs = []
    for i, size in enumerate(((120, 160), (96, 176), (144, 128))):
        s = generate_sample(i, split='test', img_size=size, condition='day')
        pairs.append((f'{i:03d}', s['rgb'], np.round(s['thermal'] * 255).astype(np.uint8)))
    return pairs


def _real_pairs(real_root):
    folder = real_root / 'msrs_roadscene' / 'RoadScene'
    pairs = []
    for stem in ('14', '19', '3'):     # 544x326, 541x270, 507x346: a different size per pair
        rgb = cv2.imread(str(folder / 'vi' / f'{stem}.png'), cv2.IMREAD_COLOR)[:, :, ::-1]
        thermal = cv2.imread(str(folder / 'ir' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        pairs.append((stem, rgb, thermal))
    return pairs


@pytest.mark.parametrize('source', ['synthetic', 'real'])
def test_infer_on_three_channel_grey_thermal_of_varying_sizes(model, tmp_path, source, request):
    pairs = (_synthetic_pairs() if source == 'synthetic'
             else _real_pairs(request.getfixturevalue('real_root')))
    assert len({p[1].shape for p in pairs}) == 3
    vi, ir = _grey3_folders(tmp_path / 'in', pairs)
    proc = perception('infer', '--model', model, '--rgb', vi, '--thermal', ir, '--out',
                      tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    for stem, rgb, _ in pairs:
        overlay = cv2.imread(str(tmp_path / 'out' / f'{stem}_overlay.png'))
        assert overlay.shape == rgb.shape                      # one overlay per pair, its size
        summary = json.loads((tmp_path / 'out' / f'{stem}.json').read_text())
        assert summary['sensors'] == {'rgb': True, 'thermal': True, 'depth': False}
        assert summary['sources']['thermal'].endswith(('.jpg', '.png', '.bmp'))


def test_infer_registers_a_thermal_camera_of_another_size(model, tmp_path):
    """A 160x128 thermal camera beside a 320x240 colour camera, calibrated: one overlay per frame
    on the colour grid. Without --calibration the size difference is an error that says what to do."""
    from perception.datasets.synthetic.layout import sample_scene
    from perception.datasets.synthetic.rig import RigCamera, relative_transform, render_rig
    from perception.datasets.synthetic.sensors import thermal_image
    cams = dict(rgb=RigCamera((240, 320), 70, 1.2, 4.0), thermal=RigCamera((128, 160), 50, 1.15,
                                                                             3.0, x=-0.1))
    views = render_rig(sample_scene(np.random.default_rng(5), (240, 320), 'day'), cams)
    (tmp_path / 'vi').mkdir()
    (tmp_path / 'ir').mkdir()
    label_colours = np.random.default_rng(0).integers(0, 255, (256, 3)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'vi' / 'f.png'), label_colours[views['rgb'].label])
    thermal = thermal_image(views['thermal'].temperature, np.random.default_rng(0))
    cv2.imwrite(str(tmp_path / 'ir' / 'f.png'), np.round(thermal * 255).astype(np.uint8))
    models = {n: c.model(n) for n, c in cams.items()}
    T = relative_transform(cams['thermal'], cams['rgb'])

    def camera(m):   # ROS camera_info fields
        return dict(image_width=m.width, image_height=m.height,
                    camera_matrix=dict(rows=3, cols=3, data=m.K.ravel().tolist()))
    calib = tmp_path / 'rig.yaml'
    calib.write_text(yaml.safe_dump(dict(
        rgb=camera(models['rgb']),
        thermal=dict(camera(models['thermal']), transform_to_rgb=dict(
            translation=T.t.tolist(), rotation=_quaternion(T.R))))))
    args = ['infer', '--model', model, '--rgb', tmp_path / 'vi', '--thermal', tmp_path / 'ir']
    proc = perception(*args, '--calibration', calib, '--out', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    assert 'Registration(rgb 320x240, thermal camera + transform' in proc.stdout
    assert cv2.imread(str(tmp_path / 'out' / 'f_overlay.png')).shape == (240, 320, 3)
    # Thermal alone, calibrated: predicted and drawn on the colour camera's grid all the same.
    proc = perception('infer', '--model', model, '--thermal', tmp_path / 'ir', '--calibration', calib,
                      '--out', tmp_path / 'thermal_only')
    assert proc.returncode == 0, proc.stderr
    overlay = cv2.imread(str(tmp_path / 'thermal_only' / 'f_overlay.png'))
    assert overlay.shape == (240, 320, 3)
    assert cv2.imread(str(tmp_path / 'thermal_only' / 'f_seg.png')).shape[:2] == (240, 320)
    assert_input_error(perception(*args, '--out', tmp_path / 'o2'), "sensor 'thermal'",
                       "field 'size'", '--calibration FILE')


def _quaternion(R):
    """[qx, qy, qz, qw] of a rotation matrix (trace form; the rig's rotations are small)."""
    w = np.sqrt(max(1e-12, 1 + np.trace(R))) / 2
    return [float((R[2, 1] - R[1, 2]) / (4 * w)), float((R[0, 2] - R[2, 0]) / (4 * w)),
            float((R[1, 0] - R[0, 1]) / (4 * w)), float(w)]


# --- perception infer: the broken inputs of issue 17 ------------------------------------------------
def _broken_inputs(tmp: Path):
    """(name, extra infer arguments, fragments the error line must contain)."""
    rgb = np.zeros((48, 64, 3), np.uint8)
    good_rgb = tmp / 'rgb.png'
    cv2.imwrite(str(good_rgb), rgb)
    (tmp / 'empty.png').write_bytes(b'')
    (tmp / 'random.png').write_bytes(np.random.default_rng(0).bytes(2048))
    cv2.imwrite(str(tmp / 'full.png'), np.random.default_rng(1).integers(0, 255, (64, 64, 3),
                                                                         dtype=np.uint8))
    data = (tmp / 'full.png').read_bytes()
    (tmp / 'truncated.png').write_bytes(data[:len(data) // 2])
    cv2.imwrite(str(tmp / 'grey16.png'), np.full((48, 64), 4000, np.uint16))
    grey = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    cv2.imwrite(str(tmp / 'ironbow.png'), cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO))
    cv2.imwrite(str(tmp / 'small_ir.png'), np.zeros((24, 32), np.uint8))
    depth = np.full((48, 64), 2.0, np.float32)
    depth[0, :3] = np.nan, np.inf, -np.inf
    np.save(tmp / 'rep117.npy', depth)
    depth[1, :4] = -1.0
    np.save(tmp / 'negative.npy', depth)
    cv2.imwrite(str(tmp / 'mm.png'), np.arange(2000, 2000 + 48 * 64, dtype=np.uint16).reshape(48, 64))
    (tmp / 'bad_calib.yaml').write_text('rgb: [1, 2\n')
    f = "field 'file'"
    return [
        ('empty file', ['--rgb', tmp / 'empty.png'], ["sensor 'rgb'", f, '0 bytes', 'empty.png']),
        ('random bytes', ['--rgb', good_rgb, '--thermal', tmp / 'random.png'],
         ["sensor 'thermal'", f, 'unreadable or corrupt']),
        ('truncated PNG', ['--rgb', tmp / 'truncated.png'], ["sensor 'rgb'", f]),
        ('16-bit grey as RGB', ['--rgb', tmp / 'grey16.png'],
         ["sensor 'rgb'", "field 'bit depth'", 'uint16']),
        ('colour as thermal', ['--thermal', tmp / 'ironbow.png'],
         ["sensor 'thermal'", 'colour-mapped', 'export the raw thermal']),
        ('thermal of another size', ['--rgb', good_rgb, '--thermal', tmp / 'small_ir.png'],
         ["sensor 'thermal'", "field 'size'", '--calibration FILE']),
        ('negative depth', ['--depth', tmp / 'negative.npy', '--depth-encoding', 'float32_m'],
         ["sensor 'depth'", '4 of 3072 pixels < 0']),
        ('millimetre depth given as SUN bit-shift', ['--depth', tmp / 'mm.png', '--depth-encoding',
                                                     'uint16_sun_bitshift'],
         ["sensor 'depth'", "field 'value'", '2304 of 3072 pixels decode to >= 16.384 m']),
        ('no such folder', ['--thermal', tmp / 'nothere'], ['--thermal', 'no such file or folder']),
        ('unknown encoding', ['--rgb', good_rgb, '--rgb-encoding', 'rgb9'],
         ["field 'encoding'", "'rgb9'"]),
        ('bad calibration', ['--rgb', good_rgb, '--calibration', tmp / 'bad_calib.yaml'],
         ['bad_calib.yaml', 'not valid YAML at line 2']),
        ('radiometric thermal, model without scaling',
         ['--thermal', tmp / 'grey16.png', '--thermal-encoding', 'u16_radiometric'],
         ["field 'thermal_scaling'"]),
        ('no sensor', [], ['give at least one of']),
    ]


def test_infer_input_errors_are_one_line(model, tmp_path):
    cases = _broken_inputs(tmp_path)
    for name, extra, fragments in cases:
        proc = perception('infer', '--model', model, *extra, '--out', tmp_path / 'out')
        assert_input_error(proc, *fragments)
    # REP 117: NaN, +inf, -inf depth is "no reading" -- the frame runs.
    proc = perception('infer', '--model', model, '--depth', tmp_path / 'rep117.npy',
                      '--depth-encoding', 'float32_m', '--out', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr


def test_model_errors_are_one_line(model, tmp_path):
    rgb = tmp_path / 'rgb.png'
    cv2.imwrite(str(rgb), np.zeros((48, 64, 3), np.uint8))
    (tmp_path / 'corrupt.onnx').write_bytes(b'not a graph')
    import onnx
    foreign = onnx.load(str(model))
    del foreign.metadata_props[:]
    onnx.save(foreign, str(tmp_path / 'foreign.onnx'))
    for path, fragment in ((tmp_path / 'missing.onnx', 'no such file'),
                           (tmp_path / 'corrupt.onnx', 'onnxruntime cannot load it'),
                           (tmp_path / 'foreign.onnx', 'no perception metadata'),
                           (tmp_path / 'rgb.png', 'cannot tell the backend')):
        proc = perception('infer', '--model', path, '--rgb', rgb, '--out', tmp_path / 'out')
        assert_input_error(proc, '--model', fragment)


def test_debug_shows_the_traceback(model, tmp_path):
    (tmp_path / 'empty.png').write_bytes(b'')
    args = ['infer', '--model', model, '--rgb', tmp_path / 'empty.png', '--out', tmp_path / 'o']
    for proc in (perception(*args, '--debug'), perception('--debug', *args),
                 perception(*args, env={'PERCEPTION_DEBUG': '1'})):
        assert proc.returncode == 2
        assert 'Traceback' in proc.stderr and 'SensorError' in proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1].startswith('error: ')


def test_unexpected_errors_keep_their_traceback(tmp_path):
    """A bug is not an input error: a non-package exception still shows where it came from."""
    code = ('import sys; from perception.cli import report_input_errors\n'
            'def boom():\n    raise ZeroDivisionError("a bug")\n'
            'sys.exit(report_input_errors(boom))\n')
    proc = run([sys.executable, '-c', code])
    assert proc.returncode == 1 and 'Traceback' in proc.stderr and 'ZeroDivisionError' in proc.stderr


# --- perception test / export ------------------------------------------------------------------------
def _config_and_checkpoints(tmp: Path):
    (tmp / 'syntax.py').write_text('model = dict(type=\n')
    (tmp / 'garbage.pth').write_bytes(b'not a checkpoint')
    import torch
    torch.save({'state_dict': {'no.such.layer': torch.zeros(1)}}, tmp / 'other.pth')
    return tmp


NANO = REPO_ROOT / 'configs' / '_base_' / 'models' / 'nano.py'


def test_test_command_input_errors(tmp_path):
    tmp = _config_and_checkpoints(tmp_path)
    cases = [
        (['missing.py', tmp / 'garbage.pth'], ['config missing.py', 'no such file']),
        ([tmp / 'syntax.py', tmp / 'garbage.pth'], ['syntax.py cannot be read', 'SyntaxError']),
        ([NANO, tmp / 'missing.pth'], ['checkpoint', 'missing.pth', 'no such file']),
        ([NANO, tmp / 'garbage.pth'], ['garbage.pth', 'safe (weights_only) loader', 'UnpicklingError']),
    ]
    for args, fragments in cases:
        assert_input_error(perception('test', *args, '--work-dir', tmp / 'work'), *fragments)


def test_export_command_input_errors(tmp_path):
    tmp = _config_and_checkpoints(tmp_path)
    out = tmp / 'x.onnx'
    cases = [
        (['missing.py'], ['config missing.py', 'no such file']),
        ([tmp / 'syntax.py'], ['syntax.py cannot be read', 'SyntaxError']),
        ([NANO, tmp / 'missing.pth'], ['missing.pth']),
        ([NANO, tmp / 'garbage.pth'], ['garbage.pth', 'safe (weights_only) loader', 'UnpicklingError']),
        ([NANO, tmp / 'other.pth'], ['other.pth', 'does not fit']),
    ]
    for args, fragments in cases:
        assert_input_error(perception('export', *args, '--output', out, '--shape', 64, 96),
                           *fragments)
    assert not out.exists()


# --- a corrupt frame read in a DataLoader worker ---------------------------------------------------
class _CorruptFrames:
    """A dataset whose every item is a package error, as a loader meets a broken file."""

    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 2

    def __getitem__(self, index):
        raise self.error


def test_package_errors_survive_a_dataloader_worker():
    """PyTorch re-raises a worker's exception as ``type(err)(text with the worker's traceback)``:
    the package's errors come back as themselves, message and fields as raised, and pickle."""
    import pickle

    from torch.utils.data import DataLoader

    from perception.contract import ConfigError, SensorError
    errors = [SensorError('thermal', 'file', 'a readable image', 'unreadable or corrupt file',
                          '/data/thermal/001.png'),
              SensorError('depth', 'value', 'depth >= 0 m', '3 of 12 pixels < 0'),
              ConfigError('dataset.yaml: not valid YAML at line 2')]
    for error in errors:
        for rebuilt in (pickle.loads(pickle.dumps(error)), _raised_in_worker(DataLoader, error)):
            assert type(rebuilt) is type(error) and str(rebuilt) == str(error)
            if isinstance(error, SensorError):
                assert [rebuilt.sensor, rebuilt.field, rebuilt.expected, rebuilt.got, rebuilt.path] \
                    == [error.sensor, error.field, error.expected, error.got, error.path]
    free = SensorError('a message in no standard form')         # still an error, fields unknown
    assert str(free) == 'a message in no standard form' and free.sensor is None


def _raised_in_worker(loader_type, error):
    with pytest.raises(type(error)) as info:
        next(iter(loader_type(_CorruptFrames(error), num_workers=1, batch_size=None)))
    return info.value


def _dataset_with_a_corrupt_frame(tmp: Path):
    """A generic-layout folder of 3 synthetic frames whose second thermal PNG is random bytes, test
    and train configs reading it with 2 DataLoader workers, and an untrained checkpoint."""
    import torch
    from train_utils import PACK, TINY, tiny_cfg

    from perception.datasets import GenericLayoutWriter
    from perception.datasets.synthetic import METAINFO, generate_sample
    from perception.models import build_model
    with GenericLayoutWriter(str(tmp / 'data'), dict(name='tiny', **METAINFO)) as writer:
        for i in range(3):
            writer.write(f'{i:03d}', generate_sample(i, seed=7, split='test', img_size=TINY,
                                                     conditions=['day']))
    corrupt = tmp / 'data' / 'thermal' / '001.png'
    corrupt.write_bytes(np.random.default_rng(0).bytes(999))
    cfg = tiny_cfg(tmp / 'work', max_iters=2, batch_size=1)
    dataset = dict(type='GenericMultiSensorDataset', data_root=str(tmp / 'data'),
                   pipeline=[dict(type='LoadMultiSensorSample'), PACK])
    for split in ('train', 'test'):
        cfg[f'{split}_dataloader'].dataset = dataset
        cfg[f'{split}_dataloader'].num_workers = 2          # as the real-data configs read
    cfg.train_dataloader.batch_size = 3                     # the first batch holds the corrupt frame
    cfg.dump(str(tmp / 'config.py'))
    torch.manual_seed(0)
    model = build_model(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp / 'untrained.pth')
    return tmp / 'config.py', tmp / 'untrained.pth', corrupt


def test_corrupt_frame_in_a_worker_is_one_line(tmp_path):
    """`perception test` and `perception train` on an on-disk dataset with one corrupt frame, read
    by DataLoader worker processes: one error line naming sensor, field and file; exit code 2."""
    config, checkpoint, corrupt = _dataset_with_a_corrupt_frame(tmp_path)
    expected = ["sensor 'thermal'", "field 'file'", 'unreadable or corrupt', str(corrupt)]
    assert_input_error(perception('test', config, checkpoint, '--work-dir', tmp_path / 'test'),
                       *expected)
    assert_input_error(perception('train', config, '--work-dir', tmp_path / 'train'), *expected)


# --- tools/replay_bag.py -------------------------------------------------------------------------------
def replay(*args, **kwargs):
    return run([sys.executable, str(REPO_ROOT / 'tools' / 'replay_bag.py'), *map(str, args)],
               **kwargs)


def _write_bag(path: Path, messages) -> Path:
    """A rosbag2 (sqlite3, as ``ros2 bag record`` writes by default) holding ``messages``:
    (topic, type, message object or raw CDR bytes), one per 10 ms of bag time."""
    from rosbags.rosbag2 import Writer

    from perception.ros import typestore as ts
    with Writer(path, version=8) as writer:
        connections = {}
        for i, (topic, msgtype, msg) in enumerate(messages):
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=ts.typestore())
            cdr = msg if isinstance(msg, bytes) else ts.serialize(msg, msgtype)
            writer.write(connections[topic], 10**18 + i * 10**7, cdr)
    return path


def _image(stamp_ns=10**18):
    from perception.ros import typestore as ts
    from perception.ros.image_codec import array_to_image
    return array_to_image(np.zeros((48, 64, 3), np.uint8), 'bgr8', ts.header(stamp_ns, 'camera'))


def _rgb_topic():
    from perception.ros.config import NodeConfig
    return NodeConfig().topics['rgb']


def _image_bag(path: Path) -> Path:
    """One colour image on the node's default colour topic."""
    from perception.ros import typestore as ts
    return _write_bag(path, [(_rgb_topic(), ts.IMAGE, _image())])


def _talker_bag(path: Path) -> Path:
    """A bag without image topics, like ros2/rosbag2's talker recording: std_msgs/String on /topic."""
    from perception.ros import typestore as ts
    string = ts.msg_class('std_msgs/msg/String')
    return _write_bag(path, [('/topic', 'std_msgs/msg/String', string(data=f'Hello World: {i}'))
                             for i in range(3)])


def _replay_error_cases(talker: Path, tmp_path: Path, model):
    """(replay arguments, fragments of the error line) on a bag without image topics."""
    out = tmp_path / 'out'
    return [
        ([talker, '--out', tmp_path / 'exists', '--model', model], ['exists']),
        ([talker, '--out', out, '--model', model], ['none of the sensor topics', '/topic']),
        ([talker, '--out', out, '--model', model, '--topics', 'lidar=/x'], ['--topics']),
        ([talker, '--out', out, '--model', tmp_path / 'missing.onnx', '--topics', 'rgb=/topic'],
         ['rgb topic /topic holds std_msgs/msg/String']),
        ([talker, '--out', out, '--model', tmp_path / 'nothere.onnx', '--topics', 'rgb=',
          'thermal=', 'depth=/topic'], ['depth topic /topic holds']),
        ([talker, '--out', out, '--params', tmp_path / 'none.yaml'], ['none.yaml']),
    ]


def test_replay_bag_input_errors(model, tmp_path):
    """Every input error of tools/replay_bag.py, on bags written here: one line, exit code 2."""
    talker = _talker_bag(tmp_path / 'talker')
    images = _image_bag(tmp_path / 'images')
    (tmp_path / 'junk.mcap').write_bytes(b'junk')
    (tmp_path / 'exists').mkdir()
    (tmp_path / 'corrupt.onnx').write_bytes(b'not a graph')
    out = tmp_path / 'out'
    cases = _replay_error_cases(talker, tmp_path, model) + [
        ([tmp_path / 'nothere.mcap', '--out', out, '--model', model], ['no such bag']),
        ([tmp_path / 'junk.mcap', '--out', out, '--model', model], ['not a readable rosbag2']),
        ([images, '--out', out, '--model', tmp_path / 'corrupt.onnx'],
         ['corrupt.onnx', 'cannot be loaded']),
        ([images, '--out', out, '--model', tmp_path / 'missing.onnx'], ['missing.onnx']),
        ([images, '--out', out, '--model', 'nosuchmodule:Predictor'], ['nosuchmodule']),
    ]
    for args, fragments in cases:
        assert_input_error(replay(*args), *fragments)
    assert not out.exists()
    proc = replay(tmp_path / 'nothere.mcap', '--out', out, '--debug')
    assert proc.returncode == 2 and 'Traceback' in proc.stderr


def test_replay_bag_errors_on_the_real_talker_bag(model, tmp_path, real_root):
    """The same errors on a bag recorded by ROS 2 tooling (ros2/rosbag2's talker test bag)."""
    (tmp_path / 'exists').mkdir()
    for args, fragments in _replay_error_cases(real_root / 'rosbag2_talker', tmp_path, model):
        assert_input_error(replay(*args), *fragments)
    assert not (tmp_path / 'out').exists()


def test_replay_bag_skips_malformed_messages(model, tmp_path):
    """A bag with a malformed image (data shorter than step x height) and a message whose CDR does
    not decode, between good images: the replay counts and logs each, processes the rest, exit 0."""
    from perception.ros import typestore as ts
    short = _image(10**18 + 10**7)
    short.data = short.data[:100]
    bag = _write_bag(tmp_path / 'in', [(_rgb_topic(), ts.IMAGE, msg) for msg in (
        _image(10**18), short, b'\x00\x01\x00\x00junk', _image(10**18 + 3 * 10**7))])
    proc = replay(bag, '--out', tmp_path / 'out', '--model', model)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    summary = json.loads(proc.stdout[proc.stdout.index('{'):])
    assert summary['malformed']['malformed.rgb'] == 1 and summary['undecodable'] == 1
    assert summary['input_messages'] == {'rgb': 3} and summary['sets'] == 2
    assert 'skipping malformed message' in proc.stderr and 'cannot decode' in proc.stderr
    assert "field 'data'" in proc.stderr
