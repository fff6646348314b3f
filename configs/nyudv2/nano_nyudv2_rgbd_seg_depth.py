# nano on NYU Depth v2: RGB-D segmentation (NYU40) + dense depth.
_base_ = [
    '../_base_/models/nano.py', '../_base_/datasets/nyudv2_rgbd.py',
    '../_base_/schedules/schedule_20k.py', '../_base_/default_runtime.py'
]
model = dict(sensors=('rgb', 'depth'), tasks=('seg', 'depth'), num_classes=dict(seg=40, det=0),
             task_weighting=dict(_delete_=True, type='FixedTaskWeighting',
                                 weights=dict(seg=1.0, depth=1.0)))
