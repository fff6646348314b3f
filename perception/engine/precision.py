"""Numeric precision of training and PyTorch inference: fp32, or bf16 autocast + channels_last.

On CPUs with native bf16 (AVX-512 BF16 or AMX, see ``perception.hardware``) a bf16 channels_last
convolution runs several times faster than fp32 (docs/benchmarks.md); bf16 keeps fp32's exponent
range, so no loss scaling is needed and master weights/optimizer state stay fp32.

One config key decides, from training to the Predictor's PyTorch backend:

    precision = 'auto'   # bf16 where the CPU has native bf16 (printed at start), else fp32
    precision = 'bf16'   # force bf16 autocast (``perception train --amp``)
    precision = 'fp32'   # force fp32 (``perception train --fp32``)
    channels_last = False  # NHWC model and activations (ChannelsLastHook)

channels_last is a separate switch because it is not always a gain: single bf16 convolutions are
fastest in NHWC, but for the nano model's training step the NHWC batch-norm and element-wise
backward kernels cost more than the convolutions gain (docs/benchmarks.md).

On CUDA, ``bf16``/``auto`` use mmengine's ``AmpOptimWrapper`` (fp16 with loss scaling) as before.
"""
from __future__ import annotations

import contextlib
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper

from perception.hardware import cpu_report
from perception.models.precision import PRECISIONS, autocast, resolve_precision  # noqa: F401
from perception.registry import HOOKS, OPTIM_WRAPPERS

@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward/loss run under CPU bf16 autocast (mmengine's
    ``AmpOptimWrapper`` refuses to run without a GPU). Gradients reach the fp32 master weights in
    fp32; bf16's fp32-sized exponent makes loss scaling unnecessary."""

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), autocast('bf16'):
            yield


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Puts the model in channels_last memory format before training and testing: oneDNN's bf16
    convolutions are fastest (and avoid layout reorders) in NHWC."""

    priority = 'VERY_HIGH'

    def _convert(self, runner) -> None:
        runner.model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self._convert(runner)

    def before_val(self, runner) -> None:
        self._convert(runner)

    def before_test(self, runner) -> None:
        self._convert(runner)


def apply_precision(cfg: Config, precision: Optional[str] = None, log=print) -> str:
    """Set ``cfg`` up for ``precision`` (default: the config's ``precision`` key, else 'auto'):
    the optimizer wrapper, autocast in the val/test loops and the channels_last hook. Returns the
    resolved precision and logs it with the CPU it was decided on."""
    requested = precision or cfg.get('precision', 'auto')
    resolved = resolve_precision(requested)
    cfg.precision = resolved
    optim = cfg.get('optim_wrapper')
    if torch.cuda.is_available():
        if resolved == 'bf16' and optim is not None and optim.get('type') != 'AmpOptimWrapper':
            optim.type, optim.loss_scale = 'AmpOptimWrapper', 'dynamic'
        log(f'precision: {resolved} (requested {requested}; CUDA: AmpOptimWrapper fp16)')
        return resolved
    if resolved == 'bf16':
        if optim is not None and optim.get('type', 'OptimWrapper') == 'OptimWrapper':
            optim.type = 'CPUAutocastOptimWrapper'
        for loop in ('val_cfg', 'test_cfg'):
            if cfg.get(loop) is not None:
                cfg[loop]['fp16'] = True  # mmengine's loops: autocast (bf16 on CPU)
    if cfg.get('channels_last', False):
        hooks = list(cfg.get('custom_hooks') or [])
        if not any(h.get('type') == 'ChannelsLastHook' for h in hooks):
            hooks.append(dict(type='ChannelsLastHook'))
        cfg.custom_hooks = hooks
    _log_once(log, f'precision: {resolved} (requested {requested}'
                   f'{", channels_last" if cfg.get("channels_last", False) else ""}) | '
                   f'{cpu_report()}')
    return resolved


_last_logged = [None]


def _log_once(log, message: str) -> None:
    """Commands that build several Runners (``test --modality-subsets``) print the line once."""
    if message != _last_logged[0]:
        _last_logged[0] = message
        log(message)
