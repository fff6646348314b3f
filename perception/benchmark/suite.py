"""The benchmark suite: every comparison of the deployment issue in one run, one markdown report.

Groups (all batch 1, CPU unless stated):

* backends -- nano at each size: PyTorch eager vs ONNX Runtime FP32 vs ONNX Runtime INT8 (Q/DQ), the
  same graph (network + top-K candidates) everywhere, all sensors;
* subsets -- every non-empty sensor subset at the first size, PyTorch and ONNX Runtime FP32: the graph
  is static, absent sensors are zeros, so the cost should not depend on the subset;
* models -- PyTorch eager at the first size: the multi-task model, the three single-task models with
  the same encoders and fusion (``tasks=('seg',)`` ...), and what a user would otherwise run: mmseg's
  SegFormer-B0 and mmdet's RTMDet-tiny from their own configs (random weights, network only);
* cuda -- when a GPU is present: nano FP32 and FP16 on CUDA.

Each row carries the model's multiply-adds, so achieved GFLOP/s can be set against the machine's
measured matmul peak.
"""
from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from perception.contract import SENSORS, sensor_subsets

from . import runners as br

Size = Tuple[int, int]


@dataclass
class SuiteOptions:
    config: str
    sizes: Sequence[Size] = ((256, 320), (480, 640))
    runs: int = 20
    warmup: int = 3
    calib_num: int = 4              # speed does not depend on calibration quality
    int8: bool = True
    subsets: bool = True
    models: bool = True
    cuda: Optional[bool] = None     # None: when available
    threads: Optional[int] = None


@dataclass
class Row:
    group: str
    model: str
    size: Size
    backend: str
    sensors: Tuple[str, ...]
    stats: Dict[str, float]
    gmacs: Optional[float] = None

    def gflops(self) -> Optional[float]:
        return None if self.gmacs is None else 2 * self.gmacs / (self.stats['median_ms'] / 1e3)


@dataclass
class SuiteResult:
    rows: List[Row] = field(default_factory=list)
    peak_gflops: Dict[str, float] = field(default_factory=dict)
    machine: Dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _export(config, size: Size, folder: Path, int8: bool, calib_num: int) -> Dict[str, Path]:
    """ONNX FP32 (+ INT8 Q/DQ) of the host graph at ``size``, parity-checked on one frame."""
    from perception.apis.config_spec import make_spec, nms_defaults
    from perception.deploy.frames import synthetic_frames
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    from perception.deploy.quantize import export_int8
    from perception.models.builder import build_model, load_config
    cfg = load_config(config)
    model = build_model(cfg)
    opts = ExportOptions(input_size=size, nms='host', **nms_defaults(cfg))
    base = make_spec(model, cfg, size, source=str(config))
    fp32 = folder / f'nano_{size[0]}x{size[1]}.onnx'
    res = export_onnx(model, fp32, base, opts, frames=synthetic_frames(1, size))
    out = {'fp32': fp32}
    if int8:
        out['int8'] = fp32.with_suffix('.int8.onnx')
        export_int8(res.host_model, res.host_spec, opts, synthetic_frames(calib_num, size, seed=7),
                    out['int8'])
    out['model'] = model
    return out


