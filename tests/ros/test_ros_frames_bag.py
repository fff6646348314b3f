"""Image files of a rig as a rosbag2 (perception/ros/frames_bag.py, tools/frames_to_bag.py): the
real RGB-thermal pairs, written as drivers publish them, replay through the node like a recording;
unpaired and unreadable files are named, and no partial bag is left."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.contract import SensorError
from perception.ros import typestore as ts
from perception.ros.bag_io import bag_topics, read_messages
from perception.ros.config import NodeConfig
from perception.ros.frames_bag import sensor_image, write_frames_bag
from perception.ros.image_codec import image_to_array
from perception.ros.replay import replay_bag
from ros_testkit import ToyPredictor

REPO = Path(__file__).resolve().parents[2]


def test_real_msrs_and_llvip_pairs_replay_through_the_node(real_root, tmp_path):
    """MSRS (PNG, grey infrared) and LLVIP (JPEG, infrared stored as three equal channels) pairs
    become bgr8 + mono8 messages with the files' pixels, and bag replay runs every set. The shared
    LLVIP folder holds infrared frames without their visible partner: skipped and counted."""
    root = real_root / 'rgbt_det'
    for name, vi, ir in (('msrs', root / 'msrs' / 'vi', root / 'msrs' / 'ir'),
                         ('llvip', root / 'llvip' / 'visible' / 'train',
                          root / 'llvip' / 'infrared' / 'train')):
        bag = tmp_path / name
        summary = write_frames_bag({'rgb': vi, 'thermal': ir}, bag, rate_hz=10,
                                   allow_unpaired=True)
        sets = len({p.stem for p in vi.iterdir()} & {p.stem for p in ir.iterdir()})
        assert summary['sets'] == sets > 5
        files = len(list(vi.iterdir())) + len(list(ir.iterdir()))
        assert len(summary['unpaired']) == files - 2 * sets
        assert summary['encodings'] == {'rgb': 'bgr8', 'thermal': 'mono8'}
        topics = NodeConfig().topics
        assert bag_topics(bag) == {topics['rgb']: (ts.IMAGE, sets),
                                   topics['thermal']: (ts.IMAGE, sets)}
        first = next(read_messages(bag, [topics['thermal']]))
        stem = sorted(p.stem for p in ir.iterdir())[0]
        ir_file = next(ir.glob(stem + '.*'))
        grey = cv2.imread(str(ir_file), cv2.IMREAD_UNCHANGED)
        grey = grey[..., 0] if grey.ndim == 3 else grey
        np.testing.assert_array_equal(image_to_array(ts.deserialize(first.cdr, first.msgtype)),
                                      grey)
        predictor = ToyPredictor()
        report = replay_bag(bag, tmp_path / f'{name}_out', predictor,
                            NodeConfig(topics=dict(topics, depth='')))
        assert report.sets == sets and predictor.calls == [(True, True, False)] * sets
        assert report.stats['malformed.rgb'] == report.stats['malformed.thermal'] == 0


def _write(folder: Path, name: str, pixels: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert cv2.imwrite(str(path), pixels)
    return path


def test_encodings_follow_the_files(tmp_path):
    grey16 = (np.arange(12 * 16, dtype=np.uint16).reshape(12, 16) * 300)
    assert sensor_image(_write(tmp_path, 't16.png', grey16), 'thermal')[1] == 'mono16'
    assert sensor_image(_write(tmp_path, 'd16.png', grey16), 'depth')[1] == '16UC1'
    colour = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    pixels, enc = sensor_image(_write(tmp_path, 'c.png', colour), 'rgb')
    assert enc == 'bgr8' and np.array_equal(pixels, colour)
    with pytest.raises(SensorError, match='thermal.*different channels') as err:
        sensor_image(tmp_path / 'c.png', 'thermal')          # real colour is not a thermal image
    assert err.value.path.endswith('c.png')
    with pytest.raises(SensorError, match='depth.*uint16 or float32'):
        sensor_image(_write(tmp_path, 'd8.png', colour[..., 0]), 'depth')
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(SensorError, match='rgb.*unreadable'):
        sensor_image(tmp_path / 'broken.png', 'rgb')


def test_unpaired_files_are_named_or_skipped_and_counted(tmp_path):
    colour = np.full((8, 8, 3), 100, np.uint8)
    for stem in ('a', 'b', 'c'):
        _write(tmp_path / 'vi', f'{stem}.png', colour)
    for stem in ('a', 'c'):
        _write(tmp_path / 'ir', f'{stem}.jpg', colour[..., 0])
    folders = {'rgb': tmp_path / 'vi', 'thermal': tmp_path / 'ir'}
    with pytest.raises(FileNotFoundError, match=r'b\.png: no thermal image named b\.\*'):
        write_frames_bag(folders, tmp_path / 'bag')
    assert not (tmp_path / 'bag').exists()
    summary = write_frames_bag(folders, tmp_path / 'bag', allow_unpaired=True)
    assert summary['sets'] == 2 and [Path(p).name for p in summary['unpaired']] == ['b.png']


def test_a_bad_file_half_way_leaves_no_partial_bag(tmp_path):
    colour = np.full((8, 8, 3), 100, np.uint8)
    for stem in ('a', 'b'):
        _write(tmp_path / 'vi', f'{stem}.png', colour)
    _write(tmp_path / 'ir', 'a.png', colour[..., 0])
    (tmp_path / 'ir' / 'b.png').write_bytes(b'broken')
    with pytest.raises(SensorError, match='thermal'):
        write_frames_bag({'rgb': tmp_path / 'vi', 'thermal': tmp_path / 'ir'}, tmp_path / 'bag')
    assert not (tmp_path / 'bag').exists()


def test_the_tool_writes_a_bag_and_names_bad_input(tmp_path):
    colour = np.full((8, 8, 3), 100, np.uint8)
    _write(tmp_path / 'vi', 'a.png', colour)
    _write(tmp_path / 'ir', 'a.png', colour[..., 0])
    tool = [sys.executable, str(REPO / 'tools' / 'frames_to_bag.py')]
    done = subprocess.run(tool + ['--sensor', f'rgb={tmp_path / "vi"}',
                                  f'thermal={tmp_path / "ir"}', '--out', str(tmp_path / 'bag'),
                                  '--topics', 'rgb=/cam/rgb'],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary['sets'] == 1 and summary['messages'] == {'/cam/rgb': 1,
                                                            '/thermal/image_raw': 1}
    for args, message in ((['--sensor', f'sonar={tmp_path / "vi"}'], 'sonar'),
                          (['--sensor', f'rgb={tmp_path / "vi"}', '--rate', '0'], 'rate_hz'),
                          (['--sensor', f'rgb={tmp_path / "nowhere"}'], 'no folder')):
        bad = subprocess.run(tool + args + ['--out', str(tmp_path / 'bag2')],
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert not (tmp_path / 'bag2').exists()
