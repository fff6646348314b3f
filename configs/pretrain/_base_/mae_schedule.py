# Runtime of masked multi-sensor pretraining (docs/pretraining.md): the CPU schedule of the
# RGB-thermal recipes it feeds (configs/rgbt_det/_base_/schedule_rgbt.py: 1200 iterations, warm-up,
# cosine decay to the end, one checkpoint at the end) with MAE's optimiser settings (AdamW betas
# (0.9, 0.95), weight decay 0.05); the held-out frames scored (ReconstructionMetric) and drawn at
# the end, the encoder + fusion weights written after training (work_dir/pretrained_encoders.pth).
_base_ = ['../../rgbt_det/_base_/schedule_rgbt.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05))
val_evaluator = dict(type='ReconstructionMetric')
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='ProgressBarHook', desc='pretrain'),
    dict(type='PretrainedWeightsHook', filename='pretrained_encoders.pth'),
    dict(type='ReconstructionFigureHook', num_frames=4, filename='reconstruction.png'),
]
