"""``MultiTaskPerceptor``: the mmengine model tying the stages together.

    sensors --(mask absent)--> MultiSensorEncoder --> fusion (mask-aware) --> decoder (TaskExpert)
            --> heads (seg | det | depth) --> losses / exported tensors / data-sample predictions

Modes of ``forward`` (mmengine): 'loss' (dict of per-task weighted losses + expert balance), 'predict'
(data samples with predictions in original image coordinates), 'tensor' (the ``forward_export``
dict). ``forward_export`` is the static-shape graph the ONNX exporter traces.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel, ModuleDict
from torch import Tensor, nn

from perception.contract import SENSORS, TASKS, ConfigError, SensorError, check_sensors
from perception.registry import MODELS
from perception.structures import MultiTaskDataSample

from .builder import build_module
from .losses.subset_distillation import select_rows, strict_subsets
from .masking import keep_present
from .modes import dispatch_mode
from .sensor_inputs import batch_sensor_args, check_sensor_tensors

#: tasks whose head needs ``num_classes``
CLASSIFYING_TASKS = ('seg', 'det')


@MODELS.register_module()
class MultiTaskPerceptor(BaseModel):
    """The multi-task model: per-sensor encoders, mask-aware fusion, a shared decoder and one head
    per enabled task (module docstring).

    Args:
        sensors: the sensors the model is built for, a non-empty subset of ``contract.SENSORS`` in
            its order (``('rgb', 'thermal')`` for a robot without depth). Only these get an encoder,
            a share of the fusion and an input of the exported graph; ``modality_mask`` has one
            column per sensor, in this order. Injected into the encoder, fusion, decoder (mask
            routing), auxiliary heads and data preprocessor.
        encoder / fusion / decoder: configs; channel and level arguments are filled in here.
        heads: task -> head adapter config (``SegHead``, ``DenseDetHead``, ``DepthHead``); heads of
            tasks not in ``tasks`` are ignored, so a child config can switch tasks off.
        num_classes: ``dict(seg=..., det=...)``, injected into those heads.
        tasks: the enabled subset of ``('seg', 'det', 'depth')``.
        task_weighting: ``FixedTaskWeighting`` (``weights=``) or ``UncertaintyTaskWeighting``.
        sensor_aux: optional ``SensorAuxHeads`` config: uni-modal auxiliary losses on each
            sensor's encoder features (training only; against modality competition). Its tasks
            are narrowed to the enabled ones; channels and class counts are filled in here.
        subset_distillation: optional ``SubsetDistillation`` config: in each training step the
            network runs again on a random strict subset of each sample's sensors and learns to
            predict what it predicted with all of them (training only; its tasks are narrowed
            to the enabled ones).
    """

    def __init__(self, encoder: dict, fusion: dict, decoder: dict, heads: Mapping[str, dict],
                 num_classes: Optional[Mapping[str, int]] = None,
                 tasks: Sequence[str] = TASKS,
                 task_weighting: dict = dict(type='FixedTaskWeighting'),
                 data_preprocessor: Union[dict, nn.Module, None] = None,
                 sensor_aux: Optional[dict] = None,
                 subset_distillation: Optional[dict] = None,
                 sensors: Sequence[str] = SENSORS,
                 init_cfg: Optional[dict] = None):
        sensors = check_sensors(sensors, 'model.sensors')
        super().__init__(data_preprocessor=sensor_preprocessor(data_preprocessor, sensors),
                         init_cfg=init_cfg)
        self.tasks: Tuple[str, ...] = tuple(t for t in TASKS if t in tasks)
        if not self.tasks or len(self.tasks) != len(tuple(tasks)):
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, got {tuple(tasks)}')
        missing = [t for t in self.tasks if t not in heads]
        if missing:
            raise KeyError(f'no head config for enabled tasks {missing}')
        num_classes = dict(num_classes or {})

        #: the sensors the model is built for, in ``contract.SENSORS`` order: the encoders, the
        #: graph inputs and the columns of ``modality_mask``
        self.sensors: Tuple[str, ...] = sensors
        self.encoder = sensor_encoder(encoder, sensors)
        #: training samples in which each sensor was present (``loss`` counts them): which sensors
        #: the trained model has seen (``trained_sensors``). Not a buffer: the checkpoint's ``meta``
        #: carries it (``perception.engine.hooks.SensorsSeenHook``; ``build_model`` reads it back),
        #: so the weights and every exported graph stay as they were.
        self.sensors_seen = torch.zeros(len(sensors), dtype=torch.long)
        self.sensor_aux = None
        if sensor_aux is not None:
            aux_tasks = tuple(t for t in sensor_aux.get('tasks', ('seg', 'depth'))
                              if t in self.tasks)
            if aux_tasks:
                self.sensor_aux = build_module(dict(
                    sensor_aux, tasks=aux_tasks, in_channels=self.encoder.out_channels,
                    num_classes=num_classes.get('seg', 0), sensors=sensors))
        self.subset_distillation = None
        if subset_distillation is not None:   # built as configured (checked), then narrowed
            distill = build_module(subset_distillation)
            distill.tasks = tuple(t for t in distill.tasks if t in self.tasks)
            self.subset_distillation = distill if distill.tasks else None
        head_levels = {t: MODELS.get(heads[t]['type']).input_levels(heads[t])
                       for t in self.tasks}
        finest = min(min(levels) for levels in head_levels.values())
        num_levels = len(next(iter(self.encoder.out_channels.values())))
        self.fusion = sensor_fusion(fusion, self.encoder, sensors, range(finest, num_levels))
        if decoder.get('mask_routing'):   # the gates read one mask column per model sensor
            decoder = dict(decoder, num_sensors=len(sensors))
        self.decoder = build_module(dict(decoder, in_channels=self.fusion.out_channels,
                                         tasks=self.tasks, out_levels=head_levels))
        #: classes per classifying task of this model (``seg``, ``det``): what exporters and the
        #: Predictor read instead of running the model to see its output shapes
        self.num_classes: Dict[str, int] = {t: int(num_classes[t]) for t in self.tasks
                                            if t in CLASSIFYING_TASKS and t in num_classes}
        self.heads = ModuleDict()  # mmengine's: init_weights must reach the heads (mmdet priors)
        for t in self.tasks:
            cfg = dict(heads[t], in_channels=self.decoder.out_channels[t])
            if t in CLASSIFYING_TASKS:
                if t not in num_classes:
                    raise KeyError(f'num_classes[{t!r}] is required with task {t!r}')
                cfg['num_classes'] = num_classes[t]
            self.heads[t] = build_module(cfg)
        self.task_weighting = build_module(dict(task_weighting, tasks=self.tasks))

    # --- the network ------------------------------------------------------------------------------
    def seen_counts(self) -> Dict[str, int]:
        """``{sensor: training samples it was present in}``, what a checkpoint's ``meta`` keeps."""
        return dict(zip(self.sensors, (int(n) for n in self.sensors_seen.tolist())))

    def set_seen_counts(self, counts: Mapping[str, int]) -> None:
        """Restore ``seen_counts`` (from a checkpoint's ``meta``); sensors the model is not built
        for are ignored, missing ones count 0."""
        self.sensors_seen = torch.tensor([int(counts.get(s, 0)) for s in self.sensors],
                                         dtype=torch.long)

    @property
    def trained_sensors(self) -> Tuple[str, ...]:
        """The model's sensors present in at least one training sample (``sensors_seen``); all of
        ``sensors`` when nothing was counted (random weights, or a checkpoint from before the
        count existed)."""
        seen = tuple(s for s, n in zip(self.sensors, self.sensors_seen.tolist()) if n > 0)
        return seen or self.sensors

    def _sensor_tensors(self, args: Sequence[Tensor]) -> Tuple[Dict[str, Tensor], Tensor]:
        """``(*sensor tensors in self.sensors order, modality_mask)`` -> ({sensor: x}, mask)."""
        if len(args) != len(self.sensors) + 1:
            raise SensorError('modality_mask', 'inputs', f'{len(self.sensors) + 1} tensors '
                              f'{(*self.sensors, "modality_mask")} (the model is built for '
                              f'{self.sensors})', f'{len(args)} tensors')
        return dict(zip(self.sensors, args[:-1])), args[-1]

    def _run(self, *args: Tensor):
        """Raw head outputs per task, gate maps, fusion weights, the encoders' pyramids.

        ``args``: the model's sensor tensors in ``self.sensors`` order, then the mask."""
        given, mask = self._sensor_tensors(args)
        present = mask > 0.5
        # an absent sensor's input is exactly 0 whatever was passed (even NaN): the contract says
        # zeros, and this makes it true for callers that skip the data preprocessor
        inputs = {s: keep_present(given[s], present[:, i].view(-1, 1, 1, 1))
                  for i, s in enumerate(self.sensors)}
        feats = self.encoder(inputs)
        fused = self.fusion(feats, mask)
        decoded = self.decoder(fused.feats, mask)
        raw = {t: self.heads[t](decoded.feats[t], inputs) if self.heads[t].needs_inputs
               else self.heads[t](decoded.feats[t]) for t in self.tasks}
        return raw, decoded.gates, fused.weights, feats

    def forward_export(self, *inputs: Tensor, return_gates: bool = False) -> Dict[str, Tensor]:
        """Static-shape inference on normalised inputs: what the ONNX graph contains.

        Args:
            *inputs: one tensor per sensor of ``self.sensors``, in that order -- rgb (B, 3, H, W),
                thermal (B, 1, H, W), depth (B, 1, H, W), normalised with
                ``contract.NORMALIZATION``; H, W multiples of 32; an absent sensor's input is
                replaced by zeros whatever it holds -- then ``modality_mask`` (B, S) float/bool,
                which of ``self.sensors`` are present. A model of all three sensors takes
                ``(rgb, thermal, depth, modality_mask)``.
            return_gates: also return the routing: ``gate_<task>_s<stride>`` (B, E + 1, h, w)
                TaskExpert gate weights and ``fusion_s<stride>`` (B, S, h, w) per-pixel sensor
                weights.

        Returns:
            The enabled tasks' outputs: ``seg_logits`` (B, C_seg, H, W); ``det_boxes`` (B, N, 4)
            xyxy pixels for all N priors and ``det_scores`` (B, N, C_det) in [0, 1] before NMS;
            ``depth_pred`` (B, 1, H, W) metres.
        """
        given, modality_mask = self._sensor_tensors(inputs)
        check_sensor_tensors(given, modality_mask, batched=True, require_present=False,
                             sensors=self.sensors)
        first = given[self.sensors[0]]
        hw = (int(first.shape[-2]), int(first.shape[-1]))
        raw, gates, fusion_weights, _ = self._run(*given.values(), modality_mask.float())
        out: Dict[str, Tensor] = {}
        for t in self.tasks:
            out.update(self.heads[t].export(raw[t], hw))
        if return_gates:
            out.update(gates)
            out.update(fusion_weights)
        return out

    # --- mmengine modes ---------------------------------------------------------------------------
    def forward(self, inputs: Mapping[str, Tensor],
                data_samples: Optional[List[MultiTaskDataSample]] = None,
                mode: str = 'tensor'):
        """mmengine's entry point (``Runner``, ``val_step``, ``test_step``).

        Args:
            inputs: ``{<each of self.sensors>, modality_mask}`` batches from
                ``MultiSensorDataPreprocessor`` (checked: a bad tensor raises ``SensorError``).
            data_samples: the batch's ``MultiTaskDataSample`` s (targets for 'loss').
            mode: 'loss', 'predict' or 'tensor'.

        Returns:
            'loss': ``loss``'s dict; 'predict': ``predict``'s samples; 'tensor': the
            ``forward_export`` dict.
        """
        return dispatch_mode(mode, batch_sensor_args(inputs, self.sensors), data_samples,
                             loss=self.loss,
                             predict=self.predict, tensor=self.forward_export)

    def loss(self, args: Tuple[Tensor, ...], data_samples: List[MultiTaskDataSample]
             ) -> Dict[str, Tensor]:
        """The training losses of one batch.

        Args:
            args: the model's sensor tensors and the mask, as ``batch_sensor_args`` returns them.
            data_samples: one ``MultiTaskDataSample`` per image; a task's loss uses only the
                samples that carry its target (none: a graph-connected zero).

        Returns:
            each head's terms as ``<task>_<term>``, weighted by ``task_weighting`` (which also
            logs ``<task>_weight`` or ``<task>_loss_logvar``), ``loss_balance`` (expert balance,
            when the decoder has one), the ``sensor_aux`` losses and the ``distill_loss_<task>``
            terms (``subset_distillation``) when configured.
        """
        raw, gates, _, feats = self._run(*args)
        with torch.no_grad():
            self.sensors_seen += (args[-1] > 0.5).sum(0).cpu().long()
        task_losses, has_target = {}, {}
        for t in self.tasks:
            keep = [i for i, s in enumerate(data_samples) if s.has_target(t)]
            has_target[t] = bool(keep)
            task_losses[t] = self.heads[t].loss(raw[t], data_samples, keep)
        losses = self.task_weighting(task_losses, has_target)
        balance = self.decoder.aux_loss(gates)
        if balance is not None:
            losses['loss_balance'] = balance
        if self.sensor_aux is not None:
            losses.update(self.sensor_aux.loss(feats, args[-1] > 0.5, data_samples))
        if self.subset_distillation is not None:
            losses.update(self._distill_to_subsets(args, raw))
        return losses

    def _distill_to_subsets(self, args: Tuple[Tensor, ...], raw: Mapping[str, object]
                            ) -> Dict[str, Tensor]:
        """The ``subset_distillation`` terms: the samples with >= 2 sensors run again on a random
        strict subset of them; their outputs learn the first pass's (detached)."""
        distill = self.subset_distillation
        student_mask, rows = strict_subsets(args[-1] > 0.5)
        if not bool(rows.any()):   # every sample has one sensor: nothing to distil this step
            return {f'distill_loss_{t}': args[0].new_zeros(()) for t in distill.tasks}
        idx = torch.nonzero(rows).flatten()
        sub = [a.index_select(0, idx) for a in args[:-1]]
        student, _, _, _ = self._run(*sub, student_mask[rows].to(args[-1].dtype))
        teacher = {t: select_rows(raw[t], idx) for t in distill.tasks}
        return distill.loss(teacher, {t: student[t] for t in distill.tasks})

    def predict(self, args: Tuple[Tensor, ...],
                data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        """Predictions in each image's original coordinates (what ``MultiTaskMetric`` reads).

        Args:
            args: the model's sensor tensors and the mask, as ``batch_sensor_args`` returns them.
            data_samples: the batch's samples, with ``ori_shape`` / ``scale_factor`` metainfo;
                None: new empty samples (predictions at network resolution).

        Returns:
            The samples with ``seg_logits`` / ``pred_sem_seg``, ``pred_instances`` (after NMS)
            and ``pred_depth`` filled for the enabled tasks.
        """
        outs = self.forward_export(*args)
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(args[0].shape[0])]
        for t in self.tasks:
            self.heads[t].predict(outs, data_samples)
        return data_samples


