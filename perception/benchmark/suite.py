"""The benchmark suite: every comparison of the deployment issues in one run, one markdown report.

Groups (all batch 1, CPU unless stated):

* peaks -- the machine's measured matmul peaks: torch.mm fp32 and bf16, ONNX Runtime fp32 MatMul;
  every row's "% of peak" is against the peak of its own backend and precision;
* backends -- nano at each size: PyTorch eager fp32 and bf16 (where the CPU has native bf16), ONNX
  Runtime FP32 and INT8, the same re-parameterised graph (network + top-K candidates) everywhere;
* peers -- like for like: nano and the ``compare`` configs (the earlier nano design, models built
  for fewer sensors, each fed all of its own sensors) at every size, and at the first size what a
  user would otherwise run, mmseg's SegFormer-B0 and mmdet's RTMDet-tiny from their own configs
  (random weights, RGB, network only, no NMS), each in PyTorch eager and exported to ONNX Runtime;
  plus ONNX Runtime's profile of nano and the compared configs (where the time goes);
* subsets -- every non-empty sensor subset at the first size, PyTorch and ONNX Runtime FP32: the graph
  is static, absent sensors are zeros, so the cost should not depend on the subset;
* models -- PyTorch eager at the first size: the multi-task model and the three single-task models
  with the same encoders and fusion (``tasks=('seg',)`` ...);
* cuda -- when a GPU is present: nano FP32 and FP16 on CUDA.

Each row carries the model's multiply-adds, so achieved GFLOP/s can be set against the peak.
"""
from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from perception.contract import sensor_subsets

from . import runners as br

Size = Tuple[int, int]

#: the earlier nano design, timed next to the current one (``--compare``)
COMPARE_CONFIG = 'configs/_base_/models/nano_mbv2.py'


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
    peers: bool = True
    compare: Sequence[str] = (COMPARE_CONFIG, )   # earlier designs timed next to ``config``
    bf16: Optional[bool] = None     # None: where the CPU has native bf16
    cuda: Optional[bool] = None     # None: when available
    threads: Optional[int] = None


#: INT8 target (perception.deploy.quantize.INT8_TARGETS) -> the backend name of its rows
INT8_BACKENDS = {'onnxruntime': 'onnxruntime int8', 'tensorrt': 'onnxruntime int8 (TensorRT Q/DQ)'}

#: the backend/precision of a row -> the peak it is compared with
PEAK_OF = {'pytorch eager': 'torch fp32', 'pytorch eager bf16': 'torch bf16',
           'onnxruntime fp32': 'onnxruntime fp32', 'pytorch cuda fp32': 'cuda fp32',
           'pytorch cuda fp16': 'cuda fp16'}


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
    profiles: Dict[str, dict] = field(default_factory=dict)   # model -> onnxruntime_profile
    seconds: float = 0.0

    def find(self, group: str, model: str, backend: str,
             size: Optional[Size] = None) -> Optional[Row]:
        """The first row of ``group``/``model``/``backend`` (at ``size`` when given)."""
        return next((r for r in self.rows if (r.group, r.model, r.backend) ==
                     (group, model, backend) and (size is None or r.size == tuple(size))), None)


def export_deployed(config, size: Size, folder: Path, int8: bool,
                    calib_num: int) -> Dict[str, object]:
    """ONNX FP32 (+ INT8 Q/DQ) of the host graph at ``size``, parity-checked on one frame; and the
    re-parameterised PyTorch model that the graph holds."""
    from perception.apis.config_spec import make_spec, nms_defaults
    from perception.deploy.frames import synthetic_frames
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    from perception.deploy.quantize import export_int8
    from perception.models.builder import build_model, load_config
    from perception.models.layers import reparameterize
    cfg = load_config(config)
    model = build_model(cfg)
    opts = ExportOptions(input_size=size, nms='host', **nms_defaults(cfg))
    base = make_spec(model, cfg, size, source=str(config))
    fp32 = folder / f'{Path(config).stem}_{size[0]}x{size[1]}.onnx'
    res = export_onnx(model, fp32, base, opts, frames=synthetic_frames(1, size))
    out: Dict[str, object] = {'fp32': fp32}
    if int8:   # both INT8 forms (perception.deploy.quantize.INT8_TARGETS)
        for target in INT8_BACKENDS:
            out[target] = fp32.with_suffix(f'.int8_{target}.onnx')
            export_int8(res.host_model, res.host_spec, opts,
                        synthetic_frames(calib_num, size, seed=7), out[target], target=target)
    out['model'] = reparameterize(model)
    return out


