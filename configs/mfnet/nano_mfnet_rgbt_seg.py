# nano on MFNet: RGB-thermal semantic segmentation (seg head only).
_base_ = [
    '../_base_/models/nano.py', '../_base_/datasets/mfnet_rgbt.py',
    '../_base_/schedules/schedule_20k.py', '../_base_/default_runtime.py'
]
model = dict(sensors=('rgb', 'thermal'), tasks=('seg', ), num_classes=dict(seg=9, det=0),
             task_weighting=dict(_delete_=True, type='FixedTaskWeighting',
                                 weights=dict(seg=1.0)))
