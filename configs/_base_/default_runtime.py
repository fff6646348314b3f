# Runtime shared by every experiment (mmseg's default_runtime, for the `perception` scope).
default_scope = 'perception'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo on CPU-only machines
)
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False, window_size=20)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2,
                    save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

# Numeric precision of training and PyTorch inference (perception/engine/precision.py):
# 'auto' = bf16 autocast where the CPU has native bf16 (AVX-512 BF16 / AMX; printed at start),
# fp32 elsewhere; 'bf16' / 'fp32' force one (`perception train --amp` / `--fp32`). Measured on the
# demo (docs/training.md): bf16 kept the accuracy of fp32 and trained 1.38x faster per step.
precision = 'auto'
channels_last = False
