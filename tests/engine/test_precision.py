"""Precision: 'auto' follows the CPU (or PERCEPTION_BF16), the config switch reaches the optimizer
wrapper, the test loops and the hooks (the bf16 step itself: tests/models/test_bf16.py)."""
import argparse

import pytest
import torch
from mmengine.config import Config

from perception.engine.precision import apply_precision, resolve_precision
from perception.hardware import BF16_ENV, cpu_report, has_native_bf16

DEMO = 'configs/demo/nano_synthetic_demo.py'


def test_explicit_and_auto_precision(monkeypatch):
    assert resolve_precision('fp32') == 'fp32' and resolve_precision('bf16') == 'bf16'
    monkeypatch.setenv(BF16_ENV, '1')
    assert resolve_precision('auto') == 'bf16'
    monkeypatch.setenv(BF16_ENV, '0')
    assert resolve_precision(None) == 'fp32'
    monkeypatch.delenv(BF16_ENV)
    assert resolve_precision('auto') == ('bf16' if has_native_bf16() else 'fp32')
    assert 'native bf16: ' in cpu_report()


def test_bad_precision_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="'auto', 'bf16', 'fp32'"):
        resolve_precision('fp16')
    monkeypatch.setenv(BF16_ENV, 'yes')
    with pytest.raises(ValueError, match=BF16_ENV):
        resolve_precision('auto')


def test_config_switch_reaches_wrapper_loops_and_hooks():
    logged = []
    cfg = Config.fromfile(DEMO)
    assert apply_precision(cfg, 'bf16', log=logged.append) == 'bf16'
    assert cfg.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    assert cfg.test_cfg.fp16 and cfg.val_cfg.fp16 and cfg.precision == 'bf16'
    assert not any(h['type'] == 'ChannelsLastHook' for h in cfg.custom_hooks)
    assert logged and 'precision: bf16' in logged[-1] and 'cpu ' in logged[-1]
    cfg = Config.fromfile(DEMO)
    cfg.channels_last = True
    assert apply_precision(cfg, 'fp32', log=logged.append) == 'fp32'
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert any(h['type'] == 'ChannelsLastHook' for h in cfg.custom_hooks)


def test_train_command_flags():
    from perception.commands import train
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    assert parser.parse_args([DEMO, '--amp']).precision == 'bf16'
    assert parser.parse_args([DEMO, '--fp32']).precision == 'fp32'
    assert parser.parse_args([DEMO]).precision is None
    with pytest.raises(SystemExit):
        parser.parse_args([DEMO, '--amp', '--fp32'])
