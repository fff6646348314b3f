# nano_mbv2: the first nano design, kept for the comparison with today's nano (docs/benchmarks.md):
# MobileNetV2-style LiteNet encoders (depthwise 3x3 between 1x1 convs), attention fusion with
# channel + spatial gates at every level and cross-attention at strides 16/32, TaskExpert decoder
# with experts at every level, depthwise RTMDet head; 0.52 G multiply-adds at 256x320.
# Dataset configs set the class counts: model = dict(num_classes=dict(seg=..., det=...)).
# The caller sets default_scope = 'perception'.
norm_cfg = dict(type='BN')
widths = (32, 48, 64, 96)  # fused / decoder width at strides 4, 8, 16, 32

model = dict(
    type='MultiTaskPerceptor',
    tasks=('seg', 'det', 'depth'),
    num_classes=dict(seg=8, det=4),  # the synthetic scenes (perception.datasets.synthetic)
    data_preprocessor=dict(type='MultiSensorDataPreprocessor', size_divisor=32),
    encoder=dict(
        type='MultiSensorEncoder',
        backbone=dict(type='LiteNet', arch='nano', norm_cfg=norm_cfg),
        # single-channel sensors carry less texture: a lighter encoder
        sensor_overrides=dict(thermal=dict(arch='pico'), depth=dict(arch='pico')),
        share_weights=False),
    fusion=dict(type='AttentionFusion', channels=widths, cross_attention_levels=(2, 3),
                num_heads=2, norm_cfg=norm_cfg),
    decoder=dict(type='TaskExpertDecoder', num_experts=4, expert_levels=(0, 1, 2, 3), expert_kernel=1,
                 gate_channels=16, balance_weight=0.01, norm_cfg=norm_cfg),
    heads=dict(
        seg=dict(
            type='SegHead',
            head=dict(type='mmseg.FCNHead', channels=32, num_convs=1, kernel_size=3,
                      concat_input=False, dropout_ratio=0.0, norm_cfg=norm_cfg,
                      loss_decode=[dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
                                        loss_weight=1.0, avg_non_ignore=True)])),
        det=dict(
            type='DenseDetHead',
            strides=(8, 16, 32),
            nms=dict(score_thr=0.05, iou_thr=0.6, max_det=100, pre_nms_topk=1000),
            head=dict(
                type='mmdet.RTMDetSepBNHead',
                in_channels=48, feat_channels=48, stacked_convs=2,
                use_depthwise=True,  # mmdet 3.3 cannot share depthwise convs across levels
                share_conv=False, pred_kernel_size=1, exp_on_reg=True, with_objectness=False,
                anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
                bbox_coder=dict(type='DistancePointBBoxCoder'),
                loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                              loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                norm_cfg=norm_cfg, act_cfg=dict(type='SiLU'),
                train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                               allowed_border=-1, pos_weight=-1, debug=False))),
        depth=dict(type='DepthHead', channels=32, num_convs=1,
                   losses=[dict(type='SILogLoss', lam=0.85, loss_weight=1.0)]),
    ),
    task_weighting=dict(type='FixedTaskWeighting', weights=dict(seg=1.0, det=1.0, depth=1.0)),
)
