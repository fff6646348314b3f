# base: the GPU-training size. SegFormer's MixVisionTransformer (mmseg) per sensor: MiT-B2 for RGB,
# MiT-B0 for thermal and depth; wider fusion/decoder/heads than nano. Figures in docs/model.md.
# Pretrained ImageNet weights load from a LOCAL file through init_cfg (nothing downloads), e.g. in a
# child config:
#   mit_b0_imagenet = dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mit_b0.pth'))
#   model = dict(encoder=dict(sensor_overrides=dict(
#       rgb=dict(init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mit_b2.pth')),
#       thermal=mit_b0_imagenet, depth=mit_b0_imagenet)))
# (SegFormer's ImageNet MiT weights in mmseg's keys: mmseg's tools/model_converters/mit2mmseg.py).
# A 3-channel checkpoint also loads into the 1-channel thermal and depth encoders: their first patch
# embedding (layers.0.0.projection) becomes the pretrained filters summed over the colour channels
# (perception.models.encoders.input_adaptation), and one log line says so.
# The caller sets default_scope = 'perception'.
norm_cfg = dict(type='BN')
widths = (64, 128, 192, 256)  # fused / decoder width at strides 4, 8, 16, 32
mit_b0 = dict(type='mmseg.MixVisionTransformer', embed_dims=32, num_stages=4,
              num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8], patch_sizes=[7, 3, 3, 3],
              sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True,
              drop_path_rate=0.1)
mit_b2 = dict(mit_b0, embed_dims=64, num_layers=[3, 4, 6, 3])

model = dict(
    type='MultiTaskPerceptor',
    tasks=('seg', 'det', 'depth'),
    num_classes=dict(seg=8, det=4),  # the synthetic scenes (perception.datasets.synthetic)
    data_preprocessor=dict(type='MultiSensorDataPreprocessor', size_divisor=32),
    encoder=dict(
        type='MultiSensorEncoder',
        backbone=mit_b0,
        sensor_overrides=dict(rgb=mit_b2),
        share_weights=False),
    fusion=dict(type='AttentionFusion', channels=widths, cross_attention_levels=(2, 3),
                num_heads=4, norm_cfg=norm_cfg),
    decoder=dict(type='TaskExpertDecoder', num_experts=6, expert_levels=(0, 1, 2, 3),
                 expert_kernel=1, gate_channels=32, balance_weight=0.01, norm_cfg=norm_cfg),
    heads=dict(
        seg=dict(
            type='SegHead',
            head=dict(type='mmseg.FCNHead', channels=64, num_convs=2, kernel_size=3,
                      concat_input=False, dropout_ratio=0.1, norm_cfg=norm_cfg,
                      loss_decode=[
                          dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
                               loss_weight=1.0, avg_non_ignore=True),
                          dict(type='perception.MaskedDiceLoss', loss_weight=0.5)])),
        det=dict(
            type='DenseDetHead',
            strides=(8, 16, 32),
            nms=dict(score_thr=0.05, iou_thr=0.6, max_det=100, pre_nms_topk=1000),
            head=dict(
                type='mmdet.RTMDetSepBNHead',
                in_channels=128, feat_channels=128, stacked_convs=2, share_conv=True,
                pred_kernel_size=1, exp_on_reg=True, with_objectness=False,
                anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
                bbox_coder=dict(type='DistancePointBBoxCoder'),
                loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                              loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                norm_cfg=norm_cfg, act_cfg=dict(type='SiLU'),
                train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                               allowed_border=-1, pos_weight=-1, debug=False))),
        depth=dict(type='DepthHead', channels=64, num_convs=2,
                   losses=[dict(type='SILogLoss', lam=0.85, loss_weight=1.0),
                           dict(type='DepthL1Loss', loss_weight=0.1)]),
    ),
    task_weighting=dict(type='UncertaintyTaskWeighting'),
)
