# The synthetic-only model of the mixed-training comparison (docs/real_rgbd.md): the demo's data
# (synthetic RGB-T-D scenes, all three tasks, all sensors) with GuidedDepthHead and this folder's
# 1000-iteration schedule -- the same model and recipe as nano_mixed_synthetic_rgbdd_x8.py.
_base_ = ['./_base_/nano_guided.py', '../_base_/datasets/synthetic_rgbtd.py',
          './_base_/schedule_1000.py', '../_base_/default_runtime.py']
model = dict(num_classes=dict(seg=8, det=4))
# Data made in the training process: faster than a loader worker on 2 cores (docs/training.md).
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
# One checkpoint, at the end (the configs say what they compare; no best-of selection on val).
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=100000, max_keep_ckpts=1, save_best=None))
