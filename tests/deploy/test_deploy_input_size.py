"""The network size of an export comes from the config (issue 26 item 4): every config under
configs/ sets ``input_size``, and ``perception export`` says which size it uses and where it came from
(``--shape``, the config, or the default of a config that sets none)."""
import argparse
from pathlib import Path

import pytest

from perception.apis.config_spec import DEFAULT_INPUT_SIZE, input_size_and_origin
from perception.commands import export
from perception.paths import REPO_ROOT

CONFIGS = sorted(p for p in (REPO_ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: str(p.relative_to(REPO_ROOT / 'configs')))
def test_every_config_sets_its_input_size(config):
    from mmengine import Config
    size = Config.fromfile(str(config)).get('input_size')
    assert size is not None, f'{config}: no input_size, so an export would silently be 256x320'
    h, w = (int(v) for v in size)
    assert h % 32 == 0 and w % 32 == 0, f'{config}: input_size {size} is not a multiple of 32'


def test_origin_of_the_size():
    assert input_size_and_origin({'input_size': (480, 640)}, (128, 160)) == ((128, 160), 'explicit')
    assert input_size_and_origin({'input_size': (480, 640)}) == ((480, 640), 'config')
    assert input_size_and_origin({}) == (DEFAULT_INPUT_SIZE, 'default')


def _note(config, shape=None) -> str:
    args = argparse.Namespace(config=str(config), shape=shape)
    return export._input_size_note(args)


def test_export_prints_the_size_and_where_it_came_from(tmp_path):
    mfnet = REPO_ROOT / 'configs' / 'mfnet' / 'nano_mfnet_rgbt_seg.py'
    assert _note(mfnet) == f"input size 480x640 (H x W), from the config's input_size ({mfnet})"
    assert _note(mfnet, [256, 320]) == 'input size 256x320 (H x W), from --shape'
    model_only = REPO_ROOT / 'configs' / '_base_' / 'models' / 'nano.py'
    note = _note(model_only)
    assert note.startswith('input size 256x320 (H x W), from the default') and '--shape' in note
