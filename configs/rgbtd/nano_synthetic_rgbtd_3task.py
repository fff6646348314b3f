# nano, all three sensors and all three tasks on the synthetic scenes, full (GPU-scale) schedule.
_base_ = [
    '../_base_/models/nano.py', '../_base_/datasets/synthetic_rgbtd.py',
    '../_base_/schedules/schedule_20k.py', '../_base_/default_runtime.py'
]
model = dict(num_classes=dict(seg=8, det=4))
train_dataloader = dict(batch_size=16, num_workers=8)
