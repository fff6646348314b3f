# The README's `make demo`: nano on on-the-fly synthetic RGB-T-D scenes, CPU-sized.
_base_ = [
    '../_base_/models/nano.py', '../_base_/datasets/synthetic_rgbtd.py',
    '../_base_/schedules/schedule_demo.py', '../_base_/default_runtime.py'
]
model = dict(num_classes=dict(seg=8, det=4))
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=100000, max_keep_ckpts=1, save_best=None))
# Measured on 2 cores (docs/training.md): a loader worker process beside the 2-thread training step
# slows the step by more than the data takes to make, so the data is made in the training process.
train_dataloader = dict(num_workers=0, persistent_workers=False)
custom_hooks = [dict(type='ProgressBarHook', desc='demo training')]
