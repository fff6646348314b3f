# Real RGB-thermal boxes (../shared/data/real/rgbt_det; provenance in its README.md): MSRS road scenes
# (YOLO labels drawn on the infrared image: person, bicycle, car; day and night) and LLVIP pedestrians
# at night (VOC, person only). Names are prefixed so that a config can use these next to the
# synthetic scenes' (the mixed recipe).
#
# Split (docs/real_rgbt.md, "Validation split"): frames are numbered in capture order, so the last
# third of each kind is held out as one block, not interleaved with its neighbours:
#   MSRS  validation: the last 4 night frames (00036N-00051N) and the last 3 day frames
#         (00099D-00107D): 27 people; training: the other 13 frames (66 people).
#   LLVIP validation: pairs 010041-010050 (44 people); training: pairs 010001-010040 and the 50
#         thermal-only frames 010051-010100. All LLVIP frames show ONE street scene: its validation
#         tests the same camera and background, not a new place.
# The MSRS validation set is "every frame that is not a training frame" (exclude_ids), so that any
# folder of the MSRS layout (vi/, ir/, labels/) is scored with `perception test CONFIG CKPT
# --cfg-options test_dataloader.dataset.data_root=DIR`: every frame of it but the 13 above.
rgbt_root = '{{$PERCEPTION_REAL_DATA:../shared/data/real}}/rgbt_det'
rgbt_det_classes = ('person', 'bicycle', 'car')
msrs_val_ids = ['00036N', '00040N', '00047N', '00051N', '00099D', '00103D', '00107D']
msrs_train_ids = ['00004N', '00008N', '00012N', '00016N', '00020N', '00024N', '00028N', '00032N',
                  '00055D', '00081D', '00085D', '00091D', '00095D']
llvip_train_ids = [f'{i:06d}' for i in range(10001, 10041)] + \
    [f'{i:06d}' for i in range(10051, 10101)]
llvip_val_ids = [f'{i:06d}' for i in range(10041, 10051)]

rgbt_crop = (448, 320)          # (W, H) training crops: MSRS people are 12-277 px tall (median 41)
rgbt_test_size = (640, 480)     # (W, H) the network size at test time: MSRS's own frames
rgbt_meta = ('condition', )
_photometric = [
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    dict(type='ThermalGainOffsetNoise', prob=0.5),
    # RGB alone and thermal alone, so that each single sensor and the pair are all trained
    dict(type='ModalityDropout', drop_subsets={'rgb': 0.15, 'thermal': 0.15}),
    dict(type='Pad', size=rgbt_crop),
    dict(type='PackMultiSensorInputs', meta_keys=rgbt_meta),
]
msrs_train_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=('rgb', 'thermal')),
    dict(type='RandomResize', scale=rgbt_test_size, ratio_range=(0.8, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=rgbt_crop, box_aware=True),
    *_photometric,
]
# LLVIP's 1280x1024 frames show people ~230 px tall: bring them to MSRS's scale first
llvip_train_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=('rgb', 'thermal')),
    dict(type='RandomResize', scale=(400, 320), ratio_range=(0.8, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=rgbt_crop, box_aware=True),
    *_photometric,
]
rgbt_test_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=('rgb', 'thermal')),
    # the boxes stay in the frame's own coordinates, where the predictions are scored
    dict(type='Resize', scale=rgbt_test_size, keep_ratio=True, resize_targets=False),
    dict(type='PackMultiSensorInputs', meta_keys=rgbt_meta),
]
msrs_train_dataset = dict(type='MSRSDetDataset', data_root=rgbt_root + '/msrs', ids=msrs_train_ids,
                          det_classes=rgbt_det_classes, pipeline=msrs_train_pipeline)
llvip_train_dataset = dict(type='LLVIPDataset', data_root=rgbt_root + '/llvip', split='train',
                           ids=llvip_train_ids, det_classes=rgbt_det_classes,
                           pipeline=llvip_train_pipeline)
msrs_val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MSRSDetDataset', data_root=rgbt_root + '/msrs',
                 exclude_ids=msrs_train_ids, det_classes=rgbt_det_classes,
                 pipeline=rgbt_test_pipeline))
llvip_val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LLVIPDataset', data_root=rgbt_root + '/llvip', split='train',
                 ids=llvip_val_ids, det_classes=rgbt_det_classes, pipeline=rgbt_test_pipeline))
# det/mAP_50, det/person/AP_50 and the same @night / @day (the frame names' N / D)
rgbt_evaluator = dict(type='MultiTaskMetric', tasks=('det', ), group_by=('condition', ),
                      det_classwise=True)
