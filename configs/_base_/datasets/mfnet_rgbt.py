# MFNet RGB-thermal semantic segmentation (Ha et al., IROS 2017): 1569 frames, 480x640, 9 classes.
# Layout of the public release: data/MFNet/{images,labels}/<id>.png (images are 4-channel RGB+T),
# train.txt / val.txt / test.txt. Depth is absent (modality mask 0) on every frame.
dataset_type = 'MFNetDataset'
data_root = 'data/MFNet'
crop_size = (640, 480)  # (W, H)
# (H, W) of the exported graph and of the PyTorch Predictor: the frames as recorded, the size of
# the training crops (`perception export` prints where its size came from).
input_size = (480, 640)

train_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='LowLightSimulation', prob=0.1),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.15, 'thermal': 0.1}),
    dict(type='Pad', size=crop_size),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
test_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
_split = dict(type=dataset_type, data_root=data_root, img_dir='images', label_dir='labels')
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_split, split_file='train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_split, split_file='val.txt', pipeline=test_pipeline))
test_dataloader = dict(val_dataloader, dataset=dict(_split, split_file='test.txt',
                                                    pipeline=test_pipeline))
val_evaluator = dict(type='MultiTaskMetric', tasks=('seg', ), group_by=('condition', ))
test_evaluator = val_evaluator
