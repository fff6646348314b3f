"""Export to one ONNX file, then -- always -- onnx.checker (full), onnxsim, and a parity run against
PyTorch on real and synthetic frames. A failed check raises and leaves no output file behind.

Pipeline (every NMS mode shares steps 1-3, so parity of the network itself is always checked):

1. ``reparameterize`` (RepConv branches merged, BatchNorm folded: the inference form), then
   ``ExportWrapper`` (model + top-K candidates) -> ``torch.onnx.export`` (opset 17 by default, static
   H, W, optional dynamic batch) = the ``--nms host`` graph;
2. ``onnx.checker.check_model(full_check=True)`` and ``onnxsim.simplify`` (its own output check on);
3. parity: host graph in onnxruntime vs the wrapper in PyTorch;
4. ``--nms onnx``: append ONNX NonMaxSuppression (nms_graph), check again, parity of the final graph
   against PyTorch + host NMS. ``--nms trt``: append the EfficientNMS_TRT plugin (onnxruntime cannot run
   it: its parity is the host graph's, and ``onnx.checker`` cannot know the plugin op);
5. metadata_props = the ``ModelSpec`` (classes, normalisation, NMS mode, input size, ...).
"""
from __future__ import annotations

import copy
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import onnxruntime as ort
import torch

from perception.apis.preprocess import preprocess
from perception.apis.spec import ModelSpec
from perception.contract import SENSORS

from .frames import Frame, real_frames, synthetic_frames
from .nms_graph import append_efficient_nms, append_onnx_nms
from .parity import ParityReport, ParityThresholds, check_parity

if TYPE_CHECKING:   # the model stack (mmengine, mmdet) is imported where a model is exported
    from perception.models.export import ExportWrapper

DEFAULT_OPSET = 17     # TensorRT 8.5 (JetPack 5.1) parses up to opset 17; 10.x up to 20+
EXPORTERS = ('legacy', 'dynamo')


@dataclass(frozen=True)
class ExportOptions:
    input_size: Tuple[int, int]
    nms: str = 'onnx'                 # onnx | host | trt
    opset: int = DEFAULT_OPSET
    dynamic_batch: bool = False
    seg_output: str = 'labels'        # labels | logits | both
    score_thr: float = 0.05
    iou_thr: float = 0.5
    max_det: int = 100
    pre_nms_topk: int = 1000
    exporter: str = 'legacy'          # TorchScript exporter: native opset 17, fast; dynamo optional
    simplify: bool = True
    parity_synthetic: int = 2         # synthetic frames in the parity run (+ every real sample)
    parity_subsets: bool = True       # also run single-sensor variants of the frames


@dataclass
class ExportResult:
    path: Path
    spec: ModelSpec
    parity: List[ParityReport] = field(default_factory=list)
    simplified: bool = False
    seconds: float = 0.0
    host_model: Optional[onnx.ModelProto] = None   # the checked --nms host graph (in memory)
    host_spec: Optional[ModelSpec] = None

    def summary(self) -> dict:
        return {'path': str(self.path), 'nms': self.spec.nms, 'opset': self.spec.opset,
                'outputs': list(self.spec.outputs), 'simplified': self.simplified,
                'seconds': round(self.seconds, 2),
                'parity': {r.label: r.to_dict() for r in self.parity}}


def parity_frames(size: Tuple[int, int], num_synthetic: int = 2, subsets: bool = True,
                  seed: int = 0, sensors: Sequence[str] = SENSORS) -> List[Frame]:
    """Every real sample + synthetic scenes restricted to ``sensors`` (the sensors the model was
    trained on; a frame with none of them is left out), each also with single sensors."""
    frames = []
    for f in list(real_frames()) + synthetic_frames(num_synthetic, size, seed):
        if any(f.sensors()[s] is not None for s in sensors):   # the frame as the model sees it
            frames.append(replace(f, **{s: None for s in SENSORS if s not in sensors}))
    if subsets:
        extra = []
        for f in frames:
            present = [s for s, v in f.sensors().items() if v is not None]
            if len(present) > 1:
                extra.extend(f.keep([s]) for s in present)
        frames += extra
    return frames


