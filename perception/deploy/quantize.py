"""INT8 static quantisation to a Q/DQ ONNX graph, for one of two runtimes, and the accuracy it costs on
a held-out split.

* The network (the ``--nms host`` graph) is quantised, then the same NMS tail as the FP32 export is
  appended: NMS and the top-K bookkeeping stay in float.
* ``quant_pre_process`` (shape inference + graph optimisation) then ``quantize_static`` in QDQ
  format, per-channel weights. Two targets (``INT8_TARGETS``), because what each runtime takes and
  what it runs fast differ:

  - ``tensorrt`` (the Jetson engine's input): INT8 weights and activations, **symmetric** (TensorRT
    rejects other zero points), biases left in float (TensorRT dequantises only INT8 tensors), only
    the ops TensorRT runs in INT8 with a gain (Conv, ConvTranspose, Gemm, MatMul). ONNX Runtime
    cannot fuse such a group into an integer kernel (its QDQ Conv fusion needs an int32 bias), so on
    a CPU this file runs float convs between Q/DQ pairs: slower than FP32 (docs/benchmarks.md).
  - ``onnxruntime`` (CPU deployment): unsigned 8-bit activations with a zero point (the u8 x s8
    dot products of VNNI/AVX-512 and MLAS), signed symmetric per-channel weights, int32 biases, every
    op ONNX Runtime has an integer kernel for, so that chains of layers stay in INT8.

  ``quantize_dynamic`` would emit integer ops TensorRT does not take.
* Calibration frames are drawn from a dataset config's training split and go through the Predictor's
  own pre-processing; the accuracy check runs FP32 and INT8 files through the Predictor on another
  split and reports mIoU / mAP / depth metrics and their deltas.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quant_pre_process, quantize_static)

from perception.apis.predictor import Predictor
from perception.apis.spec import ModelSpec
from perception.contract import IGNORE_INDEX

from .frames import Frame

CALIBRATION_METHODS = {'minmax': CalibrationMethod.MinMax, 'entropy': CalibrationMethod.Entropy,
                       'percentile': CalibrationMethod.Percentile}
QUANT_OPS = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')


@dataclass(frozen=True)
class Int8Target:
    """How ``quantize_static`` is set up for one runtime (module docstring)."""
    activation_type: QuantType
    symmetric_activations: bool
    quantize_bias: bool
    op_types: Optional[Tuple[str, ...]]   # None: every op the quantiser supports


INT8_TARGETS: Dict[str, Int8Target] = {
    'tensorrt': Int8Target(QuantType.QInt8, True, False, QUANT_OPS),
    'onnxruntime': Int8Target(QuantType.QUInt8, False, True, None),
}


class InputsReader(CalibrationDataReader):
    """Feeds pre-processed input dicts (batch 1) to the calibrator."""

    def __init__(self, inputs: Sequence[Dict[str, np.ndarray]], input_names: Sequence[str]):
        self._items = [{n: x[n] for n in input_names} for x in inputs]
        self._pos = 0

    def get_next(self):
        if self._pos >= len(self._items):
            return None
        self._pos += 1
        return self._items[self._pos - 1]

    def rewind(self):
        self._pos = 0


def calibration_inputs(spec: ModelSpec, frames: Iterable[Frame]) -> List[Dict[str, np.ndarray]]:
    from perception.apis.preprocess import preprocess
    return [preprocess(spec, **f.sensors())[0] for f in frames]


def quantize_graph(model: onnx.ModelProto, calibration: Sequence[Dict[str, np.ndarray]],
                   method: str = 'minmax', per_channel: bool = True,
                   target: str = 'tensorrt', op_types: Optional[Sequence[str]] = None,
                   keep_float: Optional[Callable[[onnx.NodeProto], bool]] = None
                   ) -> onnx.ModelProto:
    """FP32 network graph -> Q/DQ INT8 graph for ``target`` (``INT8_TARGETS``); metadata is the
    caller's business. ``op_types`` replaces the target's quantised op types and ``keep_float``
    leaves the nodes it selects (after ``quant_pre_process``) in float: the forms
    tools/analysis/int8_forms.py compares."""
    if not calibration:
        raise ValueError('INT8 calibration needs at least one frame')
    if method not in CALIBRATION_METHODS:
        raise ValueError(f'calibration method must be one of {sorted(CALIBRATION_METHODS)}')
    if target not in INT8_TARGETS:
        raise ValueError(f'INT8 target must be one of {sorted(INT8_TARGETS)}, got {target!r}')
    how = INT8_TARGETS[target]
    names = [i.name for i in model.graph.input]
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = (Path(tmp) / n for n in ('fp32.onnx', 'pre.onnx', 'int8.onnx'))
        onnx.save_model(model, str(src))
        quant_pre_process(str(src), str(pre))
        excluded = [] if keep_float is None else [
            n.name for n in onnx.load(str(pre)).graph.node if keep_float(n)]
        types = how.op_types if op_types is None else tuple(op_types)
        quantize_static(str(pre), str(out), InputsReader(calibration, names),
                        quant_format=QuantFormat.QDQ, activation_type=how.activation_type,
                        weight_type=QuantType.QInt8, per_channel=per_channel,
                        op_types_to_quantize=None if types is None else list(types),
                        nodes_to_exclude=excluded,
                        calibrate_method=CALIBRATION_METHODS[method],
                        extra_options={'ActivationSymmetric': how.symmetric_activations,
                                       'WeightSymmetric': True,
                                       'QuantizeBias': how.quantize_bias})
        quantized = onnx.load(str(out))
    onnx.checker.check_model(quantized, full_check=True)
    return quantized


# --- accuracy --------------------------------------------------------------------------------------
def evaluate(predictor: Predictor, frames: Iterable[Frame]) -> Dict[str, float]:
    """seg mIoU/aAcc, det mAP/mAP_50 (pycocotools), depth AbsRel/RMSE/delta1 over ``frames``."""
    from perception.evaluation import (DetRecord, coco_map, confusion_matrix, depth_stats,
                                       depth_summary, seg_summary)
    spec = predictor.spec
    conf = np.zeros((len(spec.seg_classes), ) * 2, np.int64)
    records, depth, count = [], [], 0
    for f in frames:
        r = predictor(**f.sensors())
        t = f.targets
        count += 1
        if r.seg_labels is not None and t.get('gt_sem_seg') is not None:
            conf += confusion_matrix(r.seg_labels, np.asarray(t['gt_sem_seg']),
                                     len(spec.seg_classes), IGNORE_INDEX)
        if r.det_scores is not None and t.get('gt_bboxes') is not None:
            records.append(DetRecord.create(t['gt_bboxes'], t['gt_bboxes_labels'], r.det_boxes,
                                            r.det_scores, r.det_labels))
        if r.depth is not None and t.get('gt_depth') is not None:
            depth.append(depth_stats(r.depth, np.asarray(t['gt_depth'])))
    out: Dict[str, float] = {'frames': float(count)}
    if conf.sum():
        seg = seg_summary(conf, spec.seg_classes)
        out.update({'mIoU': seg['mIoU'], 'aAcc': seg['aAcc']})
    if records:
        det = coco_map(records, spec.det_classes)
        out.update({'mAP': det['mAP'], 'mAP_50': det['mAP_50']})
    if depth:
        out.update(depth_summary(depth))
    return out


@dataclass
class AccuracyReport:
    fp32: Dict[str, float]
    int8: Dict[str, float]
    delta: Dict[str, float] = field(default_factory=dict)
    note: str = ''

    def __post_init__(self):
        self.delta = {k: self.int8[k] - self.fp32[k] for k in self.fp32
                      if k in self.int8 and k != 'frames'}

    def to_dict(self) -> dict:
        return {'fp32': self.fp32, 'int8': self.int8, 'delta': self.delta, 'note': self.note}

    def format(self) -> str:
        lines = [f'INT8 vs FP32 on {int(self.fp32.get("frames", 0))} held-out frames'
                 + (f' ({self.note})' if self.note else ''),
                 f'  {"metric":8s} {"fp32":>9s} {"int8":>9s} {"delta":>9s}']
        for k, d in self.delta.items():
            lines.append(f'  {k:8s} {self.fp32[k]:9.4f} {self.int8[k]:9.4f} {d:+9.4f}')
        return '\n'.join(lines)


def int8_accuracy(fp32_path, int8_path, frames: Sequence[Frame], note: str = '') -> AccuracyReport:
    frames = list(frames)
    fp32 = evaluate(Predictor.from_onnx(fp32_path, providers=['CPUExecutionProvider']), frames)
    int8 = evaluate(Predictor.from_onnx(int8_path, providers=['CPUExecutionProvider']), frames)
    return AccuracyReport(fp32, int8, note=note)


def count_qdq(model: onnx.ModelProto) -> Dict[str, int]:
    ops = [n.op_type for n in model.graph.node]
    return {'QuantizeLinear': ops.count('QuantizeLinear'),
            'DequantizeLinear': ops.count('DequantizeLinear')}


def export_int8(host: onnx.ModelProto, host_spec: ModelSpec, opts, calibration_frames:
                Iterable[Frame], output, method: str = 'minmax', target: str = 'tensorrt'):
    """Quantise a checked host graph for ``target``, append ``opts.nms``'s tail, save ``output``.

    Returns (spec of the saved file, quantised host graph) -- the latter runs in onnxruntime even
    when the saved file carries the TensorRT NMS plugin."""
    from .onnx_export import add_nms, set_metadata
    calib = calibration_inputs(host_spec, calibration_frames)
    quantized = set_metadata(quantize_graph(host, calib, method, target=target),
                              host_spec.replace(precision='int8'))
    final, spec = add_nms(quantized, host_spec, opts)
    spec = spec.replace(precision='int8')
    final = set_metadata(final, spec)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(final, str(output), save_as_external_data=False)
    return spec, quantized


def held_out_frames(config, num: int, split: Optional[str] = None) -> List[Frame]:
    """``num`` frames of the test split (else val) of a dataset config."""
    from .frames import dataset_frames
    for s in ([split] if split else ['test', 'val']):
        try:
            return list(dataset_frames(config, s, num))
        except KeyError:
            continue
    raise KeyError(f'{config} has no test/val dataloader for the INT8 accuracy check')
