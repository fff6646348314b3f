# nano on SUN RGB-D: RGB-D 2D object detection (mmdetection3d's 10 classes).
_base_ = [
    '../_base_/models/nano.py', '../_base_/datasets/sunrgbd_rgbd.py',
    '../_base_/schedules/schedule_20k.py', '../_base_/default_runtime.py'
]
model = dict(sensors=('rgb', 'depth'), tasks=('det', ), num_classes=dict(seg=0, det=10),
             task_weighting=dict(_delete_=True, type='FixedTaskWeighting',
                                 weights=dict(det=1.0)))
