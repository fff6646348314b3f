"""``perception infer``: files and folders per sensor, pairing by stem, overlays and JSON written."""
import argparse
import json

import cv2
import numpy as np
import pytest

from perception.commands import infer


def run_infer(**kwargs) -> int:
    parser = argparse.ArgumentParser()
    infer.add_arguments(parser)
    argv = []
    for key, value in kwargs.items():
        argv += ['--' + key.replace('_', '-'), str(value)]
    return infer.run(parser.parse_args(argv))


def test_mfnet_file_rgb_and_thermal_from_one_png(nano_export, real_root, tmp_path):
    png = real_root / 'mfnet_rgbt' / '01234N.png'
    assert run_infer(model=nano_export['onnx'], rgb=png, rgb_encoding='mfnet_rgb', thermal=png,
                     thermal_encoding='mfnet_rgba', out=tmp_path) == 0
    overlay = cv2.imread(str(tmp_path / '01234N_overlay.png'))
    assert overlay.shape == (480, 640, 3)           # the frame's size, not the network's
    assert cv2.imread(str(tmp_path / '01234N_depth.png')).shape == (480, 640, 3)
    seg = cv2.imread(str(tmp_path / '01234N_seg.png'), cv2.IMREAD_UNCHANGED)
    assert seg.shape == (480, 640) and seg.max() < 8
    summary = json.loads((tmp_path / '01234N.json').read_text())
    assert summary['sensors'] == {'rgb': True, 'thermal': True, 'depth': False}
    assert summary['detections']         # the box checks below see boxes
    for det in summary['detections']:
        x1, y1, x2, y2 = det['box_xyxy']
        assert 0 <= x1 <= x2 <= 640 and 0 <= y1 <= y2 <= 480 and det['class']


def test_folders_pair_by_stem_and_depth_alone(nano_export, real_root, tmp_path):
    vi, ir = real_root / 'msrs_roadscene' / 'MSRS' / 'vi', real_root / 'msrs_roadscene' / 'MSRS' / 'ir'
    pairs = infer.pair_inputs({'rgb': str(vi), 'thermal': str(ir)})
    assert len(pairs) == 20 and all(set(files) == {'rgb', 'thermal'} for _, files in pairs)
    assert all(files['rgb'].stem == files['thermal'].stem == stem for stem, files in pairs)
    depth = real_root / 'nyu_demo' / 'rawdepth.png'
    assert run_infer(model=nano_export['onnx'], depth=depth, depth_encoding='uint16_mm',
                     out=tmp_path) == 0
    summary = json.loads((tmp_path / 'rawdepth.json').read_text())
    assert summary['sensors'] == {'rgb': False, 'thermal': False, 'depth': True}


def test_pairing_reports_missing_files(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir()
    b.mkdir()
    for d, names in ((a, ('1', '2')), (b, ('2', '3'))):
        for n in names:
            cv2.imwrite(str(d / f'{n}.png'), np.zeros((4, 4), np.uint8))
    pairs = dict(infer.pair_inputs({'rgb': str(a), 'thermal': str(b)}))
    assert set(pairs) == {'1', '2', '3'}
    assert set(pairs['1']) == {'rgb'} and set(pairs['2']) == {'rgb', 'thermal'}
    with pytest.raises(FileNotFoundError, match='--depth'):
        infer.pair_inputs({'depth': str(tmp_path / 'missing')})


def test_display_threshold_decides_what_is_drawn_not_what_is_kept(nano_export, real_root,
                                                                   tmp_path, capsys):
    """``--display-thr`` filters the overlay's boxes (the count printed as drawn); the json keeps
    every detection above the score threshold and records the display threshold."""
    png = real_root / 'mfnet_rgbt' / '01234N.png'
    args = dict(model=nano_export['onnx'], rgb=png, rgb_encoding='mfnet_rgb', thermal=png,
                thermal_encoding='mfnet_rgba')
    assert run_infer(out=tmp_path / 'all', **args) == 0
    everything = json.loads((tmp_path / 'all' / '01234N.json').read_text())
    scores = sorted(d['score'] for d in everything['detections'])
    assert len(scores) >= 4 and everything['display_thr'] is None
    middle = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    capsys.readouterr()
    assert run_infer(out=tmp_path / 'some', display_thr=middle, **args) == 0
    printed = capsys.readouterr().out
    above = sum(s >= middle for s in scores)
    assert f'{len(scores)} detections ({above} drawn)' in printed and 0 < above < len(scores)
    some = json.loads((tmp_path / 'some' / '01234N.json').read_text())
    assert some['display_thr'] == middle and len(some['detections']) == len(scores)
    drawn_all = cv2.imread(str(tmp_path / 'all' / '01234N_overlay.png'))
    drawn_some = cv2.imread(str(tmp_path / 'some' / '01234N_overlay.png'))
    assert (drawn_all != drawn_some).any()
    with pytest.raises(Exception, match=r'--display-thr 1.5: expected a score in \[0, 1\]'):
        run_infer(out=tmp_path / 'bad', display_thr=1.5, **args)


def test_boxes_only_overlays_leave_the_frame_outside_the_boxes(nano_export, real_root, tmp_path):
    """``--boxes-only``: no segmentation colours (a model whose segmentation is the synthetic
    scenes' on a real frame); what is not under a drawn box or its label is the frame itself."""
    png = real_root / 'mfnet_rgbt' / '01234N.png'
    parser = argparse.ArgumentParser()
    infer.add_arguments(parser)
    argv = ['--model', str(nano_export['onnx']), '--rgb', str(png), '--rgb-encoding', 'mfnet_rgb',
            '--out', str(tmp_path), '--display-thr', '1.0', '--boxes-only']
    assert infer.run(parser.parse_args(argv)) == 0
    overlay = cv2.imread(str(tmp_path / '01234N_overlay.png'))
    frame = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)[..., :3]   # BGRA -> the BGR frame
    assert np.array_equal(overlay, frame)        # nothing above 1.0: the frame alone
