#!/usr/bin/env python
"""Latency of candidate building blocks at the nano model's resolutions, in the backends that ship.

The nano architecture is chosen by measured latency, not by multiply-adds: this script times each
candidate block (batch 1, the feature-map sizes of a 256x320 input) in PyTorch eager FP32, PyTorch
eager bf16 + channels_last (where the CPU has native bf16) and ONNX Runtime FP32, and prints
achieved GFLOP/s next to the machine's measured matmul peak. Figures: docs/benchmarks.md.

    python tools/analysis/block_latency.py               # all blocks, 2 threads
    python tools/analysis/block_latency.py --only dense  # blocks whose name contains 'dense'
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Callable, List, Tuple

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout


def _conv(cin, cout, k=3, s=1, g=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class InvertedResidual(nn.Module):
    """MobileNetV2 block (the old nano's encoder block): 1x1 expand, depthwise 3x3, 1x1 project."""

    def __init__(self, c, expand=3):
        super().__init__()
        h = c * expand
        self.body = nn.Sequential(_conv(c, h, 1), _conv(h, h, 3, g=h),
                                  nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class DwSeparable(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c, c, 3, g=c), _conv(c, c, 1))

    def forward(self, x):
        return self.body(x)


class Parallel(nn.Module):
    """``n`` independent blocks on ``n`` inputs, one after another (three encoders, as today)."""

    def __init__(self, make, n):
        super().__init__()
        self.blocks = nn.ModuleList(make() for _ in range(n))

    def forward(self, x):
        return torch.cat([b(c) for b, c in zip(self.blocks, x.chunk(len(self.blocks), 1))], 1)


def candidates(hw: Tuple[int, int]) -> List[Tuple[str, Tuple[int, int, int], Callable[[], nn.Module]]]:
    """(name, input (C, H, W), factory) for the blocks compared."""
    h, w = hw
    rows = []
    for stride, c in ((4, 32), (8, 64), (16, 96), (32, 128)):
        s = (h // stride, w // stride)
        rows += [
            (f's{stride} dense3x3 {c}', (c, *s), lambda c=c: _conv(c, c)),
            (f's{stride} dwsep {c}', (c, *s), lambda c=c: DwSeparable(c)),
            (f's{stride} mbv2 x3 {c}', (c, *s), lambda c=c: InvertedResidual(c)),
            (f's{stride} 3 sensors grouped dense3x3 {c}', (3 * c, *s),
             lambda c=c: _conv(3 * c, 3 * c, g=3)),
            (f's{stride} 3 sensors separate dense3x3 {c}', (3 * c, *s),
             lambda c=c: Parallel(lambda: _conv(c, c), 3)),
            (f's{stride} 1x1 {c}', (c, *s), lambda c=c: _conv(c, c, 1)),
            (f's{stride} 3 tasks grouped 1x1 {c}', (3 * c, *s), lambda c=c: _conv(3 * c, 3 * c, 1, g=3)),
            (f's{stride} 3 tasks separate 1x1 {c}', (3 * c, *s),
             lambda c=c: Parallel(lambda: _conv(c, c, 1), 3)),
        ]
    return rows


def macs(module: nn.Module, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(x)
    return counter.get_total_flops() / 2


def time_call(fn, runs: int, warmup: int) -> float:
    """Median wall time of ``fn`` in ms (the benchmark suite's timing and statistics)."""
    from perception.benchmark.runners import latency_stats, time_runner
    return latency_stats(time_runner(fn, runs, warmup))['median_ms']


def ort_session(module: nn.Module, x: torch.Tensor, threads: int):
    import onnxruntime as ort
    buf = io.BytesIO()
    torch.onnx.export(module, (x,), buf, input_names=['x'], opset_version=17, dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(buf.getvalue(), so, providers=['CPUExecutionProvider'])
    feed = {'x': x.numpy()}
    return lambda: sess.run(None, feed)


def main() -> int:
    from perception.hardware import cpu_report, has_native_bf16
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--shape', type=int, nargs=2, default=(256, 320))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--runs', type=int, default=30)
    ap.add_argument('--only', default='')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(cpu_report())
    bf16 = has_native_bf16()
    print(f'{"block":40s} {"MMACs":>7s} {"eager ms":>9s} {"bf16 ms":>8s} {"ort ms":>7s} '
          f'{"ort GF/s":>8s}')
    for name, shape, make in candidates(tuple(args.shape)):
        if args.only and args.only not in name:
            continue
        torch.manual_seed(0)
        module = make().eval()
        x = torch.randn(1, *shape)
        m = macs(module, x) / 1e6
        with torch.inference_mode():
            eager = time_call(lambda: module(x), args.runs, 5)
        b = float('nan')
        if bf16:
            mb = make().eval().to(memory_format=torch.channels_last)
            xb = x.to(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
                b = time_call(lambda: mb(xb), args.runs, 5)
        ort_ms = time_call(ort_session(module, x, args.threads), args.runs, 5)
        print(f'{name:40s} {m:7.1f} {eager:9.3f} {b:8.3f} {ort_ms:7.3f} {2 * m / ort_ms:8.1f}',
              flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
