"""Tiny model configs and synthetic batches for the model tests (CPU, seconds).

A named module, not conftest.py: ``from conftest import`` resolves to whichever conftest pytest
loaded last, which is tests/deploy's when both folders are given on one command line.
"""
import copy

import torch
from mmengine.structures import InstanceData, PixelData

from perception.contract import SENSORS
from perception.structures import MultiTaskDataSample

SEG_CLASSES, DET_CLASSES = 5, 3
TINY_STAGES = ((8, 1, 2), (16, 1, 2), (16, 1, 2), (24, 1, 2))


def tiny_model_cfg(**overrides) -> dict:
    """A full three-task model a few thousand parameters big (same structure as nano)."""
    cfg = dict(
        type='MultiTaskPerceptor',
        tasks=('seg', 'det', 'depth'),
        num_classes=dict(seg=SEG_CLASSES, det=DET_CLASSES),
        encoder=dict(type='MultiSensorEncoder',
                     backbone=dict(type='LiteNet', stem_channels=8, stages=TINY_STAGES)),
        fusion=dict(type='AttentionFusion', channels=(16, 16, 16, 16),
                    cross_attention_levels=(2, 3), num_heads=2),
        decoder=dict(type='TaskExpertDecoder', num_experts=3, gate_channels=8,
                     balance_weight=0.01),
        heads=dict(
            seg=dict(type='SegHead',
                     head=dict(type='mmseg.FCNHead', channels=16, num_convs=1, concat_input=False,
                               dropout_ratio=0.0,
                               loss_decode=dict(type='mmseg.CrossEntropyLoss'))),
            det=dict(type='DenseDetHead', strides=(8, 16, 32),
                     head=dict(type='mmdet.RTMDetSepBNHead', feat_channels=16, stacked_convs=1,
                               exp_on_reg=True, with_objectness=False,
                               anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                                     strides=[8, 16, 32]),
                               bbox_coder=dict(type='DistancePointBBoxCoder'),
                               loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True,
                                             beta=2.0, loss_weight=1.0),
                               loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                               train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner',
                                                            topk=13),
                                              allowed_border=-1, pos_weight=-1, debug=False))),
            depth=dict(type='DepthHead', channels=16,
                       losses=[dict(type='SILogLoss'), dict(type='DepthL1Loss',
                                                            loss_weight=0.1)]),
        ),
    )
    cfg.update(copy.deepcopy(overrides))
    return cfg


def initialised_model(cfg: dict, seed: int = 0):
    """``build_model(cfg)`` with a fixed seed, weights initialised, in eval mode (the module-scoped
    ``model`` fixtures)."""
    from perception.models import build_model
    torch.manual_seed(seed)
    m = build_model(cfg)
    m.init_weights()
    return m.eval()


def make_sample(h=64, w=64, seg=True, det=True, depth=True, mask=(True, True, True), seed=0,
                ori_shape=None, scale_factor=None):
    """One packed sample (contract section 2) with the requested targets."""
    g = torch.Generator().manual_seed(seed)
    inputs = dict(rgb=torch.rand(3, h, w, generator=g) * 255,
                  thermal=torch.rand(1, h, w, generator=g),
                  depth=torch.rand(1, h, w, generator=g) * 9 + 0.5,
                  modality_mask=torch.tensor(mask))
    for s, present in zip(SENSORS, mask):
        if not present:
            inputs[s] = torch.zeros_like(inputs[s])
    meta = dict(img_shape=(h, w), ori_shape=ori_shape or (h, w))
    if scale_factor is not None:
        meta['scale_factor'] = scale_factor
    sample = MultiTaskDataSample(metainfo=meta)
    if seg:
        labels = torch.randint(0, SEG_CLASSES, (1, h, w), generator=g)
        labels[:, :2] = 255
        sample.gt_sem_seg = PixelData(data=labels)
    if det:
        boxes = torch.tensor([[4., 6., 30., 40.], [20., 10., 60., 50.]])
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor([0, 2]))
    if depth:
        d = torch.rand(1, h, w, generator=g) * 9 + 0.5
        d[:, :, :3] = 0  # invalid pixels
        sample.gt_depth = PixelData(data=d)
    return inputs, sample


def make_batch(samples):
    """Pseudo-collate (what mmengine's default collate gives the data preprocessor)."""
    keys = (*SENSORS, 'modality_mask')
    return dict(inputs={k: [x[k] for x, _ in samples] for k in keys},
                data_samples=[s for _, s in samples])
