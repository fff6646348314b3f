"""``perception benchmark CONFIG`` / ``tools/benchmark.py``: latency (median / p90) and frames/s.

Two modes:

* one measurement: ``perception benchmark CONFIG [--backend pytorch|onnxruntime --onnx FILE]
  [--shape H W] [--sensors ...]``;
* the suite (``--suite``): PyTorch eager fp32/bf16 vs ONNX Runtime FP32/INT8 at 256x320 and
  480x640, the earlier nano design and SegFormer-B0 / RTMDet-tiny in the same backends, every
  sensor subset, multi-task vs single-task models, GFLOP/s vs the measured peak of each backend,
  CUDA FP32/FP16 when a GPU is present -- written to ``--markdown`` (docs/benchmarks.md) with the
  command that made it.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from perception.contract import SENSORS

Runner = Callable[[], None]
HELP_EPILOG = """examples:
  perception benchmark configs/_base_/models/nano.py --shape 256 320 --runs 50
  perception benchmark CONFIG --backend onnxruntime --onnx nano.onnx --sensors rgb thermal
  perception benchmark CONFIG --suite --markdown docs/benchmarks.md        # the full comparison
"""


@dataclass
class Spec:
    """What to run: the same for every backend (``sensors`` None: filled in by the runner with the
    model's own sensors)."""
    config: str
    shape: Sequence[int] = (256, 320)
    batch: int = 1
    sensors: Optional[Sequence[str]] = None  # present sensors; None: all of the model's
    postprocess: bool = False  # include top-k + NMS (pytorch)
    threads: Optional[int] = None
    cfg_options: Optional[dict] = None
    onnx: Optional[str] = None  # the graph for the onnxruntime backend


@dataclass
class Stats:
    backend: str
    config: str
    shape: Sequence[int]
    batch: int
    sensors: Sequence[str]
    runs: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    fps: float


def pytorch_runner(spec: Spec) -> Runner:
    """PyTorch eager on CPU, ``forward_export`` of the re-parameterised model (the inference form)
    (+ ``topk_nms`` with ``postprocess``)."""
    import torch

    from perception.models import build_model, load_config, topk_nms
    from perception.models.layers import reparameterize

    if spec.threads:
        torch.set_num_threads(spec.threads)
    from perception.benchmark.runners import sensor_inputs
    model = reparameterize(build_model(load_config(spec.config, spec.cfg_options)))
    spec.sensors = tuple(model.sensors if spec.sensors is None else spec.sensors)
    inputs = sensor_inputs(spec.shape, spec.sensors, spec.batch, model_sensors=model.sensors)
    nms = next((h.nms for h in model.heads.values() if hasattr(h, 'nms')), None)

    @torch.inference_mode()
    def run() -> None:
        out = model.forward_export(*inputs)
        if spec.postprocess and nms is not None:
            topk_nms(out['det_boxes'], out['det_scores'], **nms)
    return run


def onnxruntime_runner(spec: Spec) -> Runner:
    """ONNX Runtime CPU on an exported graph (``--onnx``), same dummy inputs as PyTorch."""
    import onnxruntime as ort

    from perception.apis.spec import ModelSpec
    from perception.benchmark.runners import onnxruntime_runner as ort_runner
    from perception.benchmark.runners import sensor_inputs
    if not spec.onnx:
        raise ValueError('the onnxruntime backend needs --onnx FILE (from `perception export`)')
    meta = ort.InferenceSession(spec.onnx, providers=['CPUExecutionProvider']).get_modelmeta()
    graph = ModelSpec.from_metadata(meta.custom_metadata_map, where=spec.onnx)
    spec.sensors = tuple(graph.sensors if spec.sensors is None else spec.sensors)
    return ort_runner(Path(spec.onnx), sensor_inputs(spec.shape, spec.sensors, spec.batch,
                                                     model_sensors=graph.sensors),
                      spec.threads, graph.input_names)


BACKENDS: Dict[str, Callable[[Spec], Runner]] = {'pytorch': pytorch_runner,
                                                 'onnxruntime': onnxruntime_runner}


def measure(run: Runner, runs: int, warmup: int) -> List[float]:
    """Wall time of each of ``runs`` calls in ms, after ``warmup`` untimed calls."""
    from perception.benchmark.runners import time_runner
    return time_runner(run, runs, warmup)


def summarise(backend: str, spec: Spec, times: List[float]) -> Stats:
    from perception.benchmark.runners import latency_stats
    s = latency_stats(times, spec.batch)
    return Stats(backend, spec.config, tuple(spec.shape), spec.batch, tuple(spec.sensors),
                 len(times), s['median_ms'], s['p90_ms'], s['mean_ms'], s['min_ms'], s['fps'])


def benchmark(backend: str, spec: Spec, runs: int = 50, warmup: int = 10) -> Stats:
    if backend not in BACKENDS:
        raise KeyError(f'unknown backend {backend!r}; available: {sorted(BACKENDS)}')
    return summarise(backend, spec, measure(BACKENDS[backend](spec), runs, warmup))


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction
    p.epilog = HELP_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument('config')
    p.add_argument('--backend', default='pytorch', choices=sorted(BACKENDS))
    p.add_argument('--onnx', help='exported graph for --backend onnxruntime')
    p.add_argument('--shape', type=int, nargs=2, default=[256, 320], metavar=('H', 'W'))
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--runs', type=int, default=50)
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--sensors', nargs='+', default=None, choices=SENSORS,
                   help="present sensors (default: all of the model's; the others are fed as "
                        'absent)')
    p.add_argument('--postprocess', action='store_true', help='include top-k + NMS')
    p.add_argument('--threads', type=int, default=None, help='CPU threads (torch, onnxruntime)')
    p.add_argument('--json', type=Path, default=None, help='also write the result here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    suite = p.add_argument_group('suite')
    suite.add_argument('--suite', action='store_true', help='run every comparison (see above)')
    suite.add_argument('--sizes', nargs='+', default=['256x320', '480x640'],
                       help='input sizes HxW of the suite (the first one for subsets and models)')
    suite.add_argument('--no-int8', action='store_true')
    suite.add_argument('--no-subsets', action='store_true')
    suite.add_argument('--no-models', action='store_true')
    suite.add_argument('--no-peers', action='store_true',
                       help='skip the earlier design and the SegFormer-B0 / RTMDet-tiny rows')
    suite.add_argument('--compare', nargs='*', default=None, metavar='CONFIG',
                       help='earlier model configs timed next to CONFIG in the peers table '
                            '(default: configs/_base_/models/nano_mbv2.py)')
    suite.add_argument('--calib-num', type=int, default=4, help='INT8 calibration frames')
    suite.add_argument('--markdown', type=Path, help='write the suite report (docs/benchmarks.md)')


def run(args: argparse.Namespace) -> int:
    if args.suite:
        return _run_suite(args)
    spec = Spec(args.config, args.shape, args.batch, args.sensors, args.postprocess,
                args.threads, args.cfg_options, args.onnx)
    s = benchmark(args.backend, spec, args.runs, args.warmup)
    h, w = s.shape
    print(f'{s.backend} | {Path(s.config).name} | {h}x{w} batch {s.batch} | '
          f'sensors {"+".join(s.sensors)} | runs {s.runs}: median {s.median_ms:.1f} ms, '
          f'p90 {s.p90_ms:.1f} ms, min {s.min_ms:.1f} ms, {s.fps:.1f} frames/s')
    if args.json:
        args.json.write_text(json.dumps(asdict(s), indent=2))
    return 0


def _run_suite(args: argparse.Namespace) -> int:
    from perception.benchmark.suite import SuiteOptions, run_suite, to_markdown
    sizes = [tuple(int(v) for v in s.lower().split('x')) for s in args.sizes]
    extra = {} if args.compare is None else {'compare': tuple(args.compare)}
    opts = SuiteOptions(args.config, sizes=sizes, runs=args.runs, warmup=args.warmup,
                        calib_num=args.calib_num, int8=not args.no_int8,
                        subsets=not args.no_subsets, models=not args.no_models,
                        peers=not args.no_peers, threads=args.threads, **extra)
    result = run_suite(opts)
    via_cli = Path(sys.argv[0]).name in ('perception', 'cli.py')   # argv[1] is 'benchmark'
    command = ' '.join(shlex.quote(a) for a in
                       (['perception', *sys.argv[1:]] if via_cli else ['python', *sys.argv]))
    report = to_markdown(result, command, opts)
    if args.markdown:
        args.markdown.write_text(report + '\n')
        print(f'wrote {args.markdown}')
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in result.rows], indent=2))
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    return run(parse_args(argv))
