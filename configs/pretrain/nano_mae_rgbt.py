# Masked multi-sensor pretraining (MultiMAE-style; docs/pretraining.md) of the RGB-thermal nano: the
# encoders and fusion of configs/rgbt_det/nano_rgbt_mixed.py (nano built for rgb + thermal), trained
# to reconstruct the hidden patches of each sensor from what is left of both, on unlabelled frames:
# the real RGB-thermal pixels of ../shared/data/real (LLVIP's unlabelled test pairs and its training
# frames, the MSRS training frames, RoadScene, MFNet; never the MSRS validation frames of
# docs/real_rgbt.md, which are held out here too) and the synthetic scenes without their labels.
#   perception pretrain configs/pretrain/nano_mae_rgbt.py
#   perception train configs/rgbt_det/nano_rgbt_mixed.py \
#       --cfg-options load_from=work_dirs/nano_mae_rgbt/pretrained_encoders.pth
# Budget: 12.3 minutes on 2 cores, measured (goal <= 30): 1200 iterations of batch 8 of 448x320
# crops, bf16, in 738 s with start-up, held-out frames and figure (2026-12-06, Intel Xeon, nothing
# else running; docs/pretraining.md).
_base_ = ['../_base_/models/nano.py', './_base_/mae_schedule.py',
          '../rgbt_det/_base_/rgbt_real_data.py']
sensors = ('rgb', 'thermal')
model = dict(
    _delete_=True, type='MaskedMultiSensorAutoencoder', sensors=sensors,
    data_preprocessor=_base_.model.data_preprocessor,
    encoder=_base_.model.encoder, fusion=_base_.model.fusion,
    decoder=dict(type='ReconstructionDecoder', channels=32),
    patch_size=16, mask_ratio=(0.6, 0.9), dirichlet_alpha=1.0)
crop = (448, 320)          # (W, H) training crops: the fine-tuning recipe's (rgbt_det)
input_size = (320, 448)    # (H, W): the crops (an export reads it; nothing exports this model)
real_root = '{{$PERCEPTION_REAL_DATA:../shared/data/real}}'

# What `perception pretrain --folders/--bags` reads frames with (perception/commands/pretrain.py)
unlabelled_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=sensors, with_targets=False),
    dict(type='RandomResize', scale=crop, ratio_range=(0.8, 1.6), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=crop),
    dict(type='PackMultiSensorInputs'),
]
held_out_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=sensors, with_targets=False),
    dict(type='Resize', scale=crop, keep_ratio=True),
    dict(type='PackMultiSensorInputs'),
]
synthetic_pipeline = [dict(type='DropTargets'), dict(type='KeepSensors', sensors=sensors),
                      *unlabelled_pipeline[1:]]
# One batch: about 60 % synthetic scenes, 40 % real frames. The real frames (173) are repeated by
# how much they teach per decoded pixel: LLVIP's 1280x1024 JPEGs cost 10x an MSRS frame to decode
# and its 90 training frames are consecutive frames of one street, so they are repeated least.
real_frames = [   # (dataset, times repeated)
    (dict(type='LLVIPDataset', data_root=real_root + '/rgbt_det/llvip', split='test',
          ann_dir=None), 20),
    (dict(type='LLVIPDataset', data_root=real_root + '/rgbt_det/llvip', split='train',
          ids=_base_.llvip_train_ids, ann_dir=None), 10),
    (dict(type='MSRSDataset', data_root=real_root + '/rgbt_det/msrs', ids=_base_.msrs_train_ids),
     80),
    (dict(type='RoadSceneDataset', data_root=real_root + '/msrs_roadscene/RoadScene'), 50),
    (dict(type='MFNetDataset', data_root=real_root + '/mfnet_rgbt'), 100),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset', ignore_keys=['seg_classes', 'det_classes', 'palette',
                                           'dataset_name'],
        datasets=[dict(type='SyntheticRGBTDDataset', split='train', num_samples=6000,
                       img_size=(256, 320), seed=0, pipeline=synthetic_pipeline),
                  *[dict(type='RepeatDataset', times=times,
                         dataset=dict(frames, pipeline=unlabelled_pipeline))
                    for frames, times in real_frames]]))
# Held out: the MSRS validation frames (night and day alternating: the figure draws the first 4)
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MSRSDataset', data_root=real_root + '/rgbt_det/msrs',
                 ids=['00036N', '00099D', '00047N', '00107D', '00040N', '00103D', '00051N'],
                 pipeline=held_out_pipeline))
test_dataloader = val_dataloader