def _measure_peaks(result: SuiteResult, opts: SuiteOptions, bf16: bool) -> None:
    """Best of this measurement and any earlier one: a shared machine only ever lowers a peak."""
    found = {'torch fp32': br.matmul_peak_gflops(),
             'onnxruntime fp32': br.onnxruntime_matmul_peak_gflops(threads=opts.threads)}
    if bf16:
        found['torch bf16'] = br.matmul_peak_gflops(dtype=torch.bfloat16)
    for key, value in found.items():
        result.peak_gflops[key] = max(result.peak_gflops.get(key, 0.0), value)


def run_suite(opts: SuiteOptions, log: Callable[[str], None] = print) -> SuiteResult:
    from perception.hardware import cpu_report, has_native_bf16
    from perception.models.export import ExportForward, ExportWrapper
    t0 = time.perf_counter()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    bf16 = has_native_bf16() if opts.bf16 is None else bool(opts.bf16)
    result = SuiteResult(machine=br.machine())
    log(cpu_report())
    _measure_peaks(result, opts, bf16)
    log('peaks: ' + ', '.join(f'{k} {v:.0f} GFLOP/s' for k, v in result.peak_gflops.items()))
    name = Path(opts.config).stem

    def add(group, model, size, backend, sensors, run, gmacs=None):
        stats = br.latency_stats(br.time_runner(run, opts.runs, opts.warmup))
        row = Row(group, model, tuple(size), backend, tuple(sensors), stats, gmacs)
        result.rows.append(row)
        log(f'{group:8s} {model:24s} {size[0]}x{size[1]} {backend:20s} {"+".join(sensors):19s} '
            f'median {stats["median_ms"]:7.1f} ms  p90 {stats["p90_ms"]:7.1f} ms  '
            f'{stats["fps"]:6.1f} fps')
        return row

    with tempfile.TemporaryDirectory() as tmp:
        for i, size in enumerate(opts.sizes):
            files = export_deployed(opts.config, size, Path(tmp), opts.int8, opts.calib_num)
            # Calibration sessions awaiting collection keep onnxruntime worker threads alive; they
            # slow the next PyTorch measurement by ~30 % on two cores.
            gc.collect()
            wrapper = ExportWrapper(files['model']).eval()
            own, names = wrapper.sensors, wrapper.input_names
            gmacs = br.count_flops(ExportForward(files['model']),
                                   br.sensor_inputs(size, model_sensors=own)) / 1e9
            subsets = sensor_subsets(own) if (opts.subsets and i == 0) else [own]
            for sensors in subsets:
                group = 'backends' if tuple(sensors) == own else 'subsets'
                inputs = br.sensor_inputs(size, sensors, model_sensors=own)
                add(group, name, size, 'pytorch eager', sensors,
                    br.torch_runner(wrapper, inputs), gmacs)
                if bf16 and group == 'backends':
                    add(group, name, size, 'pytorch eager bf16', sensors,
                        br.torch_runner(wrapper, inputs, precision='bf16'), gmacs)
                add(group, name, size, 'onnxruntime fp32', sensors,
                    br.onnxruntime_runner(files['fp32'], inputs, opts.threads, names), gmacs)
                for target, backend in INT8_BACKENDS.items():
                    if target in files and group == 'backends':
                        add(group, name, size, backend, sensors,
                            br.onnxruntime_runner(files[target], inputs, opts.threads, names),
                            gmacs)
            if i == 0 and opts.peers:
                full = br.sensor_inputs(size, model_sensors=own)
                result.profiles[name] = br.onnxruntime_profile(
                    files['fp32'], full, opts.threads, names=names)
                for target, backend in INT8_BACKENDS.items():
                    if target in files:
                        result.profiles[f'{name} {backend}'] = br.onnxruntime_profile(
                            files[target], full, opts.threads, names=names)
            if opts.peers:
                _peer_rows(opts, result, add, size, Path(tmp), bf16, name, files, gmacs,
                           first=i == 0)
            if _use_cuda(opts):
                _cuda_rows(result, add, name, wrapper, size, gmacs)
    if opts.models:
        _model_rows(opts, add, name, opts.sizes[0])
    _measure_peaks(result, opts, bf16)
    log('peaks at the end (best of both kept): ' +
        ', '.join(f'{k} {v:.0f} GFLOP/s' for k, v in result.peak_gflops.items()))
    result.seconds = time.perf_counter() - t0
    return result


