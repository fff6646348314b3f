# RGB-D-D for guided depth super-resolution (docs/real_rgbd.md): RGB + the depth reduced by
# `rgbdd_scale` in, the full-resolution depth as the target. Names are prefixed so that a config can
# use these next to another dataset's (the mixed run). The real samples: PERCEPTION_REAL_DATA
# (perception.paths), else ../shared/data/real from the repository root. Any folder of the same
# layout can be scored: `perception test CONFIG CKPT --cfg-options
# test_dataloader.dataset.data_root=DIR` (every frame of it that is not a training frame).
rgbdd_scale = 8
rgbdd_root = '{{$PERCEPTION_REAL_DATA:../shared/data/real}}/rgbdd'
rgbdd_crop = (320, 256)  # (W, H) training crops of the 512x384 frames; tests run on whole frames
rgbdd_meta = ('depth_scale', )
rgbdd_train_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=('rgb', 'depth')),
    dict(type='DepthDownsample', scale=rgbdd_scale),   # first: the protocol crops the stored frame
    dict(type='RandomCrop', crop_size=rgbdd_crop),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RGBColorJitter', prob=0.5),
    # No ModalityDropout: with 15 % RGB-only and 15 % depth-only crops (the first recipe) the RGB-only
    # crops' errors of tens of cm dominated the L1 loss (0.065 m against 0.015 m for bicubic) and
    # the residual stayed at its zero start: RMSE = bicubic. Without them it learns (docs/real_rgbd.md).
    dict(type='PackMultiSensorInputs', meta_keys=rgbdd_meta),
]
rgbdd_test_pipeline = [
    dict(type='LoadMultiSensorSample', sensors=('rgb', 'depth')),
    dict(type='DepthDownsample', scale=rgbdd_scale),
    dict(type='PackMultiSensorInputs', meta_keys=rgbdd_meta),
]
# The same pipelines with the sensor model of each benchmark scale (the x4/x8/x16 configs pick one).
rgbdd_train_pipelines = {
    f'x{s}': [dict(step, scale=s) if step['type'] == 'DepthDownsample' else step
              for step in rgbdd_train_pipeline] for s in (4, 8, 16)}
rgbdd_test_pipelines = {
    f'x{s}': [dict(step, scale=s) if step['type'] == 'DepthDownsample' else step
              for step in rgbdd_test_pipeline] for s in (4, 8, 16)}
rgbdd_train_dataset = dict(type='RGBDDDataset', data_root=rgbdd_root, split='train',
                           pipeline=rgbdd_train_pipeline)
rgbdd_val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='RGBDDDataset', data_root=rgbdd_root, split='val',
                 pipeline=rgbdd_test_pipeline))
# scale=None: each frame is scored at the scale its DepthDownsample recorded (depth_scale), so a config
# that changes the sensor model needs no second setting.
rgbdd_evaluator = dict(type='DepthSRMetric', scale=None, log_tables=False)