def _export_graph(wrapper: ExportWrapper, path: Path, size: Tuple[int, int], opts: ExportOptions
                  ) -> Dict[str, tuple]:
    """Trace ``wrapper`` to ``path``; returns the output shapes of the batch-1 example."""
    from perception.models.export import zero_inputs
    args = zero_inputs(*size, wrapper.sensors)
    inputs = list(wrapper.input_names)
    with torch.no_grad():
        values = wrapper(*args)    # learns the output names
    names = list(wrapper.output_names)
    shapes = {n: tuple(v.shape) for n, v in zip(names, values)}
    if opts.exporter not in EXPORTERS:
        raise ValueError(f'exporter must be one of {EXPORTERS}, got {opts.exporter!r}')
    with warnings.catch_warnings():
        # Both exporters warn about tracing details (int casts, legacy deprecation) that we accept.
        warnings.simplefilter('ignore')
        if opts.exporter == 'legacy':
            axes = {n: {0: 'batch'} for n in (*inputs, *names)} if opts.dynamic_batch else None
            torch.onnx.export(wrapper, args, str(path), input_names=inputs,
                              output_names=names, opset_version=opts.opset, dynamo=False,
                              dynamic_axes=axes, do_constant_folding=True)
        else:
            batch = torch.export.Dim('batch', min=1, max=64)
            dynamic = ({n: {0: batch} for n in inputs} if opts.dynamic_batch else None)
            program = torch.onnx.export(wrapper, args, input_names=inputs,
                                        output_names=names, opset_version=opts.opset, dynamo=True,
                                        dynamic_shapes=dynamic, external_data=False, verbose=False)
            program.save(str(path), external_data=False)
    return shapes


def _pin_output_shapes(model: onnx.ModelProto, shapes: Dict[str, tuple],
                       dynamic_batch: bool) -> onnx.ModelProto:
    """Declare the true output shapes (the tracer's dynamic-axes inference invents symbolic names
    for static dims): dim 0 'batch' or 1, the rest as the eager run produced them."""
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        del dims[:]
        for axis, size in enumerate(shapes[out.name]):
            d = dims.add()
            if axis == 0 and dynamic_batch:
                d.dim_param = 'batch'
            else:
                d.dim_value = int(size)
    del model.graph.value_info[:]   # stale intermediate shapes; onnxsim / checkers re-infer
    return model


def _simplify(model: onnx.ModelProto) -> Tuple[onnx.ModelProto, bool]:
    import onnxsim
    simplified, ok = onnxsim.simplify(model)   # runs its own onnxruntime output check
    if not ok:
        warnings.warn('onnxsim could not validate the simplified graph; keeping the original')
        return model, False
    return simplified, True


def set_metadata(model: onnx.ModelProto, spec: ModelSpec) -> onnx.ModelProto:
    del model.metadata_props[:]
    for k, v in spec.to_metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = 'perception'
    return model


def cpu_session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Spinning worker threads would steal the cores from the interleaved PyTorch reference runs.
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                providers=['CPUExecutionProvider'])


def cached_runner(run):
    """Run the (slow) PyTorch reference once per input dict, however many graphs are compared."""
    cache = {}

    def cached(inputs):
        key = id(inputs)
        if key not in cache:
            cache[key] = (inputs, run(inputs))   # keep ``inputs`` alive: ids stay unique
        return cache[key][1]
    return cached


def ort_runner(session: ort.InferenceSession):
    names = [o.name for o in session.get_outputs()]
    takes = {i.name for i in session.get_inputs()}

    def run(inputs):
        return dict(zip(names, session.run(names, {k: v for k, v in inputs.items() if k in takes})))
    return run


def _parity_inputs(frames: Sequence[Frame], spec: ModelSpec, dynamic_batch: bool):
    items = []
    for f in frames:
        inputs, _ = preprocess(spec, **f.sensors())
        items.append((f.name, inputs))
    if dynamic_batch and len(items) >= 2:   # one batch of two proves the batch axis is dynamic
        a, b = items[0][1], items[1][1]
        items.append(('batch2', {k: np.concatenate([a[k], b[k]]) for k in a}))
    return items


def add_nms(host: onnx.ModelProto, host_spec: ModelSpec, opts: ExportOptions
            ) -> Tuple[onnx.ModelProto, ModelSpec]:
    """Append the NMS tail of ``opts.nms`` to a host graph; metadata set, ONNX-valid tails checked."""
    if not host_spec.has_det or opts.nms == 'host':
        return host, host_spec
    if opts.nms == 'onnx':
        final = append_onnx_nms(host, opts.max_det, opts.iou_thr, opts.score_thr)
    else:
        final = append_efficient_nms(host, opts.max_det, opts.iou_thr, opts.score_thr,
                                     num_classes=len(host_spec.det_classes))
    spec = host_spec.replace(outputs=tuple(o.name for o in final.graph.output), nms=opts.nms)
    final = set_metadata(final, spec)
    if opts.nms == 'onnx':   # the TensorRT plugin op is unknown to onnx.checker by construction
        onnx.checker.check_model(final, full_check=True)
    return final, spec


