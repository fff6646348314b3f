# NYU Depth v2 (Silberman et al., ECCV 2012), RGB-D: 795 train / 654 test frames, 40 classes (NYU40),
# filled depth as the target and raw depth as the sensor input. Convert the official .mat once into
# the generic layout (docs/data.md): data/nyudv2/{rgb,depth,seg,gt_depth}/<id>.png with a
# dataset.yaml stating `depth: uint16_mm`, and splits/train.txt, splits/test.txt.
dataset_type = 'GenericMultiSensorDataset'
data_root = 'data/nyudv2'
crop_size = (640, 480)  # (W, H)
# (H, W) of the exported graph and of the PyTorch Predictor: the frames as recorded, the size of
# the training crops (`perception export` prints where its size came from).
input_size = (480, 640)

train_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='DepthHoles', prob=0.3),
    dict(type='DepthNoise', rel_std=(0.0, 0.01), prob=0.3),
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.1, 'depth': 0.15}),
    dict(type='Pad', size=crop_size),
    dict(type='PackMultiSensorInputs'),
]
test_pipeline = [dict(type='LoadMultiSensorSample'), dict(type='PackMultiSensorInputs')]
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric', tasks=('seg', 'depth'), depth_max=10.0,
                     depth_average='image')
test_evaluator = val_evaluator
