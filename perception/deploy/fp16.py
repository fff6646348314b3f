"""FP16 that keeps accuracy: find the layers of an exported graph that must stay FP32 in a TensorRT FP16
engine, by running the graph in emulated half precision here (no GPU, no TensorRT needed).

FP16 breaks models in known places: values beyond 65504 become inf (an ``exp`` of box regression, a
sum of many terms, attention logits), and small differences of large numbers lose their digits. A
TensorRT FP16 engine stores activations and weights in half precision. The emulation rounds every
float initializer and every float node output of the ONNX graph to float16 and back (a ``Cast`` pair
after each node), so ONNX Runtime's float kernels compute on half-precision values -- storage and
rounding as the engine has them, arithmetic inside a kernel in float32 as TensorRT's FP16 kernels
accumulate; it neither sees TensorRT's layer fusions nor its tactic choices, which only a Jetson can
confirm (docs/deployment.md).

``fp16_plan`` then decides what stays FP32:

1. every node whose FP32 output reaches ``OVERFLOW_MARGIN`` x 65504 in magnitude on the frames given
   (it would overflow, or come close to it), and the nodes that read that output (an FP16 reader
   would turn a larger value on another frame into inf); every node reading a weight that large;
2. while the emulated graph misses the accuracy bounds (``Fp16Bounds``, the INT8 bounds of the parity
   suite) against FP32, the risky operator kinds (``RISKY_OPS``: softmax, exp, normalisations, sums
   and divisions) are kept FP32 too, one kind at a time.

The plan's layer names go into the exported model's metadata (``ModelSpec.fp32_layers``);
``export/build_trt_engine.py --fp16`` marks those layers FP32 and makes TensorRT obey it.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_MAX = 65504.0
#: a node whose FP32 values reach this fraction of the FP16 range is kept FP32 (headroom for frames
#: brighter, hotter or nearer than the analysed ones)
OVERFLOW_MARGIN = 0.25
#: operator kinds kept FP32 when the emulation misses the bounds, in this order (most to least
#: likely to lose the answer in half precision)
RISKY_OPS: Tuple[str, ...] = ('Softmax', 'Exp', 'LayerNormalization', 'ReduceSum', 'ReduceMean',
                              'Div', 'Pow', 'Sqrt', 'Log', 'Softplus', 'MatMul')
_FLOAT = TensorProto.FLOAT


@dataclass(frozen=True)
class Fp16Bounds:
    """How close FP16 must stay to FP32, per frame set (the INT8 bounds of the parity suite:
    tests/deploy/test_deploy_int8_accuracy.py)."""
    seg_agree_mean: float = 0.975
    seg_agree_min: float = 0.90
    depth_rel_mean: float = 0.04
    det_min_score: float = 0.2
    det_matched: float = 0.9
    det_score_diff: float = 0.03


@dataclass
class Fp16Report:
    """FP16 (emulated) against FP32 on the analysed frames, with the plan that was needed."""
    fp32_layers: List[str] = field(default_factory=list)   # node names kept FP32
    overflow: Dict[str, float] = field(default_factory=dict)   # node -> max |FP32 value|
    largest: Dict[str, float] = field(default_factory=dict)    # the 5 largest activations
    risky_ops_kept: List[str] = field(default_factory=list)
    frames: int = 0
    seg_agree_mean: Optional[float] = None
    seg_agree_min: Optional[float] = None
    depth_rel_mean: Optional[float] = None
    det_matched: Optional[float] = None
    det_score_diff: Optional[float] = None
    unconstrained: Dict[str, Optional[float]] = field(default_factory=dict)   # all-FP16 figures
    failures: List[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return dict(asdict(self), passed=self.passed)

    def format(self) -> str:
        def f(v, spec='.4f'):
            return '-' if v is None else format(v, spec)
        lines = [f'fp16 (emulated) vs fp32 on {self.frames} frames: '
                 f'{"PASSED" if self.passed else "FAILED"} with {len(self.fp32_layers)} layer(s) '
                 'kept fp32',
                 f'  seg labels agree {f(self.seg_agree_mean)} mean, {f(self.seg_agree_min)} worst; '
                 f'depth rel. error {f(self.depth_rel_mean)}; detections matched '
                 f'{f(self.det_matched, ".3f")}, score diff {f(self.det_score_diff)}']
        if self.unconstrained:
            u = self.unconstrained
            lines.append(f'  everything fp16: seg {f(u.get("seg_agree_mean"))} / '
                         f'{f(u.get("seg_agree_min"))}, depth {f(u.get("depth_rel_mean"))}, '
                         f'dets {f(u.get("det_matched"), ".3f")} / {f(u.get("det_score_diff"))}')
        if self.largest:
            lines.append(f'  largest |fp32| values (fp16 max {FP16_MAX:.0f}, kept fp32 from '
                         f'{OVERFLOW_MARGIN * FP16_MAX:.0f}): ' + ', '.join(
                             f'{n} {v:.3g}' for n, v in self.largest.items()))
        if self.risky_ops_kept:
            lines.append(f'  operator kinds kept fp32: {", ".join(self.risky_ops_kept)}')
        lines.extend(f'  ! {msg}' for msg in self.failures)
        return '\n'.join(lines)


# --- the emulation -------------------------------------------------------------------------------
def named_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` where every node has a name (``node_<i>`` for those the exporter left
    unnamed): the plan names layers, and TensorRT names its layers after them."""
    model = copy.deepcopy(model)
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f'node_{i}'
    return model


