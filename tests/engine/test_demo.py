"""`perception demo`: the README's main command end to end (train -> test -> baselines -> release
checkpoint -> overlays for synthetic and real frames through the Predictor) -- in miniature with
``--quick`` in every run, and as `make demo` runs it, pass thresholds enforced, under ``-m slow``
(`make test-slow`, CI)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from perception.commands import demo

# The demo's pass criteria as docs/demo.md states them: which metrics, and which way is better.
HIGHER_IS_BETTER = {'seg/mIoU': True, 'det/mAP_50': True, 'depth/AbsRel': False,
                    'depth/delta1': True}


def run_demo(work, real_root, *args, timeout):
    env = dict(os.environ, PERCEPTION_REAL_DATA=str(real_root))
    return subprocess.run([sys.executable, '-m', 'perception.cli', 'demo', '--work-dir', str(work),
                           *args], env=env, capture_output=True, text=True, timeout=timeout)


def below_thresholds(work) -> list:
    """The metrics of ``work/demo_metrics.json`` that miss the demo's thresholds."""
    data = json.loads((work / 'demo_metrics.json').read_text())
    assert data['thresholds'] == demo.THRESHOLDS
    assert set(demo.THRESHOLDS) == set(HIGHER_IS_BETTER)
    return [k for k, thr in demo.THRESHOLDS.items()
            if not (data['model'][k] >= thr if HIGHER_IS_BETTER[k] else data['model'][k] <= thr)]


def check_outputs(work, num_overlays):
    release = torch.load(work / 'nano_demo.pth', weights_only=True)   # shareable: weights only
    assert set(release) == {'state_dict', 'meta'}
    overlays = sorted(p.name for p in (work / 'overlays').iterdir())
    assert sum(n.startswith('synthetic_') for n in overlays) == num_overlays
    for source in ('msrs', 'mfnet', 'nyu_demo', 'redwood'):
        assert any(n.startswith(f'real_{source}_') for n in overlays), (source, overlays)


@pytest.mark.real_data
def test_demo_quick_runs_end_to_end(tmp_path, real_root):
    work = tmp_path / 'demo'
    out = run_demo(work, real_root, '--quick', '--num-overlays', '2', timeout=540)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert '=== demo summary ===' in out.stdout and 'trivial baseline' in out.stdout
    check_outputs(work, 2)
    # 4 iterations cannot reach the thresholds: the check the slow test relies on does fail, and
    # --quick reports it without failing
    assert below_thresholds(work), 'a 4-iteration model passed the demo thresholds'
    assert 'below (quick run)' in out.stdout and 'FAILED' not in out.stdout


def test_metrics_below_a_threshold_fail_the_demo(capsys):
    passing = {'seg/mIoU': 0.9, 'det/mAP_50': 0.9, 'depth/AbsRel': 0.01, 'depth/delta1': 0.99}
    assert demo._report(passing, {}, enforce=True) == []
    for key, higher in HIGHER_IS_BETTER.items():
        worse = dict(passing, **{key: demo.THRESHOLDS[key] + (-1e-3 if higher else 1e-3)})
        assert demo._report(worse, {}, enforce=True) == [key]
        assert demo._report(worse, {}, enforce=False) == []      # --quick: reported, not enforced
    assert 'FAIL' in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.timeout(2400)
def test_make_demo_passes_its_thresholds(tmp_path, real_root):
    """What `make demo` runs (``python -m perception.cli demo``, 332 s on 2 cores: docs/demo.md): exit 0 and every
    metric of docs/demo.md at or past its threshold."""
    work = tmp_path / 'demo'
    out = run_demo(work, real_root, timeout=2300)
    print(out.stdout[-3000:])
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert below_thresholds(work) == []
    assert 'FAILED' not in out.stdout
    check_outputs(work, 6)
