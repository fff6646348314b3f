# RGB-D-D guided depth super-resolution at x16 (docs/real_rgbd.md): a 32x24 depth sensor, the hardest of the three scales.
# Only the sensor model differs from nano_rgbdd_gdsr_x8.py; the metric reads the scale it used.
_base_ = ['./_base_/nano_gdsr.py']
train_dataloader = dict(dataset=dict(pipeline=_base_.rgbdd_train_pipelines['x16']))
test_dataloader = val_dataloader = dict(dataset=dict(pipeline=_base_.rgbdd_test_pipelines['x16']))
