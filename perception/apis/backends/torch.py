"""PyTorch backend: the model from a config (+ checkpoint), run eagerly through the same
``ExportWrapper`` that is exported, so its raw outputs are the ``--nms host`` graph's outputs."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from perception.contract import SENSOR_CHANNELS

from ..spec import ModelSpec


class TorchBackend:
    """A PyTorch model run through ``ExportWrapper`` (``--nms host`` outputs); ``from_config`` builds
    it from a config (+ checkpoint) with its ``ModelSpec``.

    The model runs in its inference form (a re-parameterised copy: branches merged, BatchNorm
    folded; the caller's model is not changed) and, with ``precision='bf16'``, under CPU bf16
    autocast (outputs returned in float32). ``precision='auto'`` follows the CPU
    (``perception.models.precision``)."""
    name = 'torch'

    def __init__(self, model, spec: ModelSpec, device: str = 'cpu', seg_output: str = 'labels',
                 precision: str = 'fp32'):
        import copy

        from perception.models.precision import resolve_precision
        from perception.models.export import ExportWrapper
        from perception.models.layers import reparameterize
        self.device = device
        self.precision = resolve_precision(precision)
        self.wrapper = ExportWrapper(reparameterize(copy.deepcopy(model)),
                                     pre_nms_topk=spec.pre_nms_topk,
                                     seg_output=seg_output).to(device).eval()
        h, w = spec.input_size
        probe = {s: np.zeros((1, SENSOR_CHANNELS[s], h, w), np.float32) for s in spec.sensors}
        probe[spec.input_names[-1]] = np.ones((1, len(spec.sensors)), np.float32)
        self.run(probe)   # learns the output names
        self.spec = spec.replace(outputs=tuple(self.wrapper.output_names),
                                 nms='host' if spec.nms != 'none' else 'none')

    @classmethod
    def from_config(cls, config, checkpoint: Optional[str] = None, device: str = 'cpu',
                    input_size: Optional[Sequence[int]] = None, **spec_options) -> 'TorchBackend':
        from perception.models.builder import build_model, load_config

        from ..config_spec import input_size_of, make_spec
        cfg = load_config(config)
        model = build_model(cfg, checkpoint, device)
        size = input_size_of(cfg, input_size)
        spec = make_spec(model, cfg, size, nms='host',
                         source=' '.join(str(p) for p in (config, checkpoint) if p),
                         **spec_options)
        return cls(model, spec, device, precision=cfg.get('precision', 'fp32'))

    @property
    def model(self):
        return self.wrapper.model

    def run(self, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """``Backend.run``: the model eagerly, under this backend's precision.

        Args:
            inputs: float32 batches named by ``spec.input_names`` (the model's sensors and
                ``modality_mask``); other keys are not read.

        Returns:
            The ``--nms host`` graph's outputs by name, numpy; floating ones float32.
        """
        from perception.models.precision import autocast
        with autocast(self.precision):
            return self.wrapper.run_numpy(inputs)
