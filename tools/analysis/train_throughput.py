#!/usr/bin/env python
"""Training throughput of a config: fp32 vs bf16 autocast (and channels_last), and data time vs step
time, measured in one run on the same batches, so the ratios hold on a shared machine.

    python tools/analysis/train_throughput.py configs/demo/nano_synthetic_demo.py
    python tools/analysis/train_throughput.py CONFIG --steps 10 --rounds 3 --channels-last

Batches come from the config's own training pipeline (real transforms, real targets), produced in
this process so that their cost can be measured; they are then cached, and each variant runs
``--steps`` optimiser steps per round, variants interleaved for ``--rounds`` rounds (machine noise
hits all of them alike). Prints the CPU, the median step time of each variant, iterations per
second and the ratios. Figures: docs/training.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('config')
    ap.add_argument('--batches', type=int, default=6, help='distinct batches cached and cycled')
    ap.add_argument('--steps', type=int, default=8, help='optimiser steps per variant and round')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--channels-last', action='store_true', help='also time channels_last')
    ap.add_argument('--threads', type=int, default=None)
    args = ap.parse_args()

    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import perception.registry  # noqa: F401
    from perception.engine.config import runner_config
    from perception.hardware import cpu_report, has_native_bf16
    from perception.models.builder import build_model
    if args.threads:
        torch.set_num_threads(args.threads)
    print(cpu_report(), f'| torch threads {torch.get_num_threads()}')
    cfg = runner_config(args.config, precision='fp32')
    init_default_scope('perception')
    loader_cfg = dict(cfg.train_dataloader, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batches, data_times = [], []
    it = iter(loader)
    for _ in range(args.batches):
        t0 = time.perf_counter()
        batches.append(next(it))
        data_times.append(time.perf_counter() - t0)
    data_s = statistics.median(data_times)
    print(f'data pipeline: {data_s:.3f} s per batch of {cfg.train_dataloader.batch_size} '
          f'(one process; the loader worker spends this per step)')

    model = build_model(cfg).train()
    variants = [('fp32', 'OptimWrapper', False)]
    if has_native_bf16():
        variants.append(('bf16', 'CPUAutocastOptimWrapper', False))
    if args.channels_last:
        variants += [(f'{name} + channels_last', kind, True) for name, kind, _ in list(variants)]
    optim_cfg = {k: v for k, v in cfg.optim_wrapper.items() if k != 'type'}
    wrappers = {name: build_optim_wrapper(model, dict(optim_cfg, type=kind))
                for name, kind, _ in variants}
    times = {name: [] for name, _, _ in variants}
    step = 0
    for _ in range(1 + args.rounds):        # the first round warms up every variant
        for name, _, channels_last in variants:
            model.to(memory_format=torch.channels_last if channels_last
                     else torch.contiguous_format)
            for _ in range(args.steps):
                t0 = time.perf_counter()
                model.train_step(batches[step % len(batches)], wrappers[name])
                times[name].append(time.perf_counter() - t0)
                step += 1
    print(f'{"variant":26s} {"step s":>7s} {"it/s":>6s} {"vs fp32":>8s}')
    ref = statistics.median(times['fp32'][args.steps:])
    for name, values in times.items():
        med = statistics.median(values[args.steps:])
        print(f'{name:26s} {med:7.3f} {1 / med:6.2f} {ref / med:7.2f}x')
    print(f'data / fp32 step: {data_s / ref:.2f} (the loader runs in a worker process beside the '
          'step; on 2 cores it takes CPU time from it)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
