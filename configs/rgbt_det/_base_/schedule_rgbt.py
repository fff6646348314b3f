# CPU schedule and runtime of the real RGB-thermal recipes (docs/real_rgbt.md): the demo's optimiser
# (AdamW, warm-up, cosine decay to the end) at batch 8 of 512x384 crops; the wall time of each run is
# in docs/real_rgbt.md (the recipe's budget: <= 30 min on 2 cores).
_base_ = ['../../_base_/default_runtime.py']
max_iters = 1200
warmup_iters = 100
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=3e-5, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# One checkpoint, at the end: no best-of selection (the validation frames choose between recipes).
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=100000, max_keep_ckpts=1, save_best=None))
custom_hooks = [dict(type='ProgressBarHook', desc='train')]
