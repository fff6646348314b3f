# The peer of docs/real_rgbt.md: mmdet's RTMDet-tiny (its own config: CSPNeXt, PAFPN, RTMDet head,
# dynamic soft-label assigner; random init, BN) on RGB + thermal stacked as one 4-channel image
# (early fusion), trained on the same frames as nano_rgbt_mixed.py (synthetic boxes mapped to the
# real classes + the real MSRS / LLVIP boxes, the same partial labels) for the same iterations, with
# RTMDet's own recipe scaled to this budget: AdamW lr 0.004, weight decay 0.05 (none on norms and
# biases), linear warm-up from 1e-5, cosine decay to 5 % over the second half, and its
# ExpMomentumEMA (momentum 0.0002 and gamma 2000 of ~138k iterations, both scaled to this run's
# length: the average spans the same share of the run).
_base_ = ['./nano_rgbt_mixed.py']
rtmdet_tiny = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
model = dict(_delete_=True, type='LibraryModel', config=rtmdet_tiny, sensors=('rgb', 'thermal'),
             num_classes=3, data_preprocessor=dict(type='MultiSensorDataPreprocessor',
                                                   size_divisor=32),
             # nano's detection post-processing settings, in mmdet's own decoding
             test_cfg=dict(score_thr=0.05, nms_pre=1000, max_per_img=100,
                           nms=dict(type='nms', iou_threshold=0.6)))
base_lr = 0.004
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0,
                                        bypass_duplicate=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0,
         end=_base_.warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=_base_.max_iters // 2,
         end=_base_.max_iters, T_max=_base_.max_iters // 2, by_epoch=False),
]
custom_hooks = [
    dict(type='ProgressBarHook', desc='train'),
    # momentum and gamma scaled from RTMDet's ~138k iterations to this run's: at 0.0002 the
    # average would span ~5,000 iterations, longer than the whole run (its weights then stay
    # mostly those of the first iterations: person AP@50 0.000 on MSRS where the trained
    # weights give 0.197)
    dict(type='EMAHook', ema_type='mmdet.ExpMomentumEMA',
         momentum=min(0.5, 0.0002 * 138000 / _base_.max_iters),
         gamma=max(1, round(2000 * _base_.max_iters / 138000)), update_buffers=True,
         priority=49),
]