def _peer_rows(opts: SuiteOptions, result: SuiteResult, add, size: Size, folder: Path, bf16: bool,
               name: str, files: Dict[str, object], gmacs: float, first: bool = True) -> None:
    """nano (already measured: copied into the peers group), the ``--compare`` configs (earlier
    designs, models of fewer sensors: each fed its own sensors, all present) at every size, and --
    at the first size -- the OpenMMLab models, in PyTorch eager and ONNX Runtime FP32 on the same
    machine in the same run."""
    from perception.models.builder import load_config
    from perception.models.export import ExportWrapper
    for backend in ('pytorch eager', 'onnxruntime fp32'):
        row = result.find('backends', name, backend, size)
        if row is not None:
            result.rows.append(Row('peers', name, row.size, backend, row.sensors, row.stats,
                                   row.gmacs))
    for config in opts.compare:
        other = Path(config).stem
        exported = export_deployed(config, size, folder, False, 0)
        wrapper = ExportWrapper(exported['model']).eval()
        inputs = br.sensor_inputs(size, model_sensors=wrapper.sensors)
        macs = br.count_flops(wrapper, inputs) / 1e9
        add('peers', other, size, 'pytorch eager', wrapper.sensors,
            br.torch_runner(wrapper, inputs), macs)
        add('peers', other, size, 'onnxruntime fp32', wrapper.sensors,
            br.onnxruntime_runner(exported['fp32'], inputs, opts.threads, wrapper.input_names),
            macs)
        if first:
            result.profiles[other] = br.onnxruntime_profile(exported['fp32'], inputs,
                                                            opts.threads, names=wrapper.input_names)
    if not first:
        return
    classes = dict(load_config(opts.config).model.get('num_classes') or {})
    rgb = (torch.randn(1, 3, *size), )
    for label, config, key in (('SegFormer-B0 (mmseg)', br.SEGFORMER_B0, 'seg'),
                               ('RTMDet-tiny (mmdet)', br.RTMDET_TINY, 'det')):
        module = br.openmmlab_model(config, classes.get(key, 8 if key == 'seg' else 4))
        macs = br.count_flops(module, rgb) / 1e9
        add('peers', label, size, 'pytorch eager', ('rgb', ), br.torch_runner(module, rgb), macs)
        path = br.export_module(module, rgb, folder / f'{key}_peer.onnx')
        add('peers', label, size, 'onnxruntime fp32', ('rgb', ),
            br.onnxruntime_runner(path, rgb, opts.threads), macs)


def _use_cuda(opts: SuiteOptions) -> bool:
    return torch.cuda.is_available() if opts.cuda is None else bool(opts.cuda)


def _cuda_rows(result: SuiteResult, add, name, wrapper, size, gmacs) -> None:
    for key, dtype in (('cuda fp32', torch.float32), ('cuda fp16', torch.float16)):
        if key not in result.peak_gflops:
            result.peak_gflops[key] = br.matmul_peak_gflops(4096, device='cuda', dtype=dtype)
    inputs = br.sensor_inputs(size, device='cuda', model_sensors=wrapper.sensors)
    add('cuda', name, size, 'pytorch cuda fp32', wrapper.sensors,
        br.torch_runner(wrapper, inputs, 'cuda'), gmacs)
    add('cuda', name, size, 'pytorch cuda fp16', wrapper.sensors,
        br.torch_runner(wrapper, inputs, 'cuda', half=True), gmacs)
    wrapper.float().cpu()


def _model_rows(opts: SuiteOptions, add, name: str, size: Size) -> None:
    from perception.models.layers import reparameterize
    models = [(f'{name} (seg+det+depth)', lambda: br.perception_model(opts.config))]
    for task in ('seg', 'det', 'depth'):
        models.append((f'{name} {task} only', lambda t=task: br.perception_model(opts.config, (t, ))))
    for label, build in models:
        module = reparameterize(build())
        own = tuple(module.model.sensors)
        ours = br.sensor_inputs(size, model_sensors=own)
        gmacs = br.count_flops(module, ours) / 1e9
        add('models', label, size, 'pytorch eager', own, br.torch_runner(module, ours), gmacs)


