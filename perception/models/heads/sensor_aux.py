"""``SensorAuxHeads``: uni-modal auxiliary losses on each sensor's own encoder features (training only).

A fused model trained only through its fused output lets the easiest sensor carry the loss: the
other encoders get little gradient and learn less than a model trained on that sensor alone
("modality competition"; Du et al. 2023, *On Uni-Modal Feature Learning in Supervised Multi-Modal
Learning*, who add uni-modal objectives for it). Here each sensor's encoder also gets its own light
head at one pyramid level (a 3x3 conv + BN + ReLU, then a 1x1 classifier / regressor) that predicts
the segmentation labels and/or the depth from that sensor alone. Its loss counts only on samples
where the sensor is present and the target exists (an absent sensor's zeros teach nothing).

The heads are not part of ``forward_export``: inference and export cost nothing more.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from perception.contract import IGNORE_INDEX, SENSORS
from perception.registry import MODELS

from ..losses.depth import SILogLoss
from .base import connected_zero

AUX_TASKS = ('seg', 'depth')


@MODELS.register_module()
class SensorAuxHeads(BaseModule):
    """Args:
        in_channels: sensor -> encoder channels per level (set by the model).
        num_classes: segmentation classes (set by the model when ``'seg'`` is in ``tasks``).
        tasks: which targets the uni-modal heads predict, a subset of ``('seg', 'depth')``.
        level: pyramid level of the encoder features read (0 = stride 4; default 1 = stride 8).
        channels: width of the 3x3 conv before the 1x1 output.
        loss_weight: weight of each uni-modal loss (per sensor and task).
        sensors: the sensors that get a head, the columns of ``present`` (the model sets its own).
    """

    def __init__(self, in_channels: Mapping[str, Sequence[int]], tasks: Sequence[str] = AUX_TASKS,
                 num_classes: int = 0, level: int = 1, channels: int = 32,
                 loss_weight: float = 0.5, sensors: Sequence[str] = SENSORS,
                 norm_cfg: dict = dict(type='BN'), init_cfg=None):
        super().__init__(init_cfg)
        bad = set(tasks) - set(AUX_TASKS)
        if bad or not tasks:
            raise ValueError(f'SensorAuxHeads: tasks must be a non-empty subset of {AUX_TASKS}, '
                             f'got {tuple(tasks)}')
        if 'seg' in tasks and num_classes < 1:
            raise ValueError('SensorAuxHeads: num_classes is required with the seg task')
        self.tasks, self.level, self.loss_weight = tuple(tasks), int(level), float(loss_weight)
        self.sensors = tuple(sensors)
        self.num_classes = num_classes
        self.heads = nn.ModuleDict()
        for s in self.sensors:
            c = in_channels[s][self.level]
            outs = dict(seg=num_classes, depth=1)
            self.heads[s] = nn.ModuleDict({
                t: nn.Sequential(ConvModule(c, channels, 3, padding=1, norm_cfg=norm_cfg,
                                            act_cfg=dict(type='ReLU')),
                                 nn.Conv2d(channels, outs[t], 1))
                for t in self.tasks})
        self.silog = SILogLoss()

    def loss(self, feats: Mapping[str, List[Tensor]], present: Tensor,
             samples) -> Dict[str, Tensor]:
        """``feats``: sensor -> encoder pyramid; ``present``: (B, S) bool, one column per sensor
        of ``self.sensors`` (the model's); ``samples``: the batch's data samples. Returns
        ``aux_<sensor>_loss_<task>``."""
        out: Dict[str, Tensor] = {}
        for j, s in enumerate(self.sensors):
            column = present[:, j]
            f = feats[s][self.level]
            for task, head in self.heads[s].items():
                keep = [i for i, smp in enumerate(samples)
                        if bool(column[i]) and smp.has_target(task)]
                if not keep:
                    out[f'aux_{s}_loss_{task}'] = connected_zero(list(head.parameters()) + [f])
                    continue
                idx = torch.as_tensor(keep, device=f.device)
                pred = head(f.index_select(0, idx))
                if task == 'seg':
                    target = torch.stack([samples[i].gt_sem_seg.data for i in keep])[:, 0].long()
                    pred = F.interpolate(pred, size=target.shape[-2:], mode='bilinear',
                                         align_corners=False)
                    value = F.cross_entropy(pred.float(), target.to(pred.device),
                                            ignore_index=IGNORE_INDEX)
                    if not bool((target != IGNORE_INDEX).any()):
                        value = pred.sum() * 0.0   # every pixel ignored: CE would be NaN
                else:
                    target = torch.stack([samples[i].gt_depth.data for i in keep]).to(pred)
                    pred = F.interpolate(F.softplus(pred.float()) + 1e-3,
                                         size=target.shape[-2:], mode='bilinear',
                                         align_corners=False)
                    value = self.silog(pred, target.float())
                out[f'aux_{s}_loss_{task}'] = self.loss_weight * value
        return out
