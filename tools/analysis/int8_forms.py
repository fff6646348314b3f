#!/usr/bin/env python
"""Where INT8 can pay in ONNX Runtime on this CPU: forms of nano's quantised graph timed against FP32
in one run, and the bound the measurements put on any form (issue 26, item 3).

    python tools/analysis/int8_forms.py                       # 256x320 and 480x640, ~5 min
    python tools/analysis/int8_forms.py --sizes 256x320 --rounds 4 --json int8_forms.json

For each size, nano's deployed network graph (the ``--nms host`` graph of ``perception benchmark``,
random weights: speed does not depend on them) is quantised for the ``onnxruntime`` target
(perception/deploy/quantize.py) in several forms: every op the quantiser supports (what
``perception export --int8 --int8-target onnxruntime`` writes), the sensor stems left in float
(3- and 1-channel inputs make poor integer GEMMs), the resizes / softmaxes / wheres of the decoder
and fusion left in float, element-wise ops and convolutions only, convolutions only. Every file is
timed round-robin with the FP32 one (``--rounds`` rounds of ``--runs`` calls each; medians), then
profiled with ONNX Runtime's profiler: kernel time of the convolutions (``Conv``/``FusedConv`` or
``QLinearConv``) and of everything else.

Two figures from the profiles (kernel times; the profiler's own overhead inflates them, so they
are estimates, not wall times): the bound -- with the convolutions at their INT8 speed and every
other op at its FP32 speed (a form that added no cost outside the convolutions), the speed-up is
``fp32 total / (int8 convolutions + fp32 rest)`` -- and what 1.4x needs: how much faster than in
FP32 every non-convolution op would have to run, with the convolutions at their INT8 speed.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Callable, Dict, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

CONFIG = 'configs/_base_/models/nano.py'
CONV_OPS = ('Conv', 'FusedConv', 'QLinearConv', 'ConvInteger', 'NhwcConv')
ELEMENTWISE = ('Conv', 'MatMul', 'Gemm', 'Add', 'Mul', 'Concat', 'MaxPool', 'AveragePool',
               'GlobalAveragePool', 'Sigmoid', 'Relu', 'Clip', 'LeakyRelu')
#: name -> (op types quantised: None = the target's, nodes kept in float)
FORMS: Dict[str, tuple] = {
    'every op (shipped)': (None, None),
    'stems float': (None, lambda n: '/stem/' in n.name),
    'resize, softmax, where float': (None, lambda n: n.op_type in ('Resize', 'Softmax', 'Where')),
    'convolutions + element-wise': (ELEMENTWISE, None),
    'convolutions only': (('Conv', 'MatMul', 'Gemm'), None),
}


def build_forms(size, folder: Path, forms: Sequence[str], calib_num: int = 4,
                log: Callable[[str], None] = print) -> Dict[str, Path]:
    """FP32 host graph at ``size`` and each INT8 form of it, as files in ``folder``."""
    import onnx

    from perception.apis.spec import ModelSpec
    from perception.benchmark.suite import export_deployed
    from perception.deploy.frames import synthetic_frames
    from perception.deploy.quantize import calibration_inputs, quantize_graph
    fp32 = export_deployed(CONFIG, size, folder, int8=False, calib_num=calib_num)['fp32']
    host = onnx.load(str(fp32))
    spec = ModelSpec.from_metadata({p.key: p.value for p in host.metadata_props}, str(fp32))
    calib = calibration_inputs(spec, synthetic_frames(calib_num, size, seed=7))
    files = {'fp32': Path(fp32)}
    for i, name in enumerate(forms):
        op_types, keep_float = FORMS[name]
        files[name] = folder / f'int8_form{i}.onnx'
        onnx.save_model(quantize_graph(host, calib, target='onnxruntime', op_types=op_types,
                                       keep_float=keep_float), str(files[name]))
        log(f'  quantised: {name}')
    return files


def measure(files: Dict[str, Path], size, rounds: int, runs: int,
            threads: Optional[int] = None) -> Dict[str, dict]:
    """Median wall time (round-robin over the files) and the profiler's conv / other split."""
    from perception.benchmark import runners as br
    inputs = br.sensor_inputs(size)
    calls = {k: br.onnxruntime_runner(p, inputs, threads) for k, p in files.items()}
    for run in calls.values():
        br.time_runner(run, 0, 10)
    times: Dict[str, list] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, run in calls.items():
            times[k] += br.time_runner(run, runs, 2)
    out = {}
    for k, p in files.items():
        prof = br.onnxruntime_profile(p, inputs, threads)
        conv = sum(v for op, v in prof['op_share'].items() if op in CONV_OPS)
        out[k] = dict(median_ms=median(times[k]), kernel_ms=prof['kernel_ms'],
                      conv_ms=conv * prof['kernel_ms'], rest_ms=(1 - conv) * prof['kernel_ms'],
                      top_ops={op: round(v, 3) for op, v in list(prof['op_share'].items())[:6]})
    return out


