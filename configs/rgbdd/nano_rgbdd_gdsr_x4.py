# RGB-D-D guided depth super-resolution at x4 (docs/real_rgbd.md): a 128x96 depth sensor next to the 512x384 colour camera.
# Only the sensor model differs from nano_rgbdd_gdsr_x8.py; the metric reads the scale it used.
_base_ = ['./_base_/nano_gdsr.py']
train_dataloader = dict(dataset=dict(pipeline=_base_.rgbdd_train_pipelines['x4']))
test_dataloader = val_dataloader = dict(dataset=dict(pipeline=_base_.rgbdd_test_pipelines['x4']))
