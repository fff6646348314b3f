# Synthetic RGB + thermal + depth scenes (perception/datasets/synthetic): generated on the fly,
# seeded, with seg + box + depth ground truth. Train/val/test come from disjoint seed spaces.
dataset_type = 'SyntheticRGBTDDataset'
img_size = (256, 320)                  # (H, W) of the generated frames
crop_size = (img_size[1], img_size[0])  # transforms take (W, H), as in mmcv/mmdet
# (H, W) of the exported graph and of the PyTorch Predictor (`perception export` prints where its
# size came from). A config that changes img_size sets input_size with it.
input_size = (256, 320)
# Conditions without simulated sensor dropout: `perception test --modality-subsets` evaluates the 7
# sensor subsets on these (a frame whose only kept sensor failed cannot be evaluated).
subset_eval_conditions = ['day', 'night', 'glare', 'fog', 'crossover', 'camouflage', 'depth_holes']

train_pipeline = [
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, box_aware=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    dict(type='DepthNoise', rel_std=(0.0, 0.01), prob=0.3),
    # Modality dropout teaches every sensor subset (the synthetic conditions add night/fog/faults).
    dict(type='ModalityDropout',
         drop_subsets={'rgb': 0.1, 'thermal': 0.1, 'depth': 0.1,
                       'rgb+thermal': 0.05, 'rgb+depth': 0.05, 'thermal+depth': 0.05}),
    dict(type='Pad', size=crop_size),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
test_pipeline = [dict(type='PackMultiSensorInputs', meta_keys=('condition', ))]

train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train', num_samples=100000, img_size=img_size, seed=0,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='val', num_samples=200, img_size=img_size, seed=0,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='test', num_samples=400, img_size=img_size, seed=0,
                 pipeline=test_pipeline))
val_evaluator = dict(type='MultiTaskMetric', tasks=('seg', 'det', 'depth'), group_by=('condition', ))
test_evaluator = val_evaluator
