"""``DenseDetHead``: 2D detection through an mmdet dense head (RTMDet, FCOS, ...).

mmdet supplies the layers, the assigner (e.g. ``DynamicSoftLabelAssigner``), the box coder and the
losses (QualityFocal + GIoU for RTMDet; focal + IoU + centerness for FCOS) via ``loss_by_feat``.
This adapter adds:
  * 1x1 adapters when the decoder widths per level differ from the head's single ``in_channels``;
  * per-sample masking (only samples with ``gt_instances`` go into ``loss_by_feat``) and partial
    labels (a sample's unlabelled classes, ``det_labelled``, give no gradient:
    perception/models/losses/partial_labels.py);
  * a static, export-friendly decode of every prior: ``det_boxes`` (B, N, 4) xyxy pixels clipped to
    the input, ``det_scores`` (B, N, C) sigmoid scores (times the centerness/IoU factor if the head
    has one), with no data-dependent control flow; top-k + NMS is a separate step
    (``postprocess.topk_nms`` here, the exporter's NMS on the graph side).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn

from perception.contract import DETECTION_SETTINGS, STRIDES, ConfigError, renamed_settings
from perception.registry import MODELS

from ..builder import build_module

from ..losses.partial_labels import labelled_classes, stop_unlabelled
from ..postprocess import topk_nms
from .base import TaskHead, connected_zero

DEFAULT_STRIDES = STRIDES[1:]   # the three coarsest levels


@MODELS.register_module()
class DenseDetHead(TaskHead):
    """Args:
        head: an mmdet dense head config (``train_cfg`` inside it); ``num_classes`` is set by the
            model; ``in_channels`` defaults to the decoder width when all levels share it.
        in_channels: decoder widths at ``strides`` (set by the model).
        strides: which pyramid levels feed the head; must equal the head's prior strides.
        nms: ``topk_nms`` settings used in predict mode (``score_thr``, ``iou_thr``, ``max_det``,
            ``pre_nms_topk``); the former ``k``/``pre_nms_k`` still load, with a warning.
    """
    task = 'det'

    def __init__(self, head: dict, in_channels: Sequence[int], num_classes: int,
                 strides: Sequence[int] = DEFAULT_STRIDES, nms: Optional[dict] = None,
                 adapter_norm_cfg: Optional[dict] = dict(type='BN'), init_cfg=None):
        super().__init__(init_cfg)
        bad = [s for s in strides if s not in STRIDES]
        if bad or len(in_channels) != len(strides):
            raise ValueError(f'DenseDetHead: strides {tuple(strides)} must be among '
                             f'{STRIDES} and match in_channels {tuple(in_channels)}')
        self.strides = tuple(strides)
        cfg = ConfigDict(head)  # mmdet heads read train_cfg.assigner as attributes
        width = cfg.get('in_channels')
        if width is None:
            if len(set(in_channels)) != 1:
                raise ValueError(f'DenseDetHead: decoder widths {tuple(in_channels)} differ; '
                                 'set head.in_channels (1x1 adapters map each level to it)')
            width = in_channels[0]
        cfg.update(in_channels=width, num_classes=num_classes)
        self.head = build_module(cfg)
        head_strides = tuple(int(s[0]) if isinstance(s, (tuple, list)) else int(s)
                             for s in self.head.prior_generator.strides)
        if head_strides != self.strides:
            raise ValueError(f'DenseDetHead: head prior strides {head_strides} != strides '
                             f'{self.strides} (set both, e.g. anchor_generator.strides)')
        self.adapters = nn.ModuleList(
            nn.Identity() if c == width else ConvModule(c, width, 1, norm_cfg=adapter_norm_cfg,
                                                        act_cfg=dict(type='ReLU'))
            for c in in_channels)
        self.num_classes = num_classes
        self.nms = {**dict(score_thr=0.05, iou_thr=0.6, max_det=100, pre_nms_topk=1000),
                    **renamed_settings(nms or {}, 'heads.det.nms')}
        unknown = set(self.nms) - set(DETECTION_SETTINGS)
        if unknown:
            raise ConfigError(f'heads.det.nms: unknown settings {sorted(unknown)}; expected '
                             f'{DETECTION_SETTINGS}')
        # names of the zero losses of a batch without boxes: those of the last real loss call
        # (a head may own loss modules it does not report, e.g. RTMDet's inherited centerness)
        self._loss_names: Tuple[str, ...] = ('loss_cls', 'loss_bbox')

    @classmethod
    def input_levels(cls, cfg) -> Tuple[int, ...]:
        strides = tuple(cfg.get('strides', DEFAULT_STRIDES))
        if not set(strides) <= set(STRIDES):
            raise ValueError(f'DenseDetHead: strides {strides} must be among {STRIDES}')
        return tuple(STRIDES.index(s) for s in strides)

    def forward(self, feats: List[Tensor]) -> tuple:
        return self.head([a(f) for a, f in zip(self.adapters, feats)])

    def export(self, raw: tuple, input_hw: Tuple[int, int]) -> Dict[str, Tensor]:
        cls_scores, bbox_preds = raw[0], raw[1]
        factors = raw[2] if len(raw) > 2 else None  # FCOS centerness, ...
        b = cls_scores[0].shape[0]
        priors = torch.cat(self.head.prior_generator.grid_priors(
            [c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
            device=cls_scores[0].device))
        scores = torch.cat([c.permute(0, 2, 3, 1).reshape(b, -1, self.num_classes)
                            for c in cls_scores], 1).sigmoid()
        if factors is not None:
            scores = scores * torch.cat([f.permute(0, 2, 3, 1).reshape(b, -1, 1)
                                         for f in factors], 1).sigmoid()
        deltas = []
        for pred, stride in zip(bbox_preds, self.strides):
            if getattr(self.head, 'norm_on_bbox', False) and self.head.training:
                pred = pred * stride  # FCOS scales by stride only in eval mode
            deltas.append(pred.permute(0, 2, 3, 1).reshape(b, -1, 4))
        boxes = self.head.bbox_coder.decode(priors[None].expand(b, -1, -1),
                                            torch.cat(deltas, 1))
        h, w = input_hw
        boxes = torch.minimum(boxes.clamp_min(0), boxes.new_tensor([w, h, w, h]))
        return {'det_boxes': boxes, 'det_scores': scores}

    def loss(self, raw: tuple, samples, keep: Sequence[int]) -> Dict[str, Tensor]:
        if not keep:
            zero = connected_zero(raw)
            return {name: zero for name in self._loss_names}
        device = raw[0][0].device
        idx = torch.as_tensor(list(keep), device=device)
        selected = [[x.index_select(0, idx) for x in level_list] for level_list in raw]
        # partial labels: a sample's unlabelled classes (its dataset's det_labelled) get no gradient
        selected[0] = stop_unlabelled(selected[0], labelled_classes(
            [samples[i] for i in keep], self.num_classes, device))
        gts = []
        for i in keep:
            gt = samples[i].gt_instances
            gts.append(InstanceData(
                bboxes=torch.as_tensor(gt.bboxes, dtype=torch.float32, device=device).view(-1, 4),
                labels=torch.as_tensor(gt.labels, dtype=torch.long, device=device).view(-1)))
        losses = self.head.loss_by_feat(*selected, batch_gt_instances=gts,
                                        batch_img_metas=[samples[i].metainfo for i in keep])
        losses = {k: sum(v) if isinstance(v, (list, tuple)) else v for k, v in losses.items()}
        self._loss_names = tuple(losses)
        return losses

    def predict(self, outs: Dict[str, Tensor], samples) -> None:
        boxes, scores, labels = topk_nms(outs['det_boxes'], outs['det_scores'], **self.nms)
        for i, sample in enumerate(samples):
            valid = scores[i] > 0
            b = boxes[i][valid]
            scale = sample.metainfo.get('scale_factor')
            if scale is not None:  # mmdet convention: (w_scale, h_scale)
                b = b / b.new_tensor(scale).repeat(2)
            ori = sample.metainfo.get('ori_shape')
            if ori is not None:
                b = torch.minimum(b.clamp_min(0), b.new_tensor([ori[1], ori[0]] * 2))
            sample.pred_instances = InstanceData(bboxes=b, scores=scores[i][valid],
                                                 labels=labels[i][valid])
