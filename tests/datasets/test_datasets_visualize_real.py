"""tools/visualize_real.py draws every real sample into one small picture."""
import importlib.util

import cv2
import numpy as np
import pytest

from perception.paths import REPO_ROOT


def _tool():
    spec = importlib.util.spec_from_file_location('visualize_real',
                                                  REPO_ROOT / 'tools' / 'visualize_real.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tile_shows_missing_sensors_and_depth_colour_bar():
    tool = _tool()
    sample = dict(img_shape=(48, 64), rgb=None, thermal=np.full((48, 64), 0.5, np.float32),
                  depth=np.linspace(0, 4, 48 * 64, dtype=np.float32).reshape(48, 64),
                  gt_depth=None, gt_bboxes=None)
    tile = tool.sample_tile('toy', sample, (), ('rgb', 'thermal', 'depth'))
    panel_w = tool.PANEL_H * 64 // 48
    assert tile.shape[0] == tool.TITLE_H + tool.PANEL_H
    assert tile.shape[1] == 3 * (panel_w + 2) + tool.BAR_W + 2
    body = tile[tool.TITLE_H:]
    assert (body[10:40, 10:40] == 200).all()                      # grey "no rgb" panel
    thermal = body[10:40, panel_w + 12:panel_w + 40]
    assert (thermal == 128).all()                                 # 0.5 -> grey 128
    assert body[0, 2 * (panel_w + 2)].tolist() == [0, 0, 0]       # depth 0 = invalid: black


@pytest.mark.real_data
def test_picture_of_all_real_samples(real_root, tmp_path):
    out = tmp_path / 'real.png'
    assert _tool().main(['--root', str(real_root), '--out', str(out)]) == 0
    img = cv2.imread(str(out))
    assert img.shape[1] == 1800 and img.shape[0] > 800
    assert out.stat().st_size < 1.5e6
