"""Shared by tests/pretrain: tiny pretraining configs derived from the shipped one, synthetic frames
in the generic layout, the ``perception`` command in a subprocess, and the encoder + fusion tensors
of a model (what pretraining hands on)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from perception.contract import SENSORS
from perception.paths import REPO_ROOT

SHIPPED = REPO_ROOT / 'configs' / 'pretrain' / 'nano_mae_rgbt.py'
RGBT_MIXED = REPO_ROOT / 'configs' / 'rgbt_det' / 'nano_rgbt_mixed.py'
DEMO = REPO_ROOT / 'configs' / 'demo' / 'nano_synthetic_demo.py'
TINY = (64, 96)   # (H, W): 4 x 6 patches of 16 px
TRANSFERRED = ('encoder.', 'fusion.')

TINY_CONFIG = '''
_base_ = [{base!r}]
sensors = {sensors!r}
model = dict(sensors=sensors)
unlabelled_pipeline = [dict(type='LoadMultiSensorSample', sensors=sensors, with_targets=False),
                       dict(type='PackMultiSensorInputs')]
held_out_pipeline = unlabelled_pipeline
synthetic_unlabelled = [dict(type='DropTargets'), dict(type='KeepSensors', sensors=sensors),
              dict(type='PackMultiSensorInputs')]
train_dataloader = dict(batch_size=2, dataset=dict(
    _delete_=True, type='SyntheticRGBTDDataset', split='train', num_samples=16,
    img_size={size!r}, pipeline=synthetic_unlabelled))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='SyntheticRGBTDDataset', split='val', num_samples=2, img_size={size!r},
    pipeline=synthetic_unlabelled))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(logger=dict(interval=1))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])
precision = 'fp32'
'''


def tiny_config(path, sensors=('rgb', 'thermal'), iters=3, extra='') -> Path:
    """A pretraining config: the shipped one on tiny synthetic frames, ``iters`` iterations."""
    path = Path(path)
    path.write_text(TINY_CONFIG.format(base=str(SHIPPED), sensors=tuple(sensors), size=TINY,
                                       iters=iters) + extra)
    return path


def run_perception(*args, timeout=600):
    """``perception ARGS`` in a subprocess, as a user runs it (the venv's console script)."""
    script = Path(sys.executable).parent / 'perception'
    command = [str(script)] if script.is_file() else [sys.executable, '-m', 'perception.cli']
    env = {k: v for k, v in os.environ.items() if k != 'PERCEPTION_DEBUG'}
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT, timeout=timeout)


def write_synthetic_folder(root, subsets, seed=7):
    """A generic-layout folder of synthetic frames without labels, frame ``i`` with the sensors of
    ``subsets[i]``."""
    from perception.datasets import GenericLayoutWriter
    from perception.datasets.synthetic import generate_sample
    with GenericLayoutWriter(root, dict(name=Path(root).name)) as writer:
        for i, keep in enumerate(subsets):
            s = generate_sample(i, seed=seed, split='train', img_size=TINY, conditions=['day'])
            sample = {k: (s[k] if k in keep else None) for k in SENSORS}
            sample['modality_mask'] = np.array([k in keep for k in SENSORS])
            writer.write(f'{i:03d}', sample)
    return Path(root)


def transferred(state):
    """The encoder + fusion tensors of a state dict."""
    return {k: v for k, v in state.items() if k.startswith(TRANSFERRED)}
