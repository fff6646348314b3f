"""What the benchmark times: runners (zero-argument callables doing one inference on fixed inputs),
the models they wrap, their FLOPs, and the machine's matmul peak.

Every runner sees the same normalised inputs (``dummy_inputs``) and times the network only (no pre-
or post-processing), so backends and models compare like for like. Model cost is given in
multiply-adds (GMACs, the mmseg/mmdet ``get_flops`` unit; element-wise ops not counted); achieved
GFLOP/s is 2 x GMACs per second, the unit of the matmul peak (2 n^3 per n x n product).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from perception.contract import INPUT_NAMES, SENSORS

Runner = Callable[[], None]

#: OpenMMLab single-task models a user would otherwise run (random weights: speed only).
SEGFORMER_B0 = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
RTMDET_TINY = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'


def sensor_inputs(shape: Sequence[int], sensors: Optional[Sequence[str]] = None, batch: int = 1,
                  device: str = 'cpu', model_sensors: Sequence[str] = SENSORS
                  ) -> Tuple[torch.Tensor, ...]:
    """Normalised random inputs of a model built for ``model_sensors`` (one tensor each, then the
    mask), with ``sensors`` present (default: all of them)."""
    from perception.models.export import dummy_inputs
    present = model_sensors if sensors is None else sensors
    unknown = [s for s in present if s not in model_sensors]
    if unknown:
        raise ValueError(f'sensors {unknown} are not among the model\'s {tuple(model_sensors)}')
    return tuple(t.to(device) for t in dummy_inputs(
        *shape, batch=batch, mask=[s in present for s in model_sensors], sensors=model_sensors))


def _feed(session, inputs: Tuple[torch.Tensor, ...], names: Optional[Sequence[str]]):
    """``inputs`` by name (default: the first ``len(inputs)`` of ``contract.INPUT_NAMES``), only
    those the session takes (an exporter drops an input the graph never reads)."""
    names = INPUT_NAMES[:len(inputs)] if names is None else tuple(names)
    takes = {i.name for i in session.get_inputs()}
    return {n: t.cpu().numpy().astype(np.float32) for n, t in zip(names, inputs) if n in takes}


# --- models --------------------------------------------------------------------------------------
def perception_model(config, tasks: Optional[Sequence[str]] = None) -> nn.Module:
    """A perception config's model, optionally with only ``tasks`` (same encoders and fusion)."""
    from perception.models.builder import build_model, load_config
    from perception.models.export import ExportForward
    cfg = load_config(config)
    if tasks is not None:
        cfg = copy.deepcopy(cfg)  # Config.copy() is shallow: it would edit the caller's config
        cfg.model.tasks = tuple(tasks)
        weighting = cfg.model.get('task_weighting') or {}
        if weighting.get('weights'):    # weights of disabled tasks are rejected by the model
            weighting['weights'] = {t: w for t, w in weighting['weights'].items() if t in tasks}
    return ExportForward(build_model(cfg)).eval()


class _OpenMMLabTensorForward(nn.Module):
    """``model(inputs, mode='tensor')`` (network outputs, no NMS), tuple-flattened."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image):
        out = self.model(image, mode='tensor')
        flat = []
        for x in (out if isinstance(out, (tuple, list)) else [out]):
            flat.extend(x if isinstance(x, (tuple, list)) else [x])
        return tuple(flat)


def openmmlab_model(config: str, num_classes: int) -> nn.Module:
    """SegFormer-B0 (mmseg) or RTMDet-tiny (mmdet) from the library's own config, random init."""
    from mmengine.hub import get_config   # resolves 'mmseg::...' / 'mmdet::...' package configs
    from mmengine.registry import DefaultScope
    cfg = get_config(config)
    scope = config.split('::')[0]
    model_cfg = cfg.model
    model_cfg.pop('data_preprocessor', None)   # inputs are fed normalised, as for our models
    if scope == 'mmseg':
        import mmseg.models  # noqa: F401
        from mmseg.registry import MODELS
        model_cfg.decode_head.num_classes = num_classes
    else:
        import mmdet.models  # noqa: F401
        from mmdet.registry import MODELS
        model_cfg.bbox_head.num_classes = num_classes
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    return _OpenMMLabTensorForward(model).eval()


# --- runners -------------------------------------------------------------------------------------
def torch_runner(module: nn.Module, inputs: Tuple[torch.Tensor, ...], device: str = 'cpu',
                 half: bool = False, precision: str = 'fp32') -> Runner:
    """One eager forward; ``half`` casts to fp16 (CUDA), ``precision='bf16'`` runs under CPU bf16
    autocast (``perception.models.precision``)."""
    from perception.models.precision import autocast
    module = module.to(device)
    if half:
        module = module.half()
        inputs = tuple(t.half() if t.is_floating_point() else t for t in inputs)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)

    @torch.inference_mode()
    def run() -> None:
        with autocast(precision):
            module(*inputs)
        sync()
    return run