def sensor_preprocessor(cfg: Union[dict, nn.Module, None], sensors: Tuple[str, ...]) -> nn.Module:
    """The data preprocessor of a model built for ``sensors``: built from ``cfg`` (default
    ``MultiSensorDataPreprocessor``) with the model's sensors, or checked when already built."""
    if cfg is None:
        cfg = dict(type='MultiSensorDataPreprocessor')
    if isinstance(cfg, dict):  # our registry: no default scope needed
        return build_module(dict(cfg, sensors=_own_sensors(cfg, sensors, 'data_preprocessor')))
    if tuple(getattr(cfg, 'sensors', sensors)) != sensors:
        raise ConfigError(f'the data preprocessor is built for {cfg.sensors}, the model for '
                          f'{sensors}')
    return cfg


def sensor_encoder(cfg: Mapping, sensors: Tuple[str, ...]) -> nn.Module:
    """The per-sensor encoders of a model built for ``sensors``."""
    return build_module(dict(cfg, sensors=_own_sensors(cfg, sensors, 'encoder')))


def sensor_fusion(cfg: Mapping, encoder: nn.Module, sensors: Tuple[str, ...],
                  levels: Sequence[int]) -> nn.Module:
    """The fusion of ``encoder``'s pyramids at ``levels`` (the ones a decoder reads)."""
    return build_module(dict(cfg, in_channels=encoder.out_channels, sensors=sensors,
                             levels=tuple(levels)))


def _own_sensors(part: Mapping, sensors: Tuple[str, ...], name: str) -> Tuple[str, ...]:
    """The model's ``sensors`` for one of its parts' configs; a part config that names other
    sensors is an error (the model's ``sensors`` is the one place they are declared)."""
    given = part.get('sensors')
    if given is not None and tuple(given) != sensors:
        raise ConfigError(f'{name}.sensors is {tuple(given)} but model.sensors is {sensors}: set '
                          'the sensors once, as model.sensors (the model passes them on)')
    return sensors
