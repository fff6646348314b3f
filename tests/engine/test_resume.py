"""Resume: a run interrupted after a checkpoint and continued with ``resume`` (in process, and with
``perception train --resume`` on the command line) ends exactly where the uninterrupted run ends --
with the demo's own training recipe: random resize/crop/flip, photometric noise and modality dropout
in the data, warm-up then cosine decay in the learning rate, bf16 autocast where the CPU has it.

Bit-exact: the losses and learning rates logged after the resume point, every weight, every buffer
and the optimizer's moments are compared with ``==``, no tolerance. This holds on CPU because every
random draw of the pipeline comes from NumPy's global generator, which mmengine re-seeds at start-up
and advances by replaying the skipped batches; a step that drew from another generator, or a
scheduler or optimizer state left out of the checkpoint, would show here as a difference.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.runner import Runner
from train_utils import tiny_cfg, with_real_training_recipe

from perception.engine.config import runner_config
from perception.models.checkpoint import load_checkpoint_file

WARMUP, ITERS, STOP = 2, 6, 3      # interrupted after iteration 3: in the cosine part of the schedule
TIMING = {'time', 'data_time', 'eta', 'memory'}


@pytest.fixture(scope='module')
def config(tmp_path_factory) -> str:
    """The recipe as a file that every run below reads (in process and on the command line).

    One file, because ``Config.dump`` writes dict keys sorted, and ModalityDropout draws its
    patterns in ``drop_subsets`` order: the dumped recipe trains on other draws than the object."""
    cfg = with_real_training_recipe(tiny_cfg('unused', max_iters=ITERS), WARMUP, ITERS)
    cfg.default_hooks.checkpoint.interval = STOP
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None     # as the demo: no validation
    path = tmp_path_factory.mktemp('resume') / 'recipe.py'
    cfg.dump(str(path))
    return str(path)


def train(config: str, work_dir: Path, max_iters: int = ITERS, resume: bool = False) -> Runner:
    """``max_iters`` < ITERS: a run "interrupted" there (the schedule still spans ITERS)."""
    cfg = runner_config(config, {'train_cfg.max_iters': max_iters}, str(work_dir))
    cfg.experiment_name = work_dir.name      # one message hub per run, even within one second
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def log_lengths(work_dir: Path) -> dict:
    """{scalars.json of each run in work_dir: its number of lines}, to tell a later run's records
    from the ones already there."""
    return {log: len(log.read_text().splitlines())
            for log in work_dir.glob('*/vis_data/scalars.json')}


def logged_steps(work_dir: Path, before: dict | None = None):
    """{step: the training scalars logged at that iteration (losses, learning rate), timings left
    out}, over every run in work_dir; with ``before`` (``log_lengths`` taken earlier), only the
    records written since."""
    steps = {}
    for log in sorted(work_dir.glob('*/vis_data/scalars.json')):
        lines = log.read_text().splitlines()[(before or {}).get(log, 0):]
        for rec in map(json.loads, lines):
            if 'loss' in rec:
                steps[rec['step']] = {k: v for k, v in rec.items() if k not in TIMING}
    return steps


def assert_same_state(reference: dict, other: dict, what: str):
    assert reference.keys() == other.keys(), what
    for name, value in reference.items():
        if torch.is_tensor(value):
            assert value.dtype == other[name].dtype and torch.equal(value, other[name]), (what, name)
        elif isinstance(value, dict):
            assert_same_state(value, other[name], f'{what}.{name}')
        else:
            assert value == other[name], (what, name)


@pytest.fixture(scope='module')
def straight(tmp_path_factory, config):
    work = tmp_path_factory.mktemp('resume') / 'straight'
    runner = train(config, work)
    pipeline = [t['type'] for t in runner.cfg.train_dataloader.dataset.pipeline]
    assert {'RandomResize', 'RandomCrop', 'RandomFlip', 'ModalityDropout'} <= set(pipeline)
    steps = logged_steps(work)
    assert sorted(steps) == list(range(1, ITERS + 1))
    lrs = [steps[s]['lr'] for s in sorted(steps)]
    assert lrs[0] < lrs[WARMUP] and lrs[WARMUP] > lrs[-1]    # the warm-up rises, the cosine decays
    return dict(work=work, steps=steps, model=runner.model.state_dict(),
                optim=runner.optim_wrapper.state_dict())


@pytest.fixture(scope='module')
def interrupted(tmp_path_factory, config):
    """A run of the same recipe stopped after iteration STOP (its last checkpoint: iter_STOP.pth)."""
    work = tmp_path_factory.mktemp('resume') / 'interrupted'
    train(config, work, max_iters=STOP)
    assert (work / f'iter_{STOP}.pth').is_file()
    return work


def check_continuation(straight, work: Path, state_dict: dict, before: dict):
    """``before``: the logs of the interrupted run (``log_lengths`` before resuming). The resumed run
    itself must log iterations STOP + 1 .. ITERS and nothing earlier: a run that ignored ``resume``
    would train from scratch and, with the fixed seed, could end at the same weights."""
    assert before, 'the interrupted run left no log to resume after'
    assert sorted(logged_steps(work, before)) == list(range(STOP + 1, ITERS + 1))
    steps = logged_steps(work)
    assert sorted(steps) == list(range(1, ITERS + 1))
    for step in range(STOP + 1, ITERS + 1):      # what the resumed run logged
        assert steps[step] == straight['steps'][step], step
    assert_same_state(straight['model'], state_dict, 'model')


def test_resume_in_process_is_bit_exact(config, straight, interrupted, tmp_path):
    work = tmp_path / 'resumed'
    shutil.copytree(interrupted, work)
    before = log_lengths(work)
    runner = train(config, work, resume=True)
    assert runner.iter == ITERS
    check_continuation(straight, work, runner.model.state_dict(), before)
    assert_same_state(straight['optim'], runner.optim_wrapper.state_dict(), 'optimizer')


def test_resume_on_the_command_line_is_bit_exact(config, straight, interrupted, tmp_path):
    """``perception train CONFIG --work-dir DIR --resume``: the latest checkpoint of DIR."""
    work = tmp_path / 'resumed_cli'
    shutil.copytree(interrupted, work)
    before = log_lengths(work)
    out = subprocess.run([sys.executable, '-m', 'perception.cli', 'train', config,
                          '--work-dir', str(work), '--resume'],
                         capture_output=True, text=True, timeout=400, env=dict(os.environ))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert f'resumed epoch: 0, iter: {STOP}' in log, log[-4000:]
    final = load_checkpoint_file(str(work / f'iter_{ITERS}.pth'))
    check_continuation(straight, work, final['state_dict'], before)
    assert_same_state(straight['optim'], final['optimizer'], 'optimizer')
