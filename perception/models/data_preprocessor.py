"""``MultiSensorDataPreprocessor``: packed samples -> one normalised, padded batch per sensor.

Order matters: normalise first, *then* zero absent sensors and invalid depth, so that "absent" and
"invalid" are exactly 0 in the network's input space whatever the normalisation constants are.
Targets are padded with the value that means "no target" (IGNORE_INDEX for labels, 0 m for depth),
so padding never produces a loss.
"""
from __future__ import annotations

import logging
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData
from torch import Tensor

from perception.contract import (IGNORE_INDEX, NORMALIZATION, SENSORS, SensorError,
                                 check_sensors)
from perception.registry import MODELS

from .sensor_inputs import MASK, check_sensor_tensors

Normalization = Mapping[str, Mapping[str, Sequence[float]]]


@MODELS.register_module()
class MultiSensorDataPreprocessor(BaseDataPreprocessor):
    """Stack, normalise, pad and mask the model's sensors; pad the targets to match.

    Args:
        normalization: per-sensor ``mean``/``std`` (defaults to ``contract.NORMALIZATION``); sensors
            not given keep the contract's values.
        size_divisor: pad H and W up to a multiple of this (32 = the coarsest pyramid stride).
        pad_seg_value / pad_depth_value: fill of padded target pixels.
        sensors: the sensors of the model (set by ``MultiTaskPerceptor`` from its own ``sensors``).
            Samples carry every sensor of the contract (absent ones as zeros, mask False); the batch
            holds only these, and ``modality_mask`` (B, len(sensors)) their columns. A sensor a
            sample brings that the model does not have is left out (logged once); a sample with
            none of the model's sensors present is an error.
    """

    def __init__(self, normalization: Optional[Normalization] = None, size_divisor: int = 32,
                 pad_seg_value: int = IGNORE_INDEX, pad_depth_value: float = 0.0,
                 non_blocking: bool = False, sensors: Sequence[str] = SENSORS):
        super().__init__(non_blocking)
        self.sensors = check_sensors(sensors, 'data_preprocessor.sensors')
        self._reported_unused = False
        norm = {s: dict(NORMALIZATION[s]) for s in SENSORS}
        for s, v in (normalization or {}).items():
            if s not in norm:
                raise KeyError(f'normalization for unknown sensor {s!r}; sensors are {SENSORS}')
            norm[s].update(v)
        for s in SENSORS:
            self.register_buffer(f'{s}_mean', torch.tensor(norm[s]['mean']).view(-1, 1, 1), False)
            self.register_buffer(f'{s}_std', torch.tensor(norm[s]['std']).view(-1, 1, 1), False)
        self.size_divisor = size_divisor
        self.pad_seg_value = pad_seg_value
        self.pad_depth_value = pad_depth_value

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs: Mapping[str, Union[Tensor, List[Tensor]]] = data['inputs']
        samples = data.get('data_samples')
        per_sample = self._split(inputs)
        for i, sample_inputs in enumerate(per_sample):
            sources = samples[i].metainfo.get('sources') if samples else None
            try:
                check_sensor_tensors(sample_inputs, sample_inputs.get(MASK), batched=False,
                                     sources=sources)
            except ValueError as err:  # say which sample of the batch it was
                err.args = (f'{err.args[0]} [batch sample {i}]', )
                raise
        pad_hw = self._pad_shape([x['rgb'].shape[-2:] for x in per_sample])
        out: Dict[str, Tensor] = {}
        masks = self._model_mask(torch.stack([x[MASK].to(torch.bool) for x in per_sample]),
                                 samples)   # (B, len(self.sensors))
        for j, s in enumerate(self.sensors):
            # one batched normalisation per sensor (not per sample): same values, far fewer ops
            raw = torch.stack([self._pad(x[s].float(), pad_hw, 0.0) for x in per_sample])
            norm = (raw - getattr(self, f'{s}_mean')) / getattr(self, f'{s}_std')
            keep = masks[:, j].view(-1, 1, 1, 1)
            if s == 'depth':  # invalid depth (0, negative, NaN, inf) -> 0 after normalising
                keep = keep & torch.isfinite(raw) & (raw > 0)
            # padding is 0 in the network's input space too (as if padded after normalising)
            keep = keep & self._valid_area(per_sample, pad_hw, raw)
            out[s] = torch.where(keep, norm, torch.zeros_like(norm))
        out[MASK] = masks.float()
        if samples:
            self._pad_targets(samples, per_sample, pad_hw)
        return dict(inputs=out, data_samples=samples)

    def _model_mask(self, masks: Tensor, samples) -> Tensor:
        """The contract mask (B, 3) reduced to the model's sensors; checks every sample keeps one."""
        if self.sensors == SENSORS:
            return masks
        cols = [SENSORS.index(s) for s in self.sensors]
        kept = masks[:, cols]
        for i in torch.nonzero(~kept.any(1)).flatten().tolist():
            meta = samples[i].metainfo if samples else {}
            brought = [s for s, m in zip(SENSORS, masks[i].tolist()) if m]
            raise SensorError(MASK, 'value', f"at least one of the model's sensors {self.sensors} "
                              'present in every sample (keep them in the pipeline, e.g. '
                              'ModalityDropout patterns of those sensors only)',
                              f"sample {meta.get('img_id', i)} [batch sample {i}] has only "
                              f'{brought or "none"}', (meta.get('sources') or {}).get(
                                  brought[0]) if brought else None)
        unused = [s for j, s in enumerate(SENSORS) if s not in self.sensors and bool(masks[:, j].any())]
        if unused and not self._reported_unused:
            self._reported_unused = True
            print_log(f'the model is built for {self.sensors}: {unused} in the data is not used '
                      '(logged once)', logger='current', level=logging.INFO)
        return kept

    @staticmethod
    def _split(inputs: Mapping[str, Union[Tensor, List[Tensor]]]) -> List[Dict[str, Tensor]]:
        """Pseudo-collated lists (or already stacked tensors) -> one dict per sample."""
        if MASK not in inputs:
            raise ValueError(f'inputs lack {MASK!r}; got keys {sorted(inputs)}')
        n = len(inputs[MASK])
        per_sample: List[Dict[str, Tensor]] = [{} for _ in range(n)]
        for key in (*SENSORS, MASK):
            values = inputs.get(key)
            if values is None:
                continue  # reported by check_sensor_tensors with the sensor's name
            if len(values) != n:
                raise ValueError(f'{key!r} has {len(values)} samples, {MASK!r} has {n}')
            for i in range(n):
                per_sample[i][key] = values[i]
        return per_sample

    def _pad_shape(self, sizes: Sequence[Tuple[int, int]]) -> Tuple[int, int]:
        d = self.size_divisor
        h = max(int(s[0]) for s in sizes)
        w = max(int(s[1]) for s in sizes)
        return math.ceil(h / d) * d, math.ceil(w / d) * d

    @staticmethod
    def _valid_area(per_sample: List[Dict[str, Tensor]], pad_hw: Tuple[int, int],
                    like: Tensor) -> Union[Tensor, bool]:
        """(B, 1, H, W) True inside each sample's own image, False in its padding (or True when
        nothing is padded)."""
        sizes = [tuple(x['rgb'].shape[-2:]) for x in per_sample]
        if all(hw == tuple(pad_hw) for hw in sizes):
            return True
        area = torch.zeros(len(sizes), 1, *pad_hw, dtype=torch.bool, device=like.device)
        for i, (h, w) in enumerate(sizes):
            area[i, :, :h, :w] = True
        return area

    @staticmethod
    def _pad(t: Tensor, pad_hw: Tuple[int, int], value: float) -> Tensor:
        """Pad bottom/right so pixel coordinates (and boxes) stay unchanged."""
        dh, dw = pad_hw[0] - t.shape[-2], pad_hw[1] - t.shape[-1]
        return F.pad(t, (0, dw, 0, dh), value=value) if dh or dw else t

    def _pad_targets(self, samples, per_sample: List[Dict[str, Tensor]],
                     pad_hw: Tuple[int, int]) -> None:
        for sample, x in zip(samples, per_sample):
            hw = tuple(int(v) for v in x['rgb'].shape[-2:])
            meta = dict(batch_input_shape=pad_hw, pad_shape=pad_hw)
            if 'img_shape' not in sample:
                meta['img_shape'] = hw  # mmdet assigners and the predict crop read it
            sample.set_metainfo(meta)
            if 'gt_sem_seg' in sample:
                seg = sample.gt_sem_seg.data
                sample.gt_sem_seg = PixelData(
                    data=self._pad(seg.long(), pad_hw, self.pad_seg_value))
            if 'gt_depth' in sample:
                depth = sample.gt_depth.data.float()
                depth = torch.where(torch.isfinite(depth), depth, torch.zeros_like(depth))
                sample.gt_depth = PixelData(data=self._pad(depth, pad_hw, self.pad_depth_value))