# --- report --------------------------------------------------------------------------------------
def _table(rows: Sequence[Row], peaks: Dict[str, float], with_sensors: bool = False) -> List[str]:
    head = '| model | input | backend |' + (' sensors |' if with_sensors else '') + \
        ' median ms | p90 ms | frames/s | GMACs | GFLOP/s | % of its peak |'
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for r in rows:
        g = r.gflops()
        peak = peaks.get(PEAK_OF.get(r.backend, ''))
        share = f' {100 * g / peak:.0f} % |' if g and peak else ' - |'
        lines.append(
            f'| {r.model} | {r.size[0]}x{r.size[1]} | {r.backend} |'
            + (f' {"+".join(r.sensors)} |' if with_sensors else '')
            + f' {r.stats["median_ms"]:.1f} | {r.stats["p90_ms"]:.1f} | {r.stats["fps"]:.1f} |'
            + (f' {r.gmacs:.2f} | {g:.1f} |' if g else ' - | - |') + share)
    return lines


def goal_lines(result: SuiteResult, name: str, compared: Sequence[str] = ()) -> List[str]:
    """The latency goals as ratios measured in this run (docs/benchmarks.md, "Goals")."""
    def ms(group, model, backend):
        row = result.find(group, model, backend)
        return None if row is None else row.stats['median_ms']

    def share(group, model, backend):
        row = result.find(group, model, backend)
        peak = result.peak_gflops.get(PEAK_OF.get(backend, ''))
        return None if row is None or not peak or not row.gflops() else row.gflops() / peak

    lines = []
    nano = ms('peers', name, 'onnxruntime fp32')
    seg = ms('peers', 'SegFormer-B0 (mmseg)', 'onnxruntime fp32')
    det = ms('peers', 'RTMDet-tiny (mmdet)', 'onnxruntime fp32')
    if None not in (nano, seg, det):
        lines.append(f'- {name} / (SegFormer-B0 + RTMDet-tiny), ONNX Runtime FP32: '
                     f'{nano:.1f} / ({seg:.1f} + {det:.1f}) = **{nano / (seg + det):.2f}** '
                     '(goal <= 0.40)')
    for backend, goal in (('onnxruntime fp32', 0.30), ('pytorch eager', 0.20)):
        value = share('backends', name, backend)
        if value is not None:
            lines.append(f'- {name} {backend} at {result.rows[0].size[0]}x'
                         f'{result.rows[0].size[1]}: **{100 * value:.0f} %** of the '
                         f'{PEAK_OF[backend]} peak (goal >= {100 * goal:.0f} %)')
    fp32, int8 = ms('backends', name, 'onnxruntime fp32'), ms('backends', name, 'onnxruntime int8')
    if fp32 and int8:
        lines.append(f'- INT8 vs FP32, ONNX Runtime: {fp32:.1f} / {int8:.1f} ms = '
                     f'**{fp32 / int8:.2f}x** (goal >= 1.4x)')
    return lines + fewer_sensor_lines(result, name, compared)


def fewer_sensor_lines(result: SuiteResult, name: str, compared: Sequence[str]) -> List[str]:
    """The ``compared`` models (config stems) built for fewer of the sensors (a two-sensor nano):
    the time they save against ``name`` at every size and backend, next to the share of ``name``'s
    multiply-adds that the dropped sensors' branches carry (goal: save at least that share)."""
    lines = []
    for row in result.rows:
        if row.group != 'peers' or row.model == name or row.model not in compared:
            continue
        full = result.find('peers', name, row.backend, row.size)
        if (full is None or not set(row.sensors) < set(full.sensors)
                or None in (row.gmacs, full.gmacs)):
            continue
        saved = 1 - row.stats['median_ms'] / full.stats['median_ms']
        share = 1 - row.gmacs / full.gmacs
        dropped = '+'.join(s for s in full.sensors if s not in row.sensors)
        lines.append(f'- {row.model} ({"+".join(row.sensors)}) vs {name} '
                     f'({"+".join(full.sensors)}), {row.backend} at {row.size[0]}x{row.size[1]}: '
                     f'{row.stats["median_ms"]:.1f} vs {full.stats["median_ms"]:.1f} ms, '
                     f'**{100 * saved:.0f} %** faster; the {dropped} branch carries '
                     f'{100 * share:.0f} % of the multiply-adds (goal: faster by at least that: '
                     + ('met' if saved >= share else 'not met') + ')')
    return lines


def _profile_lines(result: SuiteResult) -> List[str]:
    if not result.profiles:
        return []
    ops = []
    for prof in result.profiles.values():
        for op in list(prof['op_share'])[:6]:
            if op not in ops:
                ops.append(op)
    head = '| model | nodes run | ' + ' | '.join(ops) + ' | other |'
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for model, prof in result.profiles.items():
        shares = prof['op_share']
        cells = [f'{100 * shares.get(op, 0):.0f} %' for op in ops]
        other = 1 - sum(shares.get(op, 0) for op in ops)
        lines.append(f'| {model} | {prof["nodes"]} | ' + ' | '.join(cells)
                     + f' | {100 * other:.0f} % |')
    return lines


