"""The model as deployment sees it: ``forward_export``'s argument order and the modules that wrap it.

* ``dummy_inputs``: normalised random sensor tensors + mask, in the ``forward_export`` argument order;
* ``ExportForward``: ``forward_export`` as a tuple-returning ``forward`` (tracers, FLOP counters);
* ``ExportWrapper``: the model's export contract plus the graph-side output stage, as one nn.Module.
  The exporter (``perception.deploy``) traces it and the PyTorch backend of the Predictor
  (``perception.apis``) runs it, so it lives next to the model, below both.


What it adds to ``model.forward_export`` (normalised inputs -> seg_logits, det_boxes (B, N, 4),
det_scores (B, N, C) sigmoid, depth_pred):

* absent sensors are re-zeroed from ``modality_mask`` in the graph, so a caller that forgets to zero
  them still gets the trained behaviour (and exporters keep the mask input even if the model ignores it);
* segmentation labels by argmax (int32: TensorRT 8.x has no int64 outputs), logits optional;
* detection: the top ``pre_nms_topk`` (box, class) pairs over all prior points and classes, as fixed-size
  ``det_boxes`` (B, K0, 4), ``det_scores`` (B, K0), ``det_labels`` (B, K0) int32. This is the ``--nms
  host`` graph; the in-graph NMS variants (ONNX NonMaxSuppression, TensorRT EfficientNMS_TRT) are
  appended to exactly this graph (perception.deploy.nms_graph), so every mode shares one export.

The PyTorch backend of the Predictor runs this same module, so all backends share one post-processing.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from perception.contract import SENSOR_CHANNELS, SENSORS, input_names

SEG_OUTPUTS = ('labels', 'logits', 'both')


def model_sensors(model: nn.Module) -> Tuple[str, ...]:
    """The sensors a ``forward_export`` model is built for (its ``sensors``; all three for a model
    that does not declare them)."""
    return tuple(getattr(model, 'sensors', SENSORS))


def dummy_inputs(height: int, width: int, batch: int = 1, mask: Optional[Sequence[bool]] = None,
                 seed: int = 0, sensors: Sequence[str] = SENSORS):
    """Normalised random sensor tensors + mask, in the ``forward_export`` argument order of a model
    built for ``sensors`` (``mask``: one bool per sensor, default all present)."""
    gen = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(batch, SENSOR_CHANNELS[s], height, width, generator=gen)
               for s in sensors]
    mask = (True, ) * len(sensors) if mask is None else tuple(mask)
    m = torch.tensor([list(mask)] * batch, dtype=torch.float32)
    return (*tensors, m)


def zero_inputs(height: int, width: int, sensors: Sequence[str] = SENSORS,
                device: Union[str, torch.device] = 'cpu'):
    """Zero sensor tensors and an all-present mask of batch 1 for a model built for ``sensors``:
    the example the exporter traces and shape probes run on."""
    tensors = [torch.zeros(1, SENSOR_CHANNELS[s], height, width, device=device) for s in sensors]
    return (*tensors, torch.ones(1, len(sensors), device=device))


class ExportForward(nn.Module):
    """``forward_export`` as a tuple-returning ``forward``: tracers and FLOP counters want tensors,
    not a dict (used by tools/analysis/get_flops.py and the benchmark)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return tuple(self.model.forward_export(*inputs).values())


