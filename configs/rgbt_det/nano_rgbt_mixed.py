# Real RGB-thermal detection (docs/real_rgbt.md): nano built for RGB + thermal (no depth input),
# trained on the synthetic scenes (all three tasks) mixed with the real MSRS + LLVIP boxes. The
# synthetic classes map onto the real ones in the config (vehicle -> car; animal and obstacle are
# not in the real label sets); each dataset trains only the classes it labels (partial labels:
# LLVIP labels people only, the synthetic scenes have no bicycles). Tested on the MSRS validation
# frames; `perception export` writes a 480x640 graph (input_size).
_base_ = ['../_base_/models/nano.py', '../_base_/datasets/synthetic_rgbtd.py',
          './_base_/rgbt_real_data.py', './_base_/schedule_rgbt.py']
model = dict(sensors=('rgb', 'thermal'), num_classes=dict(seg=8, det=3))
input_size = (480, 640)     # (H, W) of the exported graph and of the PyTorch Predictor
synthetic_det_map = dict(vehicle='car', animal=None, obstacle=None)
synthetic_train_pipeline = [
    dict(type='KeepSensors', sensors=('rgb', 'thermal')),   # the model has no depth input
    # the scenes' 256x320 scale (the synthetic benchmark's), jittered as the demo jitters it
    dict(type='RandomResize', scale=_base_.rgbt_crop, ratio_range=(0.55, 1.1), keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.rgbt_crop, box_aware=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.15, 'thermal': 0.15}),
    dict(type='Pad', size=_base_.rgbt_crop),
    dict(type='PackMultiSensorInputs', meta_keys=('condition', )),
]
synthetic_train_dataset = dict(
    type='SyntheticRGBTDDataset', split='train', num_samples=6000, img_size=(256, 320), seed=0,
    det_classes=_base_.rgbt_det_classes, det_class_map=synthetic_det_map,
    pipeline=synthetic_train_pipeline)
# Each batch: about half synthetic scenes, a third MSRS, a sixth LLVIP (by repeating the real sets)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True, type='ConcatDataset',
        # the synthetic scenes come first: their seg classes are the model's
        ignore_keys=['seg_classes', 'palette', 'dataset_name'],
        datasets=[synthetic_train_dataset,
                  dict(type='RepeatDataset', times=300, dataset=_base_.msrs_train_dataset),
                  dict(type='RepeatDataset', times=22, dataset=_base_.llvip_train_dataset)]))
val_dataloader = dict(_base_.msrs_val_dataloader, _delete_=True)
test_dataloader = val_dataloader
val_evaluator = dict(_base_.rgbt_evaluator, _delete_=True)
test_evaluator = val_evaluator
# the overlays' display threshold: maximises F1 on the validation frames (docs/real_rgbt.md)
display_thr = 0.45