def to_markdown(result: SuiteResult, command: str, opts: SuiteOptions) -> str:
    from .why import WHY_NANO_IS_FAST
    peaks = result.peak_gflops
    name = Path(opts.config).stem
    by = {g: [r for r in result.rows if r.group == g]
          for g in ('backends', 'peers', 'subsets', 'models', 'cuda')}
    out = ['# Benchmarks', '',
           'Made by one run of (from the repository root):', '', '```', command, '```', '',
           f'{len(result.rows)} measurements in {result.seconds / 60:.1f} min; batch 1, '
           f'{opts.warmup} warm-up + {opts.runs} timed runs each; median and p90 (nearest rank) '
           'of wall time; frames/s at the median. Weights are random (speed does not depend on '
           'them). Network only: no image decoding, resizing or NMS; the perception graphs are '
           're-parameterised (RepConv branches merged, BatchNorm folded) and include the top-K '
           'candidate selection (`--nms host` graph). INT8 = static Q/DQ from `perception export '
           '--int8`: `onnxruntime int8` is the CPU form (`--int8-target onnxruntime`: u8 '
           'activations, int32 biases, every op with an integer kernel), `(TensorRT Q/DQ)` the '
           'form TensorRT builds engines from (`--int8-target tensorrt`: symmetric, float biases, '
           'convolutions and matmuls only).', '',
           '**Machine**: ' + ', '.join(f'{k} {v}' for k, v in result.machine.items()) + '.', '',
           '**Measured peaks** (1024^3 products, best of 10, at the start and the end of the run): '
           + ', '.join(f'{k} **{v:.0f} GFLOP/s**' for k, v in peaks.items()) + '. '
           'Each row is compared with the peak of its own backend and precision (torch.mm uses '
           'MKL/oneDNN, ONNX Runtime its own MLAS kernels: on some CPUs they differ by 2x). '
           'GMACs: multiply-adds per frame (torch.utils.flop_counter; conv, matmul and attention, '
           'element-wise ops not counted); achieved GFLOP/s = 2 x GMACs / median latency. The '
           'machine is shared: p90 shows interference.', '']
    goals = goal_lines(result, name, [Path(c).stem for c in opts.compare])
    if goals:
        out += ['## Goals, as measured in this run', ''] + goals + ['']
    out += ['## Backends', ''] + _table(by['backends'], peaks) + ['']
    if by['peers']:
        out += ['## Peers in the same backends', '',
                f'`{name}` and the compared configs ('
                + ', '.join(f'`{Path(c).stem}`' for c in opts.compare)
                + ') run the sensors of the sensors column, all present, and their own tasks; '
                'the OpenMMLab models run RGB only, one task each, from the libraries\' own '
                'configs (SegFormer-B0: `' + br.SEGFORMER_B0 + '`, RTMDet-tiny: `'
                + br.RTMDET_TINY + '`), exported with `torch.onnx.export` (network only, no '
                'NMS).', ''] + _table(by['peers'], peaks, with_sensors=True)
        out += ['', 'Where ONNX Runtime spends the time (share of kernel time per operator type, '
                'from its profiler, at the first size; nodes after its graph optimisations; the '
                'INT8 rows are nano\'s two INT8 files):', '']
        out += _profile_lines(result) + ['']
    out += WHY_NANO_IS_FAST
    if by['subsets']:
        out += ['## Sensor subsets', '',
                'Absent sensors are zero tensors of a static graph: the cost should be flat; rows '
                'where both backends slow down together were measured under load from other '
                'processes.',
                ''] + _table(by['subsets'], peaks, with_sensors=True) + ['']
    if by['models']:
        singles = [r for r in by['models'] if r.model.endswith(' only')]
        total = sum(r.stats['median_ms'] for r in singles)
        out += ['## One multi-task model vs single-task models', '',
                'PyTorch eager, network only; the single-task rows keep the same three encoders '
                'and fusion.', ''] + _table(by['models'], peaks) + ['']
        if singles:
            out += [f'Three single-task models in sequence: {total:.1f} ms per frame.', '']
    out += ['## CUDA', '']
    if by['cuda']:
        out += _table(by['cuda'], peaks) + ['']
    else:
        out += ['No GPU on the machine of this run: the same command adds PyTorch CUDA FP32/FP16 '
                'rows where `torch.cuda.is_available()`.', '']
    return '\n'.join(out)