def export_onnx(model: torch.nn.Module, output, base_spec: ModelSpec, opts: ExportOptions,
                frames: Optional[Sequence[Frame]] = None,
                thresholds: Optional[ParityThresholds] = None) -> ExportResult:
    """Export ``model`` (eval mode, CPU) to one ONNX file, checked (module docstring).

    Args:
        model: a module with ``forward_export`` (wrapped in ``ExportWrapper``).
        output: the ``.onnx`` file to write (nothing is written when a check fails).
        base_spec: classes, normalisation and source of the model (``apis.config_spec.make_spec``).
        opts: NMS mode, opset, detection settings, parity frames.
        frames: parity frames (default: every real sample + ``opts.parity_synthetic`` scenes).
        thresholds: parity pass thresholds.

    Returns:
        ``ExportResult``: the file, its ``ModelSpec`` (also in the file's metadata), the parity
        reports, and the checked ``--nms host`` graph for INT8 quantisation.

    Raises:
        ParityError: the graph does not reproduce the PyTorch model (``.report`` has the figures).
    """
    from perception.models.export import ExportWrapper
    from perception.models.layers import reparameterize
    t0 = time.perf_counter()
    output = Path(output)
    if opts.nms not in ('onnx', 'host', 'trt'):
        raise ValueError(f'nms must be onnx, host or trt, got {opts.nms!r}')
    model = model.eval().cpu()
    # The graph holds the inference form (branches merged, BN folded); parity is checked against
    # the model as trained, so the check covers the re-parameterisation too.
    wrapper = ExportWrapper(model, opts.pre_nms_topk, opts.seg_output).eval()
    fused = ExportWrapper(reparameterize(copy.deepcopy(model)), opts.pre_nms_topk,
                          opts.seg_output).eval()
    with tempfile.TemporaryDirectory() as tmp:
        host_path = Path(tmp) / 'host.onnx'
        shapes = _export_graph(fused, host_path, opts.input_size, opts)
        host = _pin_output_shapes(onnx.load(str(host_path)), shapes, opts.dynamic_batch)
    written = max(o.version for o in host.opset_import if o.domain in ('', 'ai.onnx'))
    if written != opts.opset:   # the dynamo exporter cannot always convert down (e.g. to 17)
        raise ValueError(f'the {opts.exporter} exporter wrote opset {written}, not {opts.opset}; '
                         'use exporter="legacy" for opset <= 17 (TensorRT 8.5/8.6)')
    onnx.checker.check_model(host, full_check=True)
    simplified = False
    if opts.simplify:
        host, simplified = _simplify(host)
    common = dict(opset=opts.opset, dynamic_batch=opts.dynamic_batch, score_thr=opts.score_thr,
                  iou_thr=opts.iou_thr, max_det=opts.max_det, pre_nms_topk=opts.pre_nms_topk,
                  input_size=opts.input_size)
    host_spec = base_spec.replace(outputs=tuple(fused.output_names), nms='host', **common)
    if not host_spec.has_det:
        host_spec = host_spec.replace(nms='none')
    host = set_metadata(host, host_spec)
    frames = list(frames) if frames is not None else parity_frames(
        opts.input_size, opts.parity_synthetic, opts.parity_subsets,
        sensors=host_spec.trained_sensors)
    items = _parity_inputs(frames, host_spec, opts.dynamic_batch)
    reference = cached_runner(wrapper.run_numpy)
    reports = [check_parity(reference, ort_runner(cpu_session(host)), items, host_spec, host_spec,
                            thresholds=thresholds, label='network (host graph)')]
    final, final_spec = add_nms(host, host_spec, opts)
    if final_spec.nms == 'onnx':
        reports.append(check_parity(reference, ort_runner(cpu_session(final)), items, host_spec,
                                    final_spec, thresholds=thresholds,
                                    label='final graph with ONNX NonMaxSuppression'))
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(final, str(output), save_as_external_data=False)
    return ExportResult(output, final_spec, reports, simplified, time.perf_counter() - t0,
                        host_model=host, host_spec=host_spec)


def export_from_config(config, checkpoint: Optional[str], output, *,
                       input_size: Optional[Sequence[int]] = None, **options) -> ExportResult:
    """``export_onnx`` of the model of ``config`` (random init without ``checkpoint``).

    Args:
        config: config file or ``Config``; its ``input_size`` unless ``input_size`` is given.
        checkpoint: weights file.
        output: the ``.onnx`` file.
        **options: ``ExportOptions`` fields; detection settings not given (None) come from the
            config's det head ``nms`` settings.

    Returns:
        The ``ExportResult``.
    """
    from perception.apis.config_spec import input_size_of, make_spec, nms_defaults
    from perception.models.builder import build_model, load_config
    cfg = load_config(config)
    model = build_model(cfg, checkpoint)
    size = input_size_of(cfg, input_size)
    base = make_spec(model, cfg, size,
                     source=' '.join(str(p) for p in (config, checkpoint) if p))
    settings = dict(nms_defaults(cfg))
    settings.update({k: v for k, v in options.items() if v is not None})
    return export_onnx(model, output, base, ExportOptions(input_size=size, **settings))
