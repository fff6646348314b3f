# The README's `make demo`: nano on on-the-fly synthetic RGB-T-D scenes, CPU-sized.
_base_ = [
    '../_base_/models/nano.py', '../_base_/datasets/synthetic_rgbtd.py',
    '../_base_/schedules/schedule_demo.py', '../_base_/default_runtime.py'
]
model = dict(num_classes=dict(seg=8, det=4))
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=500, max_keep_ckpts=1, save_best=None))
custom_hooks = [dict(type='ProgressBarHook', desc='demo training')]