def run_suite(opts: SuiteOptions, log: Callable[[str], None] = print) -> SuiteResult:
    from perception.models.export import ExportForward, ExportWrapper
    t0 = time.perf_counter()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    result = SuiteResult(machine=br.machine())
    result.peak_gflops['cpu fp32'] = br.matmul_peak_gflops()
    log(f'matmul peak (CPU fp32): {result.peak_gflops["cpu fp32"]:.1f} GFLOP/s')
    name = Path(opts.config).stem

    def add(group, model, size, backend, sensors, run, gmacs=None):
        stats = br.latency_stats(br.time_runner(run, opts.runs, opts.warmup))
        row = Row(group, model, tuple(size), backend, tuple(sensors), stats, gmacs)
        result.rows.append(row)
        log(f'{group:8s} {model:22s} {size[0]}x{size[1]} {backend:18s} {"+".join(sensors):19s} '
            f'median {stats["median_ms"]:7.1f} ms  p90 {stats["p90_ms"]:7.1f} ms  '
            f'{stats["fps"]:6.1f} fps')
        return row

    with tempfile.TemporaryDirectory() as tmp:
        for i, size in enumerate(opts.sizes):
            files = _export(opts.config, size, Path(tmp), opts.int8, opts.calib_num)
            # Calibration sessions awaiting collection keep onnxruntime worker threads alive; they
            # slow the next PyTorch measurement by ~30 % on two cores.
            gc.collect()
            wrapper = ExportWrapper(files['model']).eval()
            gmacs = br.count_flops(ExportForward(files['model']), br.sensor_inputs(size)) / 1e9
            subsets = sensor_subsets() if (opts.subsets and i == 0) else [SENSORS]
            for sensors in subsets:
                group = 'backends' if tuple(sensors) == SENSORS else 'subsets'
                inputs = br.sensor_inputs(size, sensors)
                add(group, name, size, 'pytorch eager', sensors,
                    br.torch_runner(wrapper, inputs), gmacs)
                add(group, name, size, 'onnxruntime fp32', sensors,
                    br.onnxruntime_runner(files['fp32'], inputs, opts.threads), gmacs)
                if 'int8' in files and group == 'backends':
                    add(group, name, size, 'onnxruntime int8', sensors,
                        br.onnxruntime_runner(files['int8'], inputs, opts.threads), gmacs)
            if _use_cuda(opts):
                _cuda_rows(result, add, name, wrapper, size, gmacs)
    if opts.models:
        _model_rows(opts, add, name, opts.sizes[0])
    # A shared machine lowers any single measurement: the peak is the best of the start and end.
    end_peak = br.matmul_peak_gflops()
    log(f'matmul peak again at the end: {end_peak:.1f} GFLOP/s')
    result.peak_gflops['cpu fp32'] = max(result.peak_gflops['cpu fp32'], end_peak)
    result.seconds = time.perf_counter() - t0
    return result


def _use_cuda(opts: SuiteOptions) -> bool:
    return torch.cuda.is_available() if opts.cuda is None else bool(opts.cuda)


def _cuda_rows(result: SuiteResult, add, name, wrapper, size, gmacs) -> None:
    for key, dtype in (('cuda fp32', torch.float32), ('cuda fp16', torch.float16)):
        if key not in result.peak_gflops:
            result.peak_gflops[key] = br.matmul_peak_gflops(4096, device='cuda', dtype=dtype)
    inputs = br.sensor_inputs(size, device='cuda')
    add('cuda', name, size, 'pytorch cuda fp32', SENSORS,
        br.torch_runner(wrapper, inputs, 'cuda'), gmacs)
    add('cuda', name, size, 'pytorch cuda fp16', SENSORS,
        br.torch_runner(wrapper, inputs, 'cuda', half=True), gmacs)
    wrapper.float().cpu()


def _model_rows(opts: SuiteOptions, add, name: str, size: Size) -> None:
    from perception.models.builder import load_config
    cfg = load_config(opts.config)
    classes = dict(cfg.model.get('num_classes') or {})
    models = [(f'{name} (seg+det+depth)', lambda: br.perception_model(opts.config))]
    for task in ('seg', 'det', 'depth'):
        models.append((f'{name} {task} only', lambda t=task: br.perception_model(opts.config, (t, ))))
    models.append(('SegFormer-B0 (mmseg)',
                   lambda: br.openmmlab_model(br.SEGFORMER_B0, classes.get('seg', 8))))
    models.append(('RTMDet-tiny (mmdet)',
                   lambda: br.openmmlab_model(br.RTMDET_TINY, classes.get('det', 4))))
    ours = br.sensor_inputs(size)
    rgb_only = (torch.randn(1, 3, *size), )
    for label, build in models:
        module = build()
        inputs = rgb_only if '(mm' in label else ours
        sensors = ('rgb', ) if '(mm' in label else SENSORS
        gmacs = br.count_flops(module, inputs) / 1e9
        add('models', label, size, 'pytorch eager', sensors, br.torch_runner(module, inputs), gmacs)


