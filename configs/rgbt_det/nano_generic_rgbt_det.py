# An RGB-thermal robot's own box data in the generic layout (docs/data.md): folders with rgb/,
# thermal/ and COCO boxes, no depth anywhere -- here the real MSRS and LLVIP pairs written by
# `python tools/rgbt_det_to_generic.py --out data/rgbt_generic` (MSRS: person, bicycle, car; LLVIP:
# person only). nano built for RGB + thermal, detection only, 700 iterations at 512x384 crops: the
# setting of issue 29, which now exports (its graph has no depth input) and runs through
# `perception test --modality-subsets` (RGB, thermal, RGB+T) and `perception infer`.
_base_ = ['../_base_/models/nano.py', './_base_/schedule_rgbt.py']
generic_root = 'data/rgbt_generic'
det_classes = ('person', 'bicycle', 'car')
crop = (512, 384)
model = dict(sensors=('rgb', 'thermal'), tasks=('det', ), num_classes=dict(seg=0, det=3),
             sensor_aux=None,
             task_weighting=dict(_delete_=True, type='FixedTaskWeighting', weights=dict(det=1.0)))
input_size = (480, 640)
train_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='RandomResize', scale=(640, 480), ratio_range=(0.8, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop, box_aware=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.15, 'thermal': 0.15}),
    dict(type='Pad', size=crop),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
test_pipeline = [
    dict(type='LoadMultiSensorSample'),
    dict(type='Resize', scale=(640, 480), keep_ratio=True, resize_targets=False),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
# LLVIP labels people only: mapped onto the model's classes, its frames train only 'person'
_msrs = dict(type='GenericMultiSensorDataset', data_root=generic_root + '/msrs', split='train',
             det_classes=det_classes, pipeline=train_pipeline)
_llvip = dict(type='GenericMultiSensorDataset', data_root=generic_root + '/llvip', split='train',
              det_classes=det_classes, pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', ignore_keys=['seg_classes', 'palette', 'dataset_name'],
                 datasets=[dict(type='RepeatDataset', times=20, dataset=_msrs),
                           dict(type='RepeatDataset', times=2, dataset=_llvip)]))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='GenericMultiSensorDataset', data_root=generic_root + '/msrs', split='val',
                 det_classes=det_classes, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric', tasks=('det', ), group_by=('condition', ),
                     det_classwise=True)
test_evaluator = val_evaluator
max_iters = 700
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, eta_min=3e-5, by_epoch=False,
         begin=100, end=max_iters),
]
