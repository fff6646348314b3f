# base (MiT encoders, wider fusion/decoder), all three sensors and tasks, for GPU training.
_base_ = [
    '../_base_/models/base.py', '../_base_/datasets/synthetic_rgbtd.py',
    '../_base_/schedules/schedule_20k.py', '../_base_/default_runtime.py'
]
model = dict(num_classes=dict(seg=8, det=4))
optim_wrapper = dict(optimizer=dict(lr=6e-4))
train_dataloader = dict(batch_size=16, num_workers=8)
