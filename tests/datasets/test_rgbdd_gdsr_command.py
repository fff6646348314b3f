"""The RGB-D-D commands end to end on a folder of real frames: `perception test CONFIG CKPT
--cfg-options test_dataloader.dataset.data_root=DIR` prints one metrics line with the GDSR keys, and
`perception infer` runs on the folder. An untrained GuidedDepthHead returns its input, which is the
bicubic baseline: the two RMSEs must then agree, which checks that input and baseline are made alike."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from perception.datasets.rgbdd import SPLIT_FILE
from perception.paths import REPO_ROOT

pytestmark = pytest.mark.real_data
CONFIG = REPO_ROOT / 'configs' / 'rgbdd' / 'nano_rgbdd_gdsr_x8.py'
PERCEPTION = [sys.executable, '-m', 'perception.cli']


@pytest.fixture(scope='module')
def folder_and_checkpoint(real_root, tmp_path_factory):
    import torch
    from perception.models import build_model, load_config
    tmp = tmp_path_factory.mktemp('rgbdd')
    val = json.loads(SPLIT_FILE.read_text())['val'][:2]
    for sub, suffix in (('rgb', '.jpg'), ('depth', '.png')):
        (tmp / 'frames' / sub).mkdir(parents=True)
        for stem in val:
            shutil.copy(real_root / 'rgbdd' / sub / f'{stem}{suffix}', tmp / 'frames' / sub)
    torch.manual_seed(0)
    model = build_model(load_config(str(CONFIG)).model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp / 'untrained.pth')
    return tmp, val


def _run(args, cwd):
    out = subprocess.run(PERCEPTION + [str(a) for a in args], cwd=cwd, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def test_perception_test_prints_one_line_with_the_gdsr_keys(folder_and_checkpoint):
    tmp, _ = folder_and_checkpoint
    log = _run(['test', CONFIG, tmp / 'untrained.pth', '--work-dir', tmp / 'work',
                '--cfg-options', f'test_dataloader.dataset.data_root={tmp / "frames"}'],
               REPO_ROOT)
    lines = [line for line in log.splitlines() if 'depth/rmse_cm' in line]
    assert len(lines) == 1, log[-3000:]
    values = dict(re.findall(r'(\S+/\S+): (\S+)', lines[0]))
    for key in ('depth/rmse_cm', 'bicubic/rmse_cm', 'depth/AbsRel', 'depth/delta1'):
        assert key in values, lines[0]
    assert values['depth/num_samples'] == '2'
    assert float(values['depth/rmse_cm']) == pytest.approx(float(values['bicubic/rmse_cm']),
                                                           rel=1e-3)


def test_perception_infer_runs_on_the_folder(folder_and_checkpoint):
    tmp, stems = folder_and_checkpoint
    _run(['infer', '--model', CONFIG, '--checkpoint', tmp / 'untrained.pth',
          '--rgb', tmp / 'frames' / 'rgb', '--depth', tmp / 'frames' / 'depth',
          '--depth-encoding', 'uint16_mm', '--out', tmp / 'infer'], REPO_ROOT)
    for stem in stems:
        assert (tmp / 'infer' / f'{stem}_depth.png').is_file()
        assert json.loads((tmp / 'infer' / f'{stem}.json').read_text())['sensors'] == \
            {'rgb': True, 'thermal': False, 'depth': True}
