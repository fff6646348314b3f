"""What ``precision`` means at inference and in the forward pass: ``resolve_precision`` turns the config
value ('auto', 'bf16', 'fp32') into the one used on this machine, ``autocast`` applies it.

Training's side (the optimizer wrapper, the test loops, channels_last) is
``perception.engine.precision``; the Predictor's PyTorch backend uses this module directly.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch

from perception.contract import ConfigError
from perception.hardware import bf16_default

PRECISIONS = ('auto', 'bf16', 'fp32')


def resolve_precision(precision: Optional[str]) -> str:
    """``'auto'``/None -> ``'bf16'`` on CPUs with native bf16 (or ``PERCEPTION_BF16=1``), else
    ``'fp32'``; explicit values are checked and returned."""
    precision = precision or 'auto'
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r} "
                         "(set `precision = 'auto'` in the config or pass --amp / --fp32)")
    if precision == 'auto':
        return 'bf16' if bf16_default() else 'fp32'
    return precision


@contextlib.contextmanager
def autocast(precision: str) -> Iterator[None]:
    """bf16 autocast on CPU for ``'bf16'``, nothing for ``'fp32'``."""
    if precision == 'bf16':
        with torch.autocast('cpu', dtype=torch.bfloat16):
            yield
    else:
        yield
