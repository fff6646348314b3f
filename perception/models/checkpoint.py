"""Checkpoint files: always read with ``weights_only=True``.

* Training checkpoints written by this package (through mmengine's CheckpointHook) load safely thanks
  to the allow-list in ``perception.compat``; ``--resume`` uses them directly.
* ``make_release_checkpoint`` strips a training checkpoint to ``state_dict`` + plain ``meta``: the file
  to share, loadable by any PyTorch with ``weights_only=True`` and no allow-list at all.
* A checkpoint from elsewhere that the safe unpickler refuses is never loaded by default: convert it
  once with ``trust_source=True`` after checking where it came from (the only unsafe path, explicit).
"""
from __future__ import annotations

import os
from typing import Any, Dict

import torch

from perception.contract import ConfigError

_PLAIN = (str, int, float, bool, type(None))


def _plain(obj: Any) -> Any:
    """Keep only JSON-like metadata (drops numpy scalars, custom classes, ...)."""
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj if isinstance(_plain(x), (*_PLAIN, list, dict))]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()
                if isinstance(_plain(v), (*_PLAIN, list, dict))}
    if hasattr(obj, 'item') and getattr(obj, 'ndim', 1) == 0:
        return obj.item()
    return None


def load_checkpoint_file(path: str, trust_source: bool = False) -> Dict[str, Any]:
    """Read a checkpoint. ``trust_source=True`` is the single opt-in to full pickle loading."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if trust_source:
        return torch.load(path, map_location='cpu', weights_only=False)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError and friends
        cause = ' '.join(f'{type(exc).__name__}: {exc}'.split())[:200]
        raise ConfigError(
            f'{path} cannot be read by the safe (weights_only) loader ({cause}): a corrupt file, or '
            'objects it refuses. If you trust its source, convert it once: '
            '`python tools/publish_checkpoint.py IN OUT --trust-source`.'
        ) from exc


def state_dict_of(checkpoint: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    sd = checkpoint.get('state_dict', checkpoint)
    # DDP / EMA wrappers prefix parameter names.
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}


def make_release_checkpoint(src: str, dst: str, trust_source: bool = False) -> Dict[str, Any]:
    """Write ``dst`` with only the weights and plain metadata (config text, classes, iteration)."""
    ckpt = load_checkpoint_file(src, trust_source=trust_source)
    release = {'state_dict': state_dict_of(ckpt), 'meta': _plain(ckpt.get('meta', {})) or {}}
    torch.save(release, dst)
    # Prove the promise: the written file loads with the stock safe loader.
    torch.load(dst, map_location='cpu', weights_only=True)
    return release