def float_outputs(model: onnx.ModelProto) -> Dict[str, str]:
    """``{float tensor name: the node that writes it}`` for every node output of type float32."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    out = {}
    for node in model.graph.node:
        for name in node.output:
            if name and types.get(name) == _FLOAT:
                out[name] = node.name or name
    return out


def emulate_fp16(model: onnx.ModelProto, keep_fp32: Iterable[str] = ()) -> onnx.ModelProto:
    """A copy of ``model`` computing on half-precision values (module docstring): float
    initializers rounded to FP16, and a ``Cast(FLOAT16) -> Cast(FLOAT)`` pair after every float
    node output, except for the nodes named in ``keep_fp32`` (their outputs and the initializers
    only they read stay FP32). Graph inputs and outputs keep their names and types."""
    keep: Set[str] = set(keep_fp32)
    model = named_nodes(model)
    graph = model.graph
    readers: Dict[str, Set[str]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, set()).add(node.name)
    for init in graph.initializer:
        if init.data_type == _FLOAT and not (readers.get(init.name, set()) <= keep
                                             and readers.get(init.name)):
            with np.errstate(over='ignore'):   # beyond the FP16 range is inf, as on the GPU
                rounded = numpy_helper.to_array(init).astype(np.float16).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(rounded, init.name))
    written = float_outputs(model)
    new_nodes = []
    for node in graph.node:
        new_nodes.append(node)
        if node.name in keep:
            continue
        for i, name in enumerate(node.output):
            if name not in written:
                continue
            raw = f'{name}__fp32'
            node.output[i] = raw
            half = f'{name}__fp16'
            new_nodes.append(helper.make_node('Cast', [raw], [half], to=TensorProto.FLOAT16,
                                              name=f'{node.name}__to_fp16_{i}'))
            new_nodes.append(helper.make_node('Cast', [half], [name], to=_FLOAT,
                                              name=f'{node.name}__to_fp32_{i}'))
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.value_info[:]
    return model


def readers_of(model: onnx.ModelProto, nodes: Iterable[str]) -> Set[str]:
    """The names of the nodes that read an output of one of ``nodes``."""
    wanted = set(nodes)
    outputs = {o for n in model.graph.node if n.name in wanted for o in n.output if o}
    return {n.name for n in model.graph.node if outputs.intersection(n.input)}


def weight_peaks(model: onnx.ModelProto) -> Dict[str, float]:
    """``{float initializer: max |value|}`` (a weight beyond the FP16 range is inf in an FP16
    layer)."""
    return {init.name: float(np.abs(numpy_helper.to_array(init)).max())
            for init in model.graph.initializer
            if init.data_type == _FLOAT and numpy_helper.to_array(init).size}


def activation_peaks(model: onnx.ModelProto, feeds: Sequence[Dict[str, np.ndarray]]
                     ) -> Dict[str, float]:
    """``{node name: max |value| of its float outputs}`` over ``feeds``, in FP32."""
    import onnxruntime as ort
    probe = copy.deepcopy(model)
    written = float_outputs(probe)
    existing = {o.name for o in probe.graph.output}
    for name in written:
        if name not in existing:
            probe.graph.output.append(helper.make_tensor_value_info(name, _FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    takes = {i.name for i in session.get_inputs()}
    peaks: Dict[str, float] = {}
    for feed in feeds:
        values = session.run(names, {k: v for k, v in feed.items() if k in takes})
        for name, value in zip(names, values):
            if name in written and value.size and np.issubdtype(value.dtype, np.floating):
                node = written[name]
                peaks[node] = max(peaks.get(node, 0.0), float(np.nanmax(np.abs(value))))
    return peaks


# --- agreement -----------------------------------------------------------------------------------
def agreement(fp32_run, fp16_run, feeds: Sequence[Dict[str, np.ndarray]], spec,
              bounds: Fp16Bounds = Fp16Bounds()) -> Dict[str, Optional[float]]:
    """Per-output agreement of the FP16 run with the FP32 run on the same network inputs (the
    metrics of the INT8 accuracy check: label agreement, depth relative error, detections matched
    one by one above ``det_min_score`` and their score difference)."""
    from perception.apis.postprocess import Thresholds, detections, seg_labels_of
    from perception.deploy.parity import ParityThresholds, match_detections
    thresholds = Thresholds.from_spec(spec)
    seg, depth, ref_dets, matched, diffs = [], [], 0, 0, []
    for feed in feeds:
        a, b = fp32_run(feed), fp16_run(feed)
        la, lb = seg_labels_of(a, 0), seg_labels_of(b, 0)
        if la is not None:
            seg.append(float(np.mean(la == lb)))
        if 'depth_pred' in a:
            da, db = a['depth_pred'][0].astype(np.float64), b['depth_pred'][0].astype(np.float64)
            rel = np.abs(db - da) / np.maximum(np.abs(da), 1e-3)
            depth.append(float(np.mean(np.where(np.isfinite(rel), rel, 1.0))))
        if spec.has_det:
            ra, rb = detections(a, spec, thresholds, 0), detections(b, spec, thresholds, 0)
            keep = ra[1] >= bounds.det_min_score
            ref = tuple(x[keep] for x in ra)
            pairs = match_detections(ref, rb, ParityThresholds())
            ref_dets += int(keep.sum())
            matched += len(pairs)
            diffs += [abs(float(ref[1][i] - rb[1][j])) for i, j, _ in pairs]
    return dict(seg_agree_mean=float(np.mean(seg)) if seg else None,
                seg_agree_min=float(min(seg)) if seg else None,
                depth_rel_mean=float(np.mean(depth)) if depth else None,
                det_matched=matched / ref_dets if ref_dets else None,
                det_score_diff=float(np.mean(diffs)) if diffs else None)


def misses(fig: Dict[str, Optional[float]], bounds: Fp16Bounds) -> List[str]:
    """What is outside ``bounds`` (empty: FP16 keeps FP32's behaviour)."""
    out = []
    if fig['seg_agree_mean'] is not None and (fig['seg_agree_mean'] < bounds.seg_agree_mean or
                                              fig['seg_agree_min'] < bounds.seg_agree_min):
        out.append(f"seg agreement {fig['seg_agree_mean']:.4f} mean, {fig['seg_agree_min']:.4f} "
                   f'worst < {bounds.seg_agree_mean} / {bounds.seg_agree_min}')
    if fig['depth_rel_mean'] is not None and fig['depth_rel_mean'] > bounds.depth_rel_mean:
        out.append(f"depth relative error {fig['depth_rel_mean']:.4f} > {bounds.depth_rel_mean}")
    if fig['det_matched'] is not None and fig['det_matched'] < bounds.det_matched:
        out.append(f"detections matched {fig['det_matched']:.3f} < {bounds.det_matched}")
    if fig['det_score_diff'] is not None and fig['det_score_diff'] > bounds.det_score_diff:
        out.append(f"detection score difference {fig['det_score_diff']:.4f} > "
                   f'{bounds.det_score_diff}')
    return out


def _runner(model: onnx.ModelProto):
    import onnxruntime as ort
    session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    takes = {i.name for i in session.get_inputs()}

    def run(feed):
        return dict(zip(names, session.run(names, {k: v for k, v in feed.items() if k in takes})))
    return run


# --- the plan ------------------------------------------------------------------------------------
def fp16_plan(model: onnx.ModelProto, spec, feeds: Sequence[Dict[str, np.ndarray]],
              bounds: Fp16Bounds = Fp16Bounds(), margin: float = OVERFLOW_MARGIN) -> Fp16Report:
    """The layers of ``model`` (an exported host graph) to keep FP32 so that FP16 stays within
    ``bounds`` of FP32 on ``feeds`` (pre-processed frames, ``Predictor.prepare``'s inputs).

    Returns:
        ``Fp16Report``: the node names to keep FP32 (overflow risks first, then whole risky
        operator kinds while the bounds are missed), the agreement reached and, if even then the
        bounds are missed, the failures.
    """
    model = named_nodes(model)
    kinds = {n.name: n.op_type for n in model.graph.node}
    peaks = activation_peaks(model, feeds)
    overflow = {n: v for n, v in peaks.items() if v >= margin * FP16_MAX}
    planned = set(overflow) | readers_of(model, overflow)
    for name, value in weight_peaks(model).items():   # a weight beyond the range: its readers
        if value >= margin * FP16_MAX:
            for reader in (n.name for n in model.graph.node if name in n.input):
                overflow[reader] = max(overflow.get(reader, 0.0), value)
                planned.add(reader)
    keep: List[str] = sorted(planned)
    reference = _runner(model)
    report = Fp16Report(overflow=overflow, frames=len(feeds),
                        largest=dict(sorted(((n, v) for n, v in peaks.items()
                                             if kinds[n] != 'Constant'), key=lambda kv: -kv[1])[:5]))
    report.unconstrained = agreement(reference, _runner(emulate_fp16(model)), feeds, spec, bounds)
    fig = agreement(reference, _runner(emulate_fp16(model, keep)), feeds, spec, bounds)
    for op in RISKY_OPS:
        if not misses(fig, bounds):
            break
        extra = sorted(n for n, t in kinds.items() if t == op and n not in keep)
        if not extra:
            continue
        keep += extra
        report.risky_ops_kept.append(op)
        fig = agreement(reference, _runner(emulate_fp16(model, keep)), feeds, spec, bounds)
    report.fp32_layers = keep
    for key, value in fig.items():
        setattr(report, key, value)
    report.failures = misses(fig, bounds)
    return report
