"""`perception test CONFIG CKPT --modality-subsets`: one evaluation per non-empty sensor subset."""
import json
import os
import subprocess
import sys

from mmengine.runner import Runner
from train_utils import tiny_cfg


def test_modality_subsets_table(tmp_path):
    cfg = tiny_cfg(tmp_path / 'work', max_iters=2)
    Runner.from_cfg(cfg).train()
    config = str(tmp_path / 'tiny.py')
    cfg.dump(config)
    out_json = tmp_path / 'metrics.json'
    out = subprocess.run([sys.executable, 'tools/test.py', config, str(tmp_path / 'work' / 'iter_2.pth'),
                          '--modality-subsets', '--work-dir', str(tmp_path / 'test'),
                          '--out', str(out_json)],
                         capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    metrics = json.loads(out_json.read_text())
    assert sorted(metrics) == sorted(['rgb+thermal+depth', 'rgb+thermal', 'rgb+depth',
                                      'thermal+depth', 'rgb', 'thermal', 'depth'])
    for subset, values in metrics.items():
        assert 0.0 <= values['seg/mIoU'] <= 1.0 and values['depth/AbsRel'] >= 0.0, subset
    for subset in metrics:   # the printed table has one row per subset
        assert any(line.split('|')[1].strip() == subset for line in out.stdout.splitlines()
                   if line.count('|') > 2), subset