def bound(figures: Dict[str, dict], form: str = 'every op (shipped)') -> float:
    """fp32 kernel time / (``form``'s convolutions + fp32's other ops): the most any form with
    ``form``'s convolutions reaches while every other op keeps its FP32 time."""
    f, q = figures['fp32'], figures[form]
    return f['kernel_ms'] / (q['conv_ms'] + f['rest_ms'])


def rest_speedup_needed(figures: Dict[str, dict], goal: float = 1.4,
                        form: str = 'every op (shipped)') -> float:
    """How much faster than in FP32 the non-convolution ops must run for ``goal`` x, with the
    convolutions at ``form``'s INT8 time (kernel times)."""
    f, q = figures['fp32'], figures[form]
    left = f['kernel_ms'] / goal - q['conv_ms']
    return float('inf') if left <= 0 else f['rest_ms'] / left


def table(size, figures: Dict[str, dict]) -> str:
    ref = figures['fp32']['median_ms']
    lines = [f'{size[0]}x{size[1]}: form | median ms | speed-up vs FP32 | kernel ms: '
             'convolutions + rest']
    for name, f in figures.items():
        lines.append(f'  {name:30s} {f["median_ms"]:7.2f} {ref / f["median_ms"]:6.2f}x   '
                     f'{f["conv_ms"]:6.2f} + {f["rest_ms"]:6.2f}')
    f, q = figures['fp32'], figures['every op (shipped)']
    lines.append(f'  convolutions: FP32 {f["conv_ms"]:.2f} ms -> INT8 {q["conv_ms"]:.2f} ms '
                 f'({f["conv_ms"] / q["conv_ms"]:.2f}x); the rest: FP32 {f["rest_ms"]:.2f} ms '
                 f'({f["rest_ms"] / f["kernel_ms"]:.0%} of FP32) -> INT8 {q["rest_ms"]:.2f} ms')
    lines.append(f'  bound (INT8 convolutions, every other op at its FP32 time): '
                 f'{bound(figures):.2f}x; for 1.4x every other op must run '
                 f'{rest_speedup_needed(figures):.2f}x faster than in FP32')
    return '\n'.join(lines)


def size_arg(text: str) -> tuple:
    """``HxW`` -> (H, W), both positive."""
    try:
        size = tuple(int(v) for v in text.lower().split('x'))
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) <= 0:
        raise argparse.ArgumentTypeError(f'{text!r} is not HxW (e.g. 256x320)')
    return size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--sizes', nargs='+', type=size_arg, default=[(256, 320), (480, 640)],
                        help='HxW')
    parser.add_argument('--forms', nargs='+', default=list(FORMS), choices=list(FORMS),
                        metavar='FORM', help=f'of: {"; ".join(FORMS)}')
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--runs', type=int, default=15, help='calls per file per round')
    parser.add_argument('--threads', type=int, default=None, help="ONNX Runtime's intra-op threads")
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args(argv)
    forms = ['every op (shipped)'] + [f for f in args.forms if f != 'every op (shipped)']
    from perception.hardware import cpu_info
    print(f'CPU {cpu_info()["model"]}')
    results = {}
    for size in args.sizes:
        text = f'{size[0]}x{size[1]}'
        with tempfile.TemporaryDirectory() as tmp:
            files = build_forms(size, Path(tmp), forms)
            figures = measure(files, size, args.rounds, args.runs, args.threads)
        results[text] = dict(figures=figures, bound=bound(figures),
                             rest_speedup_needed=rest_speedup_needed(figures))
        print(table(size, figures), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
