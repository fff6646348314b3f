"""DDP on an existing engine: tools/dist_train.sh starts 2 processes (torchrun, gloo on CPU) that train
a few iterations; both ranks must end with bitwise-identical weights. tools/dist_test.sh then scores
the checkpoint on 2 ranks, and one metrics file is written."""
import contextlib
import json
import math
import os
import os.path as osp
import subprocess
import sys

from train_utils import tiny_cfg

from perception.paths import REPO_ROOT


def test_two_process_ddp_on_cpu_ends_with_identical_weights(tmp_path):
    cfg = tiny_cfg(tmp_path / 'work', max_iters=3, batch_size=2)
    cfg.custom_hooks = [dict(type='DDPConsistencyHook'), dict(type='ProcessGroupProbe')]
    cfg.custom_imports = dict(imports=['ddp_probe'], allow_failed_imports=False)
    cfg.env_cfg.mp_cfg = dict(mp_start_method='fork', opencv_num_threads=0)
    config = str(tmp_path / 'ddp_tiny.py')
    cfg.dump(config)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(29500 + os.getpid() % 1000),
               OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(filter(None, [osp.dirname(__file__),
                                                        os.environ.get('PYTHONPATH')])))
    out = subprocess.run(['bash', osp.join(str(REPO_ROOT), 'tools', 'dist_train.sh'), config, '2',
                          '--work-dir', str(tmp_path / 'work')],
                         env=env, capture_output=True, text=True, timeout=540)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    digests = [open(tmp_path / 'work' / f'weights_digest_rank{r}.txt').read().strip()
               for r in (0, 1)]
    assert digests[0] == digests[1] and len(digests[0]) == 64
    assert 'weights identical across 2 rank(s)' in log
    # CPU-only: both ranks train in one gloo process group (not NCCL, not a mixed backend)
    assert 'process group: backend=gloo world_size=2 rank=0' in log, log[-4000:]
    assert 'Iter(train) [3/3]' in log

    # the same checkpoint scored on 2 ranks: each scores its share, rank 0 alone writes the metrics
    checkpoint = tmp_path / 'work' / 'iter_3.pth'
    metrics = tmp_path / 'metrics.json'
    env['PORT'] = str(int(env['PORT']) + 1)
    out = subprocess.run(['bash', osp.join(str(REPO_ROOT), 'tools', 'dist_test.sh'), config,
                          str(checkpoint), '2', '--work-dir', str(tmp_path / 'test'),
                          '--out', str(metrics)],
                         env=env, capture_output=True, text=True, timeout=540)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert log.count('metrics written to') == 1, log[-4000:]
    scores = json.loads(metrics.read_text())['all']
    assert 0.0 <= scores['seg/mIoU'] <= 1.0 and math.isfinite(scores['seg/mIoU'])


def test_the_process_group_is_closed_after_success_and_after_an_error(tmp_path):
    """mmengine opens the group and never closes it; a gloo rank that exits with it open can abort
    (SIGABRT after a successful run, ~1 in 15 runs of the test above before the fix)."""
    import pytest
    import torch.distributed as dist

    from perception.engine.distributed import closing_process_group
    for i, fail in enumerate((False, True)):
        dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store{i}', rank=0,
                                world_size=1)
        with pytest.raises(RuntimeError) if fail else contextlib.nullcontext():
            with closing_process_group():
                assert dist.is_initialized()
                if fail:
                    raise RuntimeError('a rank failed')
        assert not dist.is_initialized()
    with closing_process_group():   # without a group (launcher none): nothing to close
        pass


def test_the_dist_scripts_name_their_arguments_when_one_is_missing():
    for script, args in (('dist_train.sh', ['cfg.py']), ('dist_test.sh', ['cfg.py', 'ckpt.pth']),
                         ('torchrun.sh', ['2'])):
        out = subprocess.run(['bash', osp.join(str(REPO_ROOT), 'tools', script)] + args,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and f'usage: tools/{script}' in out.stderr, out.stderr