def export_module(module: nn.Module, inputs: Tuple[torch.Tensor, ...], path: Path,
                  opset: int = 17, names: Optional[Sequence[str]] = None) -> Path:
    """A plain ``torch.onnx.export`` (TorchScript exporter, static shapes) of any module: how the
    peers (SegFormer-B0, RTMDet-tiny: network only, no NMS) are put in ONNX Runtime next to nano.
    Inputs are named like the perception graph's (an RGB-only model's one input is ``rgb``), so
    ``onnxruntime_runner`` feeds both kinds the same way (``names``: default the first
    ``len(inputs)`` of ``contract.INPUT_NAMES``)."""
    import warnings
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')   # tracer warnings about the peers' Python control flow
        torch.onnx.export(module.eval(), inputs, str(path), opset_version=opset, dynamo=False,
                          do_constant_folding=True,
                          input_names=list(INPUT_NAMES[:len(inputs)] if names is None else names))
    return path


def onnxruntime_runner(path: Path, inputs: Tuple[torch.Tensor, ...],
                       threads: Optional[int] = None,
                       names: Optional[Sequence[str]] = None) -> Runner:
    """One ONNX Runtime CPU session call on ``inputs`` named ``names`` (see ``_feed``)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), sess_options=options,
                                   providers=['CPUExecutionProvider'])
    feed = _feed(session, inputs, names)

    def run() -> None:
        session.run(None, feed)
    return run


# --- FLOPs and peak ------------------------------------------------------------------------------
def count_flops(module: nn.Module, inputs: Tuple[torch.Tensor, ...]) -> float:
    """Multiply-adds of one forward (PyTorch's FlopCounterMode: one eager run, no tracing; it
    counts 2 FLOPs per multiply-add of conv/matmul/attention, element-wise ops not counted)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*inputs)
    return counter.get_total_flops() / 2


def matmul_peak_gflops(n: int = 1024, repeats: int = 10, device: str = 'cpu',
                       dtype: torch.dtype = torch.float32) -> float:
    """Best of ``repeats`` n x n x n products, in GFLOP/s (2 n^3 per product)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    torch.mm(a, b)
    sync()
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def onnxruntime_matmul_peak_gflops(n: int = 1024, repeats: int = 10,
                                   threads: Optional[int] = None) -> float:
    """Best of ``repeats`` n x n x n fp32 MatMuls in ONNX Runtime (MLAS), in GFLOP/s: the fp32
    peak of the backend the deployed graph runs in (it can differ from torch.mm's: on an AMD EPYC
    here MKL's sgemm reached 195 GFLOP/s and MLAS 440)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
    spec = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in 'abc']
    graph = helper.make_graph([helper.make_node('MatMul', ['a', 'b'], ['c'])], 'matmul',
                              spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8   # what every onnxruntime of the last years reads
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=['CPUExecutionProvider'])
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    feed = {'a': a, 'b': a}
    session.run(None, feed)
    best = float('inf')
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, feed)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def machine() -> Dict[str, str]:
    import platform

    import onnxruntime

    from perception.hardware import REPORTED_FLAGS, cpu_info, has_native_bf16
    cpu = cpu_info()
    flags = ' '.join(f for f in REPORTED_FLAGS if f in cpu['flags']) or 'none'
    info = {'cpu': cpu['model'], 'flags': flags,
            'native bf16': 'yes' if has_native_bf16() else 'no',
            'torch threads': str(torch.get_num_threads()),
            'torch': torch.__version__, 'onnxruntime': onnxruntime.__version__,
            'python': platform.python_version()}
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


# --- timing --------------------------------------------------------------------------------------
def time_runner(run: Runner, runs: int, warmup: int) -> list:
    """Wall time of each of ``runs`` calls in ms, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def latency_stats(times: Sequence[float], batch: int = 1) -> Dict[str, float]:
    """median / p90 (nearest rank) / mean / min in ms and frames/s at the median."""
    import statistics
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    median = statistics.median(ordered)
    return dict(median_ms=median, p90_ms=p90, mean_ms=statistics.fmean(ordered),
                min_ms=ordered[0], fps=1e3 * batch / median)


def onnxruntime_profile(path: Path, inputs: Tuple[torch.Tensor, ...], threads: Optional[int] = None,
                        runs: int = 20, names: Optional[Sequence[str]] = None
                        ) -> Dict[str, object]:
    """Where ONNX Runtime spends a graph's time: kernel time per operator type (fraction of the
    total, from its built-in profiler over ``runs`` inferences), the kernel time per inference
    (ms) and the number of nodes it runs after its own graph optimisations."""
    import json
    import os
    import tempfile
    from collections import Counter

    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = os.path.join(tmp, 'profile')
        session = ort.InferenceSession(str(path), sess_options=options,
                                       providers=['CPUExecutionProvider'])
        feed = _feed(session, inputs, names)
        for _ in range(runs):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    per_op, nodes = Counter(), set()
    for e in events:
        if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time'):
            per_op[e['args'].get('op_name', '?')] += e['dur']
            nodes.add(e['name'])
    total = sum(per_op.values()) or 1
    return {'op_share': {op: t / total for op, t in per_op.most_common()}, 'nodes': len(nodes),
            'kernel_ms': total / runs / 1e3}
