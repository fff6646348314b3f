"""``MultiTaskDataSample``: the mmengine data element that carries one sample's metadata, targets and
predictions for all three tasks between the pipeline, the model, the metrics and the visualiser.

Fields (each optional -- a sample may lack any target):
  gt_sem_seg    PixelData(data=LongTensor(1, H, W))      class ids, IGNORE_INDEX where unlabelled
  gt_instances  InstanceData(bboxes=(N, 4) xyxy px, labels=(N,) long)
  gt_depth      PixelData(data=FloatTensor(1, H, W))     metres, 0 = invalid
  pred_sem_seg  PixelData(data=LongTensor(1, H, W))
  seg_logits    PixelData(data=FloatTensor(C, H, W))
  pred_instances InstanceData(bboxes, scores, labels)
  pred_depth    PixelData(data=FloatTensor(1, H, W))     metres
Metainfo keys used across the package: ``sample_idx``, ``img_id``, ``ori_shape``, ``img_shape``,
``scale_factor``, ``flip``, ``flip_direction``, ``pad_shape`` (padded size; ``img_shape`` is the
unpadded one), ``modality_mask`` (tuple of bools in SENSORS order), ``condition``
(synthetic scenes), ``sources`` (dict sensor -> file path), ``det_labelled`` (tuple of the
``det_classes`` indices the sample's dataset labels; present where the dataset config declares
``det_classes``/``det_class_map``, absent = every class labelled).
"""
from mmengine.structures import BaseDataElement, InstanceData, PixelData


def _prop(name: str, dtype):
    def getter(self):
        return getattr(self, f'_{name}')

    def setter(self, value):
        self.set_field(value, f'_{name}', dtype=dtype)

    def deleter(self):
        delattr(self, f'_{name}')

    return property(getter, setter, deleter, doc=f'{name} ({dtype.__name__})')


class MultiTaskDataSample(BaseDataElement):
    """Data sample for joint segmentation, detection and depth."""

    gt_sem_seg = _prop('gt_sem_seg', PixelData)
    gt_instances = _prop('gt_instances', InstanceData)
    gt_depth = _prop('gt_depth', PixelData)
    pred_sem_seg = _prop('pred_sem_seg', PixelData)
    seg_logits = _prop('seg_logits', PixelData)
    pred_instances = _prop('pred_instances', InstanceData)
    pred_depth = _prop('pred_depth', PixelData)

    def has_target(self, task: str) -> bool:
        """Whether this sample carries the ground truth of ``task`` ('seg', 'det' or 'depth')."""
        field = {'seg': 'gt_sem_seg', 'det': 'gt_instances', 'depth': 'gt_depth'}[task]
        return field in self
