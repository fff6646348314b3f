# nano with GuidedDepthHead (perception/models/heads/guided_depth.py): the depth task starts from
# the depth sensor's own reading at full resolution and corrects it with the colour image; without
# a depth input it answers from the image alone. Shared by every config of this folder.
_base_ = ['../../_base_/models/nano.py']
# The per-sensor auxiliary heads that nano gained in d019c89 are left out: the RGB-D-D results
# (docs/real_rgbd.md) were measured without them.
model = dict(heads=dict(depth=dict(_delete_=True, type='GuidedDepthHead', channels=32, num_convs=1,
                                   guide_channels=8, fine_channels=16,
                                   losses=[dict(type='DepthL1Loss')])),
             sensor_aux=None)
