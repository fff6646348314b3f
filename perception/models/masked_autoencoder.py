"""``MaskedMultiSensorAutoencoder``: masked multi-sensor pretraining of the encoders and the fusion
on unlabelled frames (MultiMAE, Bachmann et al. 2022, for the package's convolutional encoders).

    sensors --(hide patches: patch_masking)--> MultiSensorEncoder --> fusion (mask-aware)
            --> one ReconstructionDecoder per sensor --> loss on the hidden patches (norm_pix)

The encoders are convolutional, so a hidden patch is not dropped from a token sequence: its pixels
are set to 0 in the network's input space -- the normalisation mean, the value the package already
gives an absent sensor and invalid depth -- and the decoders are told which patches were visible. A
sensor whose patches are all hidden in a sample is absent for the fusion there (MultiMAE: a modality
with no visible token adds no token), so the others must carry its reconstruction: depth from RGB +
thermal, thermal from RGB + depth. A sensor absent from a frame is neither input nor target.

The encoder and the fusion are built exactly as ``MultiTaskPerceptor`` builds them (same configs,
same state-dict names ``encoder.*`` / ``fusion.*``), so ``transferable_state_dict`` loads into a
perceptor through mmengine's ``load_from`` or ``init_cfg=dict(type='Pretrained', ...)``
(docs/pretraining.md).

Modes of ``forward`` (mmengine): 'loss' (``loss_<sensor>`` per model sensor, and the share of
visible patches), 'predict' (data samples with ``recon_loss`` and ``reconstruction`` under a fixed
mask, for held-out frames), 'tensor' (the ``Reconstruction``).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel, ModuleDict
from torch import Tensor, nn

from perception.contract import SENSOR_CHANNELS, SENSORS, STRIDES, check_sensors
from perception.registry import MODELS
from perception.structures import MultiTaskDataSample

from .builder import build_module
from .losses.masked_reconstruction import masked_patch_loss, normalised_patches
from .masking import keep_present
from .modes import dispatch_mode
from .patch_masking import (Ratio, patch_grid, patches_to_pixels, patchify, ratio_range,
                            sample_visible_patches, unpatchify)
from .perceptor import sensor_encoder, sensor_fusion, sensor_preprocessor
from .sensor_inputs import batch_sensor_args

#: state-dict prefixes shared with ``MultiTaskPerceptor``: what pretraining hands on
TRANSFERRED = ('encoder.', 'fusion.')


class Reconstruction(NamedTuple):
    preds: Dict[str, Tensor]   # sensor -> (B, C, H, W) prediction in per-patch normalised units
    visible: Tensor            # (B, S, N) bool: the patches each sensor showed the encoders
    present: Tensor            # (B, S) bool: the sensors each frame has


@MODELS.register_module()
class MaskedMultiSensorAutoencoder(BaseModel):
    """Args:
        encoder / fusion: the configs of the model to pretrain (``_base_.model.encoder``, ...).
        decoder: one per sensor (``ReconstructionDecoder``); channels and levels are set here.
        sensors: the sensors of the model to pretrain (its ``model.sensors``).
        patch_size: side of the hidden/visible patches in input pixels (must tile the padded
            input: the data preprocessor's ``size_divisor`` is a multiple of it).
        mask_ratio: share of the present sensors' patches hidden per sample, a number or a
            ``(low, high)`` range drawn uniformly per sample.
        dirichlet_alpha: concentration of the per-sample sensor mix of the visible patches.
        levels: the fused levels (default all four; the downstream model's fusion levels, e.g.
            ``(1, 2, 3)`` for one whose heads start at stride 8, so that no key is left over).
        eval_seed: seed of the fixed masks of 'predict' (held-out frames compare across runs).
    """

    def __init__(self, encoder: dict, fusion: dict,
                 decoder: dict = dict(type='ReconstructionDecoder'),
                 sensors: Sequence[str] = SENSORS, patch_size: int = 16,
                 mask_ratio: Ratio = (0.6, 0.9), dirichlet_alpha: float = 1.0,
                 levels: Optional[Sequence[int]] = None, eval_seed: int = 0,
                 data_preprocessor: Union[dict, nn.Module, None] = None,
                 init_cfg: Optional[dict] = None):
        sensors = check_sensors(sensors, 'model.sensors')
        super().__init__(data_preprocessor=sensor_preprocessor(data_preprocessor, sensors),
                         init_cfg=init_cfg)
        self.sensors: Tuple[str, ...] = sensors
        self.patch_size = int(patch_size)
        self.mask_ratio = ratio_range(mask_ratio)
        if dirichlet_alpha <= 0:
            raise ValueError(f'dirichlet_alpha must be > 0, got {dirichlet_alpha}')
        self.alpha = float(dirichlet_alpha)
        self.eval_seed = int(eval_seed)
        levels = tuple(range(len(STRIDES)) if levels is None else levels)
        self.encoder = sensor_encoder(encoder, sensors)
        self.fusion = sensor_fusion(fusion, self.encoder, sensors, levels)
        self.decoders = ModuleDict({   # mmengine's: init_weights reaches them
            s: build_module(dict(decoder, in_channels=self.fusion.out_channels, levels=levels,
                                 out_channels=SENSOR_CHANNELS[s], num_sensors=len(sensors)))
            for s in sensors})

    # --- the network ------------------------------------------------------------------------------
    def reconstruct(self, *args: Tensor) -> Reconstruction:
        """Hide patches, encode, fuse, decode every sensor.

        ``args``: the model's sensor tensors (normalised, absent ones zero) and the mask, as
        ``batch_sensor_args`` returns them."""
        given, present = dict(zip(self.sensors, args[:-1])), args[-1] > 0.5
        first = given[self.sensors[0]]
        size = tuple(first.shape[-2:])
        rows, cols = patch_grid(size, self.patch_size)
        visible = sample_visible_patches(present, rows * cols, self.mask_ratio,
                                         self.alpha).to(first.device)
        shown = patches_to_pixels(visible, self.patch_size, size)
        inputs = {s: keep_present(given[s], shown[:, i:i + 1])
                  for i, s in enumerate(self.sensors)}
        seen = present & visible.any(-1)     # a sensor with every patch hidden: absent to fusion
        fused = self.fusion(self.encoder(inputs), seen.to(args[-1].dtype))
        grid = visible.view(*visible.shape[:2], rows, cols)
        preds = {s: self.decoders[s](fused.feats, grid) for s in self.sensors}
        return Reconstruction(preds, visible, present)

    def transferable_state_dict(self) -> Dict[str, Tensor]:
        """The encoder and fusion weights under the names ``MultiTaskPerceptor`` gives them."""
        return {k: v.detach().cpu().clone() for k, v in self.state_dict().items()
                if k.startswith(TRANSFERRED)}

    # --- mmengine modes ---------------------------------------------------------------------------
    def forward(self, inputs: Mapping[str, Tensor],
                data_samples: Optional[List[MultiTaskDataSample]] = None, mode: str = 'tensor'):
        """mmengine's entry point; ``inputs`` from ``MultiSensorDataPreprocessor``."""
        return dispatch_mode(mode, batch_sensor_args(inputs, self.sensors), data_samples,
                             loss=self.loss, predict=self.predict, tensor=self.reconstruct)

    def loss(self, args: Tuple[Tensor, ...], data_samples: Sequence[MultiTaskDataSample]
             ) -> Dict[str, Tensor]:
        """``loss_<sensor>``: the norm-pix error on that sensor's hidden patches over the frames
        that have it (a graph-connected 0 when none does); ``visible``: the share of the present
        sensors' patches the encoders saw (logged, not optimised)."""
        rec = self.reconstruct(*args)
        losses = {f'loss_{s}': loss for s, loss in self._sensor_losses(args, rec,
                                                                        data_samples).items()}
        shown = (rec.visible.sum((1, 2)).float() /
                 (rec.present.sum(1) * rec.visible.shape[-1]).clamp_min(1)).mean()
        losses['visible'] = shown.detach()
        return losses

    def _sensor_losses(self, args: Tuple[Tensor, ...], rec: Reconstruction,
                       samples: Sequence[MultiTaskDataSample]) -> Dict[str, Tensor]:
        valid = self.valid_pixels(args, samples)
        return {s: masked_patch_loss(rec.preds[s], args[i],
                                     rec.present[:, i:i + 1] & ~rec.visible[:, i], valid[s],
                                     self.patch_size)
                for i, s in enumerate(self.sensors)}

    def valid_pixels(self, args: Tuple[Tensor, ...],
                     samples: Sequence[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """sensor -> (B, 1, H, W) bool: the pixels a loss reads -- inside each frame's own image
        (``img_shape``: not padding), and for depth only valid readings (the data preprocessor
        makes invalid depth exactly 0)."""
        first = args[0]
        b, _, h, w = first.shape
        area = torch.zeros(b, 1, h, w, dtype=torch.bool, device=first.device)
        for i, sample in enumerate(samples):
            ih, iw = sample.metainfo.get('img_shape', (h, w))[:2]
            area[i, :, :ih, :iw] = True
        out = {}
        for i, s in enumerate(self.sensors):
            x = args[i]
            out[s] = area & (x != 0).any(1, keepdim=True) if s == 'depth' else area
        return out

    @torch.no_grad()
    def predict(self, args: Tuple[Tensor, ...],
                data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        """Reconstructions under a fixed mask (``eval_seed``), in the sensors' own units.

        Each sample gets ``recon_loss`` (sensor -> its loss on this frame, present sensors only)
        and ``reconstruction`` (sensor -> ``dict(input, visible, reconstruction, target)``: the
        input the encoders saw, its visible pixels (1, H, W) bool, the prediction with the visible
        patches pasted in, and the frame; (C, H, W) float tensors in the contract's units -- rgb
        0..255, thermal [0, 1], depth metres, 0 = invalid -- cropped to ``img_shape``). The
        prediction of a hidden patch is shown with its target's own mean and spread, as MAE
        shows its norm_pix reconstructions.
        """
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(args[0].shape[0])]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.eval_seed)
            rec = self.reconstruct(*args)
        valid = self.valid_pixels(args, data_samples)
        size = tuple(args[0].shape[-2:])
        shown = patches_to_pixels(rec.visible, self.patch_size, size)
        for i, s in enumerate(self.sensors):
            target = args[i].float()
            patches = normalised_patches(target, valid[s], self.patch_size)
            pred = patchify(rec.preds[s].float(), self.patch_size) * patches.std + patches.mean
            seen = shown[:, i:i + 1]
            pasted = torch.where(seen, target, unpatchify(pred, self.patch_size, size))
            for b, sample in enumerate(data_samples):
                if not rec.present[b, i]:
                    continue
                counted = rec.present[b:b + 1, i:i + 1] & ~rec.visible[b:b + 1, i]
                loss = masked_patch_loss(rec.preds[s][b:b + 1], target[b:b + 1], counted,
                                         valid[s][b:b + 1], self.patch_size)
                h, w = sample.metainfo.get('img_shape', size)[:2]
                crop = (slice(None), slice(0, h), slice(0, w))
                units = {k: self._sensor_units(s, v[b], valid[s][b])[crop] for k, v in (
                    ('input', torch.where(seen, target, torch.zeros_like(target))),
                    ('reconstruction', pasted), ('target', target))}
                units['visible'] = seen[b][crop].cpu()
                self._add(sample, 'recon_loss', s, float(loss))
                self._add(sample, 'reconstruction', s, units)
        return data_samples

    def _sensor_units(self, sensor: str, x: Tensor, valid: Tensor) -> Tensor:
        """(C, H, W) normalised -> the contract's units; invalid depth 0."""
        pre = self.data_preprocessor
        out = x * getattr(pre, f'{sensor}_std') + getattr(pre, f'{sensor}_mean')
        if sensor == 'depth':
            out = torch.where(valid, out, torch.zeros_like(out))
        return out.cpu()

    @staticmethod
    def _add(sample: MultiTaskDataSample, field: str, key: str, value) -> None:
        table = dict(sample.get(field) or {})
        table[key] = value
        sample.set_field(table, field)