class ExportWrapper(nn.Module):
    """The exported graph's module: ``model.forward_export`` plus the graph-side output stage (module
    docstring). The exporter traces it, the PyTorch backend of the Predictor runs it.

    Args:
        model: a module with ``forward_export(*sensor tensors, modality_mask) -> dict`` whose
            ``sensors`` (default all three) name the tensors, in ``contract.SENSORS`` order.
        pre_nms_topk: detection candidates kept, K0 of ``det_boxes`` (B, K0, 4).
        seg_output: ``'labels'`` (int32 argmax, ``seg_labels``), ``'logits'`` (``seg_logits``) or
            ``'both'``.

    ``forward(*inputs)`` takes the normalised inputs named ``input_names`` (the model's sensors,
    then ``modality_mask``: ``contract.INPUT_NAMES`` for a model of all three) and returns a tuple of tensors named by ``output_names`` (filled by the
    first call), in ``contract.OUTPUT_NAMES`` order: the segmentation output(s), ``det_boxes``,
    ``det_scores``, ``det_labels`` (models with detection) and ``depth_pred``.
    """

    def __init__(self, model: nn.Module, pre_nms_topk: int = 1000, seg_output: str = 'labels'):
        super().__init__()
        if not hasattr(model, 'forward_export'):
            raise TypeError(f'{type(model).__name__} has no forward_export(*sensors, '
                            'modality_mask): not an exportable perception model')
        if seg_output not in SEG_OUTPUTS:
            raise ValueError(f'seg_output must be one of {SEG_OUTPUTS}, got {seg_output!r}')
        self.model = model
        #: the model's sensors and the graph's input names (the sensors, then the mask)
        self.sensors: Tuple[str, ...] = model_sensors(model)
        self.input_names: Tuple[str, ...] = input_names(self.sensors)
        self.pre_nms_topk = int(pre_nms_topk)
        self.seg_output = seg_output
        self.output_names: List[str] = []

    def forward(self, *inputs: Tensor) -> Tuple[Tensor, ...]:
        """The exported graph's outputs for one batch; absent sensors are zeroed in the graph first.

        Args:
            *inputs: the tensors named by ``input_names``: each sensor of the model normalised --
                rgb (B, 3, H, W), thermal (B, 1, H, W), depth (B, 1, H, W), H and W multiples of
                32 -- then ``modality_mask`` (B, S) float, 1 where that sensor is present.

        Returns:
            The tensors named by ``output_names`` (set by this call), in ``contract.OUTPUT_NAMES``
            order: ``seg_labels`` (B, H, W) int32 and/or ``seg_logits`` (B, C_seg, H, W);
            ``det_boxes`` (B, K0, 4) xyxy pixels, ``det_scores`` (B, K0) and ``det_labels``
            (B, K0) int32, the top ``pre_nms_topk`` candidates before NMS; ``depth_pred``
            (B, 1, H, W) metres.

        Raises:
            ValueError: the model's ``forward_export`` returned none of the known outputs.
        """
        if len(inputs) != len(self.input_names):
            raise TypeError(f'the graph takes {len(self.input_names)} inputs {self.input_names}, '
                            f'got {len(inputs)}')
        *sensors, modality_mask = inputs
        mask = modality_mask.to(sensors[0].dtype)
        sensors = [x * mask[:, i].view(-1, 1, 1, 1) for i, x in enumerate(sensors)]
        raw = self.model.forward_export(*sensors, modality_mask)
        outputs: Dict[str, Tensor] = {}
        if 'seg_logits' in raw:
            if self.seg_output in ('logits', 'both'):
                outputs['seg_logits'] = raw['seg_logits']
            if self.seg_output in ('labels', 'both'):
                # max(1).indices, not argmax(1): the same labels (first maximum on ties), but
                # PyTorch 2.13's CPU argmax over a non-last dim took 14 of nano's 37 ms eager
                outputs['seg_labels'] = raw['seg_logits'].max(1).indices.to(torch.int32)
        if 'det_scores' in raw:
            outputs.update(self.top_candidates(raw['det_boxes'], raw['det_scores']))
        if 'depth_pred' in raw:
            outputs['depth_pred'] = raw['depth_pred']
        if not outputs:
            raise ValueError(f'forward_export returned none of seg_logits/det_scores/depth_pred '
                             f'(keys: {sorted(raw)})')
        self.output_names = list(outputs)
        return tuple(outputs.values())

    def top_candidates(self, boxes: Tensor, scores: Tensor) -> Dict[str, Tensor]:
        """Top-K (box, class) pairs by score: (B, K0, 4), (B, K0), (B, K0) int32, sorted."""
        num_classes = scores.shape[2]
        flat = scores.flatten(1)
        k = min(self.pre_nms_topk, flat.shape[1])   # static: shapes are fixed at export
        top_scores, top_idx = flat.topk(k, dim=1)
        box_idx = torch.div(top_idx, num_classes, rounding_mode='floor')
        labels = top_idx - box_idx * num_classes
        top_boxes = boxes.gather(1, box_idx.unsqueeze(-1).expand(-1, -1, 4))
        return {'det_boxes': top_boxes, 'det_scores': top_scores,
                'det_labels': labels.to(torch.int32)}

    @torch.no_grad()
    def run_numpy(self, inputs: Dict) -> Dict:
        """numpy in, numpy out (the PyTorch backend and the parity reference); floating outputs are
        float32 whatever precision the model ran in (numpy has no bfloat16)."""
        device = next(self.parameters()).device
        args = [torch.from_numpy(inputs[n]).to(device) for n in self.input_names]
        values = self(*args)
        return {n: (v.float() if v.is_floating_point() else v).detach().cpu().numpy()
                for n, v in zip(self.output_names, values)}
