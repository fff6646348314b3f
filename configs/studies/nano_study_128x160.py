# The evidence studies' shared setting (docs/results.md, `tools/study.py NAME`): the demo's nano model
# on 128x160 synthetic RGB-T-D frames, 500 iterations at batch 8 (~4 min on 2 CPU cores). Each study
# derives its variants (fusion, decoder, tasks, sensors, missingness) from this file in code
# (perception/studies/common.py) so that a variant differs from it in exactly what is studied.
_base_ = ['../demo/nano_synthetic_demo.py']

img_size = (128, 160)                   # (H, W)
crop_size = (img_size[1], img_size[0])  # (W, H) for the transforms
train_pipeline = [
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, box_aware=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    dict(type='DepthNoise', rel_std=(0.0, 0.01), prob=0.3),
    dict(type='ModalityDropout',
         drop_subsets={'rgb': 0.1, 'thermal': 0.1, 'depth': 0.1,
                       'rgb+thermal': 0.05, 'rgb+depth': 0.05, 'thermal+depth': 0.05}),
    dict(type='Pad', size=crop_size),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
train_dataloader = dict(dataset=dict(img_size=img_size, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(img_size=img_size))
test_dataloader = dict(dataset=dict(img_size=img_size, num_samples=280))

max_iters = 500
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=3e-5, by_epoch=False,
         begin=100, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
custom_hooks = []
