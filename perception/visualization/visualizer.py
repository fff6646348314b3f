"""``MultiTaskVisualizer``: mmengine's Visualizer that draws a ``MultiTaskDataSample``.

Used by the Runner (TensorBoard/local backends). One picture per sample: the input frame with ground
truth, the same with predictions (segmentation colours, boxes), and predicted depth colour-mapped
(``maps.depth_colormap``: near = warm, range printed), side by side.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmengine.visualization import Visualizer

from perception.registry import VISUALIZERS
from perception.results import PerceptionResult


def _as_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def result_from_sample(sample, prefix: str, seg_classes: Sequence[str] = (),
                       det_classes: Sequence[str] = ()) -> PerceptionResult:
    """``prefix='gt'`` or ``'pred'``: the fields of a data sample as a PerceptionResult."""
    res = PerceptionResult(seg_classes=seg_classes, det_classes=det_classes)
    seg = sample.get(f'{prefix}_sem_seg')
    if seg is not None:
        res.seg_labels = _as_numpy(seg.data)[0].astype(np.int32)
    inst = sample.get(f'{prefix}_instances')
    if inst is not None and 'bboxes' in inst:
        res.det_boxes = _as_numpy(inst.bboxes).astype(np.float32)
        res.det_labels = _as_numpy(inst.labels).astype(np.int32)
        scores = inst.get('scores')
        res.det_scores = (np.ones(len(res.det_labels), np.float32) if scores is None
                          else _as_numpy(scores).astype(np.float32))
    depth = sample.get(f'{prefix}_depth')
    if depth is not None:
        res.depth = _as_numpy(depth.data)[0].astype(np.float32)
    return res


@VISUALIZERS.register_module()
class MultiTaskVisualizer(Visualizer):
    """Draws ground truth | prediction | predicted depth for one sample."""

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None, draw_gt: bool = True,
                       draw_pred: bool = True, show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None, step: int = 0, **kwargs) -> np.ndarray:
        from .maps import depth_colormap
        from .overlay import draw_result
        meta = self.dataset_meta or {}
        seg_classes, det_classes = meta.get('seg_classes', ()), meta.get('det_classes', ())
        panels = []
        if data_sample is not None and draw_gt:
            panels.append(draw_result(image, result_from_sample(data_sample, 'gt', seg_classes,
                                                                det_classes)))
        if data_sample is not None and draw_pred:
            pred = result_from_sample(data_sample, 'pred', seg_classes, det_classes)
            panels.append(draw_result(image, pred))
            if pred.depth is not None:
                panels.append(depth_colormap(pred.depth))
        drawn = np.concatenate(panels or [image], axis=1)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import cv2
            cv2.imwrite(out_file, drawn[:, :, ::-1])
        else:
            self.add_image(name, drawn, step)
        return drawn
