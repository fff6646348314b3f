# nano: the CPU / Jetson real-time size, designed by measured latency (docs/benchmarks.md, "why it is
# fast"): three RepNet encoders (dense re-parameterisable 3x3 convs; RGB wider than thermal/depth),
# mask-aware attention fusion (per-pixel masked softmax over sensors at every level, cross-modal
# channel gates at strides 16/32, cross-attention at stride 32), TaskExpert decoder (experts at
# strides 8-32, all tasks' gates and memories as grouped convs), seg + det + depth heads; detection at
# strides 4-16, because most objects are small (median 13 px at the study's 128x160; docs/results.md,
# "Diagnosis").
# Dataset configs set the class counts: model = dict(num_classes=dict(seg=..., det=...)).
# The caller sets default_scope = 'perception'.
norm_cfg = dict(type='BN')
widths = (32, 48, 64, 96)  # fused / decoder width at strides 4, 8, 16, 32

model = dict(
    type='MultiTaskPerceptor',
    tasks=('seg', 'det', 'depth'),
    num_classes=dict(seg=8, det=4),
    data_preprocessor=dict(type='MultiSensorDataPreprocessor', size_divisor=32),
    encoder=dict(
        type='MultiSensorEncoder',
        backbone=dict(type='RepNet', arch='nano'),
        sensor_overrides=dict(thermal=dict(arch='pico'), depth=dict(arch='pico')),
        share_weights=False),
    fusion=dict(type='AttentionFusion', channels=widths, cross_attention_levels=(3, ),
                channel_gate_levels=(2, 3), spatial_gate_levels=(), num_heads=2,
                norm_cfg=norm_cfg),
    decoder=dict(type='TaskExpertDecoder', num_experts=4, expert_levels=(1, 2, 3),
                 expert_kernel=(1, 1, 3, 3), gate_channels=16, balance_weight=0.01,
                 norm_cfg=norm_cfg),
    heads=dict(
        seg=dict(
            type='SegHead',
            head=dict(type='mmseg.FCNHead', channels=32, num_convs=1, kernel_size=3,
                      concat_input=False, dropout_ratio=0.0, norm_cfg=norm_cfg,
                      loss_decode=[dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
                                        loss_weight=1.0, avg_non_ignore=True)])),
        det=dict(
            type='DenseDetHead',
            strides=(4, 8, 16),
            nms=dict(max_det=100, score_thr=0.05, iou_thr=0.6, pre_nms_topk=1000),
            head=dict(
                type='mmdet.RTMDetSepBNHead',
                in_channels=48, feat_channels=48, stacked_convs=1,
                use_depthwise=False, share_conv=True, pred_kernel_size=1, exp_on_reg=True,
                with_objectness=False,
                anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[4, 8, 16]),
                bbox_coder=dict(type='DistancePointBBoxCoder'),
                loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                              loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'),
                train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                               allowed_border=-1, pos_weight=-1, debug=False))),
        depth=dict(type='DepthHead', channels=32, num_convs=1,
                   losses=[dict(type='SILogLoss', lam=0.85, loss_weight=1.0)]),
    ),
    task_weighting=dict(type='FixedTaskWeighting', weights=dict(seg=1.0, det=1.0, depth=1.0)),
    # Training only: each sensor's encoder also learns seg and depth alone (against modality
    # competition; docs/results.md, "Diagnosis"). Not in the exported graph.
    sensor_aux=dict(type='SensorAuxHeads', tasks=('seg', 'depth'), loss_weight=0.5),
)
