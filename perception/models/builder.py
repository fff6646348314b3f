"""Building the model and its parts from configs: the one ``load_config`` and the one ``build_model``.

``build_module`` is ``MODELS.build`` plus one fix: a part from another OpenMMLab package
(``type='mmdet.RTMDetSepBNHead'``) is built with that package as the default scope (``_scope_``).
Without it, the nested builds inside the mmdet/mmseg class (its losses, box coder, assigner) would be
looked up in the caller's ``perception`` scope and fail with "not in the perception registry".

Every entry point (training, test, export, the PyTorch backend of the Predictor, the benchmark)
reads configs with ``load_config`` and builds models with ``build_model``.
"""
from __future__ import annotations

import os.path as osp
from pathlib import Path
from typing import Any, Optional, Union

from mmengine.config import Config, ConfigDict
from torch import nn

from perception.contract import ConfigError
from perception.registry import MODELS

#: A config file path, a loaded ``Config``, or a model dict.
ConfigLike = Union[str, Path, Config, dict]


def build_module(cfg: dict) -> nn.Module:
    cfg = ConfigDict(cfg)
    kind = cfg.get('type')
    if isinstance(kind, str) and '.' in kind:
        cfg.setdefault('_scope_', kind.split('.', 1)[0])
    return MODELS.build(cfg)


def load_config(config: Union[str, Path, Config], cfg_options: Optional[dict] = None) -> Config:
    """A config file (or an already loaded ``Config``, returned as is) with ``cfg_options`` merged.

    Args:
        config: path of a config file, or a ``Config``.
        cfg_options: ``--cfg-options`` style overrides (``{'model.tasks': ('seg', )}``).

    Returns:
        The ``Config``, with ``default_scope`` set to ``'perception'`` when the file has none.

    Raises:
        ConfigError: the file is missing or cannot be read. A config is Python the user wrote, so
            anything that fails while reading it (a syntax error, a missing ``_base_``, a bad name)
            is the user's input error, reported in one line by the command line.
    """
    if isinstance(config, Config):
        cfg = config
    else:
        path = str(config)
        if not osp.isfile(path):
            raise ConfigError(f'config {path}: no such file')
        try:
            cfg = Config.fromfile(path)
        except Exception as err:   # noqa: BLE001 -- see Raises
            raise ConfigError(f'config {path} cannot be read: {type(err).__name__}: '
                              f'{" ".join(str(err).split())}') from err
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.setdefault('default_scope', 'perception')
    return cfg


def build_model(config: ConfigLike, checkpoint: Optional[str] = None,
                device: str = 'cpu') -> nn.Module:
    """The model of a config, in eval mode, with the weights of ``checkpoint`` when given.

    Args:
        config: config file path, loaded ``Config`` (its ``model`` is built) or a model dict.
        checkpoint: weights file, read with the safe (``weights_only``) loader; its
            ``meta['dataset_meta']`` (class names) becomes ``model.dataset_meta``, as in mmdet's
            ``init_detector``, and ``meta['sensors_seen']`` the model's count of the sensors seen
            in training. Without it the weights are the random initialisation.
        device: where the model is moved.

    Returns:
        The ``nn.Module`` (eval mode, on ``device``).
    """
    import perception.models  # noqa: F401  (registers the model parts)
    from mmengine.registry import DefaultScope
    cfg: Any = load_config(config) if isinstance(config, (str, Path)) else config
    scope = cfg.get('default_scope', 'perception') if isinstance(cfg, Config) else 'perception'
    if isinstance(cfg, Config) or 'model' in cfg:
        cfg = cfg['model']
    with DefaultScope.overwrite_default_scope(scope):
        model = build_module(cfg)
    if checkpoint:
        from .checkpoint import load_checkpoint_file, state_dict_of
        ckpt = load_checkpoint_file(str(checkpoint))
        missing, unexpected = model.load_state_dict(state_dict_of(ckpt), strict=False)
        if missing or unexpected:
            raise ConfigError(f'{checkpoint} does not fit {cfg.get("type")}: missing keys '
                              f'{missing[:5]}..., unexpected keys {unexpected[:5]}...')
        meta = ckpt.get('meta') or {}
        if meta.get('dataset_meta'):
            model.dataset_meta = dict(meta['dataset_meta'])
        # the sensors seen in training (SensorsSeenHook); a checkpoint without them: all of them
        if meta.get('sensors_seen') and hasattr(model, 'set_seen_counts'):
            model.set_seen_counts(meta['sensors_seen'])
    return model.to(device).eval()
