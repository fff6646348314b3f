# SUN RGB-D 2D detection (Song et al., CVPR 2015) in mmdetection3d's layout:
# data/sunrgbd/sunrgbd_trainval/{image/*.jpg, label/*.txt, calib/*.txt, depth/*.mat}; 10 classes.
# Depth comes from the upright XYZRGB point cloud projected with the calibration.
dataset_type = 'SUNRGBDDataset'
data_root = 'data/sunrgbd/sunrgbd_trainval'
img_scale = (640, 480)  # (W, H)
# (H, W) of the exported graph and of the PyTorch Predictor: the size the frames are trained and
# tested at (`perception export` prints where its size came from).
input_size = (480, 640)

train_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale, box_aware=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.1, 'depth': 0.15}),
    dict(type='Pad', size=img_scale),
    dict(type='PackMultiSensorInputs'),
]
test_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, resize_targets=False),
    dict(type='PackMultiSensorInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric', tasks=('det', ))
test_evaluator = val_evaluator
