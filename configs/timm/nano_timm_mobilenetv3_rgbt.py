# nano for real RGB-thermal detection (configs/rgbt_det/nano_rgbt_mixed.py: RGB + thermal, the same
# data, schedule and heads) with timm's MobileNetV3-Large as each sensor's encoder, started from
# ImageNet weights in a LOCAL file; the thermal encoder's first layer is the pretrained RGB filters
# summed over the colour channels. Needs timm: `pip install timm`, with a torchvision built for the
# installed torch. The weights file, once, where there is internet:
#   python -c "import timm, torch; torch.save(timm.create_model('mobilenetv3_large_100',
#              pretrained=True).state_dict(), 'checkpoints/mobilenetv3_large_100.pth')"
# (or pretrained=True in place of checkpoint: timm's own source, read when training starts).
# The weights load when training starts: exporting or running the trained model needs no file.
_base_ = ['../rgbt_det/nano_rgbt_mixed.py']
model = dict(encoder=dict(
    backbone=dict(_delete_=True, type='TimmEncoder', model_name='mobilenetv3_large_100',
                  checkpoint='checkpoints/mobilenetv3_large_100.pth'),
    sensor_overrides=None))   # nano's per-sensor RepNet archs do not apply
