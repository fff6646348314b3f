"""`perception demo --quick`: the README's main command end to end (train -> test -> baselines ->
release checkpoint -> overlays for synthetic and real frames through the Predictor), in miniature."""
import os
import subprocess
import sys

import pytest
import torch


@pytest.mark.real_data
def test_demo_quick_runs_end_to_end(tmp_path, real_root):
    work = tmp_path / 'demo'
    env = dict(os.environ, PERCEPTION_REAL_DATA=str(real_root))
    out = subprocess.run([sys.executable, '-m', 'perception.cli', 'demo', '--quick', '--work-dir',
                          str(work), '--num-overlays', '2'],
                         env=env, capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert '=== demo summary ===' in out.stdout and 'trivial baseline' in out.stdout
    release = torch.load(work / 'nano_demo.pth', weights_only=True)   # shareable: weights only
    assert set(release) == {'state_dict', 'meta'}
    overlays = sorted(p.name for p in (work / 'overlays').iterdir())
    assert sum(n.startswith('synthetic_') for n in overlays) == 2
    for source in ('msrs', 'mfnet', 'nyu_demo', 'redwood'):
        assert any(n.startswith(f'real_{source}_') for n in overlays), (source, overlays)
    assert (work / 'demo_metrics.json').is_file()
