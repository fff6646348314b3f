"""``LibraryModel``: an OpenMMLab single-task model (an mmseg segmentor, an mmdet detector), built from
the library's own config, run on this package's multi-sensor batches.

It is how the model a user would otherwise pick -- SegFormer on the RGB camera, RTMDet on RGB, or
either with every sensor stacked on channels -- is trained and scored exactly like the multi-task
model: same pipeline and ``MultiSensorDataPreprocessor`` (inputs arrive normalised, absent sensors as
zeros), same Runner, same ``MultiTaskMetric``. What it adds around the library model:

* input: the tensor of one sensor, or several concatenated on channels in ``contract.SENSORS``
  order (early fusion: RGB + thermal + depth is a 5-channel image; the backbone's first
  convolution is rebuilt to take it);
* targets: ``MultiTaskDataSample`` fields become the library's ``SegDataSample`` /
  ``DetDataSample``, and the library computes its own loss;
* predictions: ``seg_logits`` + ``pred_sem_seg`` / ``pred_instances`` in original image coordinates,
  the fields ``MultiTaskMetric`` reads.

Every change made to the library's model config: its ``data_preprocessor`` is dropped (ours runs);
pretrained initialisation is dropped (random init, the library's default: nothing downloads);
``SyncBN`` becomes ``BN`` (one process); ``num_classes`` is set; mmseg's ``ignore_index`` is the
contract's ``IGNORE_INDEX``; ``test_cfg`` entries given here override the library's.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmengine.structures import InstanceData, PixelData
from torch import Tensor, nn

from perception.contract import IGNORE_INDEX, SENSOR_CHANNELS, SENSORS, ConfigError
from perception.registry import MODELS
from perception.structures import MultiTaskDataSample

from .builder import build_module
from .heads.base import connected_zero, restore_dense
from .losses.partial_labels import labelled_classes, stop_unlabelled
from .masking import keep_present
from .modes import dispatch_mode
from .sensor_inputs import batch_sensor_args

#: library (config scope) -> the task its models solve here
LIBRARY_TASKS = {'mmseg': 'seg', 'mmdet': 'det'}


def library_model_config(config: str) -> Tuple[str, ConfigDict]:
    """(scope, model config) of a library config named like ``'mmseg::segformer/x.py'``, with the
    changes listed in the module docstring that do not depend on the task (no preprocessor, no
    pretrained weights, BN instead of SyncBN)."""
    scope = config.split('::', 1)[0] if '::' in config else None
    if scope not in LIBRARY_TASKS:
        raise ConfigError(f'LibraryModel.config must name a library config as '
                          f'"<{"|".join(LIBRARY_TASKS)}>::<path>.py", got {config!r}')
    from mmengine.hub import get_config   # resolves the config files installed with the package
    try:
        model = copy.deepcopy(get_config(config).model)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f'library config {config!r} cannot be read: {err}') from err
    model.pop('data_preprocessor', None)
    if model.get('pretrained'):
        model.pretrained = None
    _for_one_process_from_scratch(model)
    return scope, model


def _for_one_process_from_scratch(node: Any) -> None:
    """In place, through a config tree: SyncBN -> BN, pretrained ``init_cfg`` entries removed (the
    module's own default initialisation applies)."""
    if isinstance(node, Mapping):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        init = node.get('init_cfg')
        if isinstance(init, Mapping) and init.get('type') == 'Pretrained':
            node.pop('init_cfg')
        elif isinstance(init, (list, tuple)):
            kept = [i for i in init if not (isinstance(i, Mapping) and i.get('type') == 'Pretrained')]
            if kept:
                node['init_cfg'] = kept
            else:
                node.pop('init_cfg')
        for value in node.values():
            _for_one_process_from_scratch(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _for_one_process_from_scratch(value)


def widen_first_conv(backbone: nn.Module, in_channels: int) -> nn.Conv2d:
    """Rebuild the first ``nn.Conv2d`` of ``backbone`` (its stem / patch embedding) to take
    ``in_channels``, everything else equal; returns it. Backbones such as CSPNeXt hard-code 3 input
    channels, so this is done on the module, not the config; the library's ``init_weights`` then
    initialises the new convolution like the one it replaces."""
    name, conv = next(((n, m) for n, m in backbone.named_modules() if isinstance(m, nn.Conv2d)),
                      (None, None))
    if conv is None:
        raise ConfigError(f'{type(backbone).__name__} has no Conv2d to take {in_channels} channels')
    if conv.in_channels == in_channels:
        return conv
    if conv.groups != 1:
        raise ConfigError(f'{type(backbone).__name__}: the first convolution ({name}) is grouped '
                          f'({conv.groups} groups); cannot widen it to {in_channels} channels')
    wide = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     conv.dilation, 1, conv.bias is not None, conv.padding_mode)
    parent, _, attr = name.rpartition('.')
    setattr(backbone.get_submodule(parent) if parent else backbone, attr, wide)
    return wide


@MODELS.register_module()
class LibraryModel(BaseModel):
    """Args:
        config: the library's config, ``'mmseg::...'`` (segmentation) or ``'mmdet::...'``
            (detection); its ``model`` is built (backbone, neck, head, losses, assigner).
        num_classes: classes of the task (the dataset's).
        sensors: what the network sees, concatenated on channels in ``contract.SENSORS`` order;
            ``('rgb', )`` is the library model as published, all three an early-fusion 5-channel
            input.
        test_cfg: overrides of the library model's ``test_cfg`` (e.g. the detector's NMS settings).
        data_preprocessor: default ``MultiSensorDataPreprocessor``.
    """

    def __init__(self, config: str, num_classes: int, sensors: Sequence[str] = ('rgb', ),
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Union[dict, nn.Module, None] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='MultiSensorDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = build_module(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = [s for s in sensors if s not in SENSORS]
        if unknown or not sensors or len(set(sensors)) != len(sensors):
            raise ConfigError(f'LibraryModel.sensors must be distinct sensors among {SENSORS}, '
                              f'got {tuple(sensors)}')
        self.sensors: Tuple[str, ...] = tuple(s for s in SENSORS if s in sensors)
        self.config = config
        scope, model = library_model_config(config)
        self.task: str = LIBRARY_TASKS[scope]
        self.tasks: Tuple[str, ...] = (self.task, )
        #: classes per classifying task, as ``MultiTaskPerceptor.num_classes``
        self.num_classes: Dict[str, int] = {self.task: int(num_classes)}
        if self.task == 'seg':
            for head in ('decode_head', 'auxiliary_head'):
                for h in _as_list(model.get(head)):
                    h.update(num_classes=int(num_classes), ignore_index=IGNORE_INDEX)
        else:
            model.bbox_head.num_classes = int(num_classes)
        if test_cfg:
            model.test_cfg = ConfigDict({**(model.get('test_cfg') or {}), **test_cfg})
        model.type = f'{scope}.{model.type}'   # build_module builds it in the library's scope
        self.model = build_module(model)
        self.in_channels = sum(SENSOR_CHANNELS[s] for s in self.sensors)
        widen_first_conv(self.model.backbone, self.in_channels)

    # --- the network ------------------------------------------------------------------------------
    def image(self, rgb: Tensor, thermal: Tensor, depth: Tensor, modality_mask: Tensor) -> Tensor:
        """The library model's input: the used sensors on channels (B, in_channels, H, W); an absent
        sensor is exactly zero whatever was passed (as in ``MultiTaskPerceptor``)."""
        present = modality_mask > 0.5
        given = dict(zip(SENSORS, (rgb, thermal, depth)))
        parts = [keep_present(given[s], present[:, SENSORS.index(s)].view(-1, 1, 1, 1))
                 for s in self.sensors]
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def forward_network(self, rgb: Tensor, thermal: Tensor, depth: Tensor,
                        modality_mask: Tensor) -> Tuple[Tensor, ...]:
        """The library network's raw outputs, flattened (no resizing, decoding or NMS): what its
        latency is measured on. Segmentation: logits at stride 4; detection: per-level class
        scores, then per-level box distances."""
        out = self.model._forward(self.image(rgb, thermal, depth, modality_mask))
        flat: List[Tensor] = []
        for x in (out if isinstance(out, (tuple, list)) else [out]):
            flat.extend(x if isinstance(x, (tuple, list)) else [x])
        return tuple(flat)

    # --- mmengine modes ---------------------------------------------------------------------------
    def forward(self, inputs: Mapping[str, Tensor],
                data_samples: Optional[List[MultiTaskDataSample]] = None, mode: str = 'tensor'):
        """mmengine's entry point, as ``MultiTaskPerceptor.forward``: 'loss' and 'predict' run on
        ``image`` (the used sensors on channels), 'tensor' returns ``forward_network``'s outputs."""
        return dispatch_mode(
            mode, batch_sensor_args(inputs), data_samples,
            loss=lambda args, samples: self.loss(self.image(*args), samples),
            predict=lambda args, samples: self.predict(self.image(*args), samples),
            tensor=self.forward_network)

    def loss(self, image: Tensor, data_samples: Sequence[MultiTaskDataSample]
             ) -> Dict[str, Tensor]:
        """The library's own loss over the samples that carry this task's target."""
        keep = [i for i, s in enumerate(data_samples) if s.has_target(self.task)]
        if not keep:   # graph-connected zero: every parameter stays in the autograd graph
            return {f'loss_{self.task}': connected_zero(list(self.model.parameters()))}
        if len(keep) < len(data_samples):
            image = image.index_select(0, torch.as_tensor(keep, device=image.device))
        samples = [self._library_sample(data_samples[i]) for i in keep]
        if self.task == 'seg':
            return self.model.loss(image, samples)
        # mmdet's SingleStageDetector.loss, with the partial labels of MultiTaskPerceptor: a
        # sample's unlabelled classes (its dataset's det_labelled) give no gradient
        from mmdet.models.utils import unpack_gt_instances
        head = self.model.bbox_head
        outs = list(head(self.model.extract_feat(image)))
        outs[0] = stop_unlabelled(outs[0], labelled_classes(samples, head.num_classes,
                                                            image.device))
        gts, ignores, metas = unpack_gt_instances(samples)
        return head.loss_by_feat(*outs, gts, metas, ignores)

    def _library_sample(self, sample: MultiTaskDataSample):
        if self.task == 'seg':
            from mmseg.structures import SegDataSample
            out = SegDataSample(metainfo=sample.metainfo)
            out.gt_sem_seg = PixelData(data=sample.gt_sem_seg.data.long())
            return out
        from mmdet.structures import DetDataSample
        gt = sample.gt_instances
        device = next(self.model.parameters()).device
        out = DetDataSample(metainfo=sample.metainfo)
        out.gt_instances = InstanceData(
            bboxes=torch.as_tensor(gt.bboxes, dtype=torch.float32, device=device).view(-1, 4),
            labels=torch.as_tensor(gt.labels, dtype=torch.long, device=device).view(-1))
        return out

    def predict(self, image: Tensor, data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(image.shape[0])]
        for sample in data_samples:
            if 'img_shape' not in sample:
                sample.set_metainfo(dict(img_shape=tuple(image.shape[-2:])))
        if self.task == 'seg':
            self._predict_seg(image, data_samples)
        else:
            self._predict_det(image, data_samples)
        return data_samples

    def _predict_seg(self, image: Tensor, samples: List[MultiTaskDataSample]) -> None:
        head = self.model.decode_head
        logits = F.interpolate(self.model._forward(image).float(), size=image.shape[-2:],
                               mode='bilinear', align_corners=head.align_corners)
        for x, sample in zip(logits, samples):
            x = restore_dense(x, sample)   # crop the batch padding, back to ori_shape
            sample.seg_logits = PixelData(data=x)
            sample.pred_sem_seg = PixelData(data=x.argmax(0, keepdim=True))

    def _predict_det(self, image: Tensor, samples: List[MultiTaskDataSample]) -> None:
        """The library head's own decoding and NMS (its ``test_cfg``), boxes rescaled by
        ``scale_factor`` (mmdet convention) when the pipeline resized, clipped to ``ori_shape``."""
        head = self.model.bbox_head
        raw = head(self.model.extract_feat(image))
        raw = [[x.float() for x in level] for level in raw]   # NMS kernels take fp32 (bf16 AMP)
        metas = [s.metainfo for s in samples]
        rescale = all(m.get('scale_factor') is not None for m in metas)
        results = head.predict_by_feat(*raw, batch_img_metas=metas, rescale=rescale)
        for res, sample in zip(results, samples):
            boxes = res.bboxes
            ori = sample.metainfo.get('ori_shape')
            if ori is not None:
                boxes = torch.minimum(boxes.clamp_min(0), boxes.new_tensor([ori[1], ori[0]] * 2))
            sample.pred_instances = InstanceData(bboxes=boxes, scores=res.scores,
                                                 labels=res.labels)


class LibraryNetwork(nn.Module):
    """``forward(rgb, thermal, depth, modality_mask)`` -> the library network's raw outputs (a
    tuple): the module that latency is timed on and that ``torch.onnx.export`` traces, fed the same
    inputs as the perception graph (a model that reads only RGB ignores the rest)."""

    def __init__(self, model: LibraryModel):
        super().__init__()
        self.model = model

    def forward(self, rgb: Tensor, thermal: Tensor, depth: Tensor,
                modality_mask: Tensor) -> Tuple[Tensor, ...]:
        return self.model.forward_network(rgb, thermal, depth, modality_mask)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