# --- report --------------------------------------------------------------------------------------
def _table(rows: Sequence[Row], peak: float, with_sensors: bool = False) -> List[str]:
    head = '| model | input | backend |' + (' sensors |' if with_sensors else '') + \
        ' median ms | p90 ms | frames/s | GMACs | GFLOP/s | % of peak |'
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for r in rows:
        g = r.gflops()
        lines.append(
            f'| {r.model} | {r.size[0]}x{r.size[1]} | {r.backend} |'
            + (f' {"+".join(r.sensors)} |' if with_sensors else '')
            + f' {r.stats["median_ms"]:.1f} | {r.stats["p90_ms"]:.1f} | {r.stats["fps"]:.1f} |'
            + (f' {r.gmacs:.2f} | {g:.1f} | {100 * g / peak:.0f} % |' if g else ' - | - | - |'))
    return lines


def to_markdown(result: SuiteResult, command: str, opts: SuiteOptions) -> str:
    peak = result.peak_gflops['cpu fp32']
    by = {g: [r for r in result.rows if r.group == g] for g in ('backends', 'subsets', 'models',
                                                              'cuda')}
    out = ['# Benchmarks', '',
           'Made by one run of (from the repository root):', '', '```', command, '```', '',
           f'{len(result.rows)} measurements in {result.seconds / 60:.1f} min; batch 1, '
           f'{opts.warmup} warm-up + {opts.runs} timed runs each; median and p90 (nearest rank) '
           'of wall time; frames/s at the median. Weights are random (speed does not depend on '
           'them). Network only: no image decoding, resizing or NMS; the perception graphs '
           'include the top-K candidate selection (`--nms host` graph). INT8 = onnxruntime '
           'static Q/DQ (symmetric, per-channel; `perception export --int8`).', '',
           '**Machine**: ' + ', '.join(f'{k} {v}' for k, v in result.machine.items()) + '.',
           f'Measured matmul peak (1024^3 fp32 torch.mm, best of 10, at the start and the end of '
           f'the run): **{peak:.1f} GFLOP/s**. '
           'GMACs: multiply-adds per frame (torch.utils.flop_counter on the PyTorch model; '
           'conv, matmul and attention, element-wise ops not counted); achieved GFLOP/s = '
           '2 x GMACs / median latency. The machine is shared: p90 shows interference.', '']
    out += ['## Backends', ''] + _table(by['backends'], peak) + ['']
    if by['subsets']:
        out += ['## Sensor subsets', '',
                'Absent sensors are zero tensors of a static graph: the cost should be flat; rows '
                'where both backends slow down together were measured under load from other '
                'processes.',
                ''] + _table(by['subsets'], peak, with_sensors=True) + ['']
    if by['models']:
        singles = [r for r in by['models'] if r.model.endswith(' only')]
        total = sum(r.stats['median_ms'] for r in singles)
        out += ['## One multi-task model vs single-task models', '',
                'PyTorch eager, network only. The single-task rows keep the same three encoders '
                'and fusion; the OpenMMLab rows run RGB only, from the libraries\' own configs '
                '(SegFormer-B0: `' + br.SEGFORMER_B0 + '`, RTMDet-tiny: `' + br.RTMDET_TINY
                + '`).', ''] + _table(by['models'], peak) + ['']
        if singles:
            out += [f'Three single-task models in sequence: {total:.1f} ms per frame.', '']
    out += ['## CUDA', '']
    if by['cuda']:
        out += [', '.join(f'{k} peak {v:.0f} GFLOP/s' for k, v in result.peak_gflops.items()),
                ''] + _table(by['cuda'], result.peak_gflops.get('cuda fp32', peak)) + ['']
    else:
        out += ['No GPU on the machine of this run: the same command adds PyTorch CUDA FP32/FP16 '
                'rows where `torch.cuda.is_available()`.', '']
    return '\n'.join(out)
