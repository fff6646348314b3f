"""Building the model and its parts from configs.

``build_module`` is ``MODELS.build`` plus one fix: a part from another OpenMMLab package
(``type='mmdet.RTMDetSepBNHead'``) is built with that package as the default scope (``_scope_``).
Without it, the nested builds inside the mmdet/mmseg class (its losses, box coder, assigner) would be
looked up in the caller's ``perception`` scope and fail with "not in the perception registry".
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config, ConfigDict
from torch import Tensor, nn

from perception.contract import SENSOR_CHANNELS, SENSORS
from perception.registry import MODELS


def build_module(cfg: dict) -> nn.Module:
    cfg = ConfigDict(cfg)
    kind = cfg.get('type')
    if isinstance(kind, str) and '.' in kind:
        cfg.setdefault('_scope_', kind.split('.', 1)[0])
    return MODELS.build(cfg)


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_model(cfg: Union[str, Config, dict]) -> nn.Module:
    """A model from a config file, a loaded ``Config`` (its ``model``) or a model dict."""
    import perception.models  # noqa: F401  (registers the model parts)
    if isinstance(cfg, str):
        cfg = load_config(cfg)
    if isinstance(cfg, Config) or 'model' in cfg:
        cfg = cfg['model']
    return build_module(cfg)


def dummy_inputs(height: int, width: int, batch: int = 1,
                 mask: Sequence[bool] = (True, ) * len(SENSORS), seed: int = 0):
    """Normalised random sensor tensors + mask, in the ``forward_export`` argument order."""
    gen = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(batch, SENSOR_CHANNELS[s], height, width, generator=gen)
               for s in SENSORS]
    m = torch.tensor([list(mask)] * batch, dtype=torch.float32)
    return (*tensors, m)


def export_inputs_dict(args: Sequence[Tensor]) -> dict:
    return dict(zip((*SENSORS, 'modality_mask'), args))


class ExportForward(nn.Module):
    """``forward_export`` as a tuple-returning ``forward``: tracers and FLOP counters want tensors,
    not a dict (used by tools/analysis/get_flops.py and the benchmark)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return tuple(self.model.forward_export(*inputs).values())
