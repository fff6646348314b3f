"""In-graph NMS, appended with onnx-graphsurgeon to the ``--nms host`` graph (top-K candidates).

Both tails consume the host graph's ``det_boxes`` (B, K0, 4), ``det_scores`` (B, K0), ``det_labels``
(B, K0) and produce the DESIGN outputs with a fixed K = ``max_det``: ``det_boxes`` (B, K, 4),
``det_scores`` (B, K) with 0 in empty slots, ``det_labels`` (B, K) int32, sorted by score.

* ``append_onnx_nms``: standard ONNX ops (opset >= 11) that onnxruntime runs and TensorRT >= 8.5 parses.
  Class-aware NMS with one NonMaxSuppression call by offsetting each class's boxes far apart (the
  batched-NMS trick of torchvision/mmcv), then the kept candidates are scattered back into a score map
  and the best K taken with TopK -- fixed shapes whatever NMS kept.
* ``append_efficient_nms``: TensorRT's ``EfficientNMS_TRT`` plugin (plugin library of TensorRT >= 8.0),
  the fastest path on a Jetson. onnxruntime cannot run it; parity is checked on the host graph it is
  appended to, and the plugin's attributes are checked here and by ``trt_compat``.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from perception.contract import DET_OUTPUT_NAMES as CANDIDATES

EFFICIENT_NMS_OP = 'EfficientNMS_TRT'


def _split_candidates(graph: gs.Graph):
    """Detach the candidate outputs; return them (renamed) and the other outputs in order."""
    by_name = {t.name: t for t in graph.outputs}
    missing = [n for n in CANDIDATES if n not in by_name]
    if missing:
        raise ValueError(f'graph has no detection candidates {missing}; outputs: {list(by_name)}')
    cands = []
    for n in CANDIDATES:
        t = by_name[n]
        t.name = f'{n}_candidates'
        cands.append(t)
    keep = [t for t in graph.outputs if t.name not in {c.name for c in cands}]
    return cands, keep


def _finish(graph: gs.Graph, others, boxes, scores, labels) -> onnx.ModelProto:
    outs = {'det_boxes': boxes, 'det_scores': scores, 'det_labels': labels}
    ordered = []
    for t in others:          # keep the DESIGN order: seg, det, depth
        if t.name == 'depth_pred':
            ordered.extend(outs.values())
            outs = {}
        ordered.append(t)
    ordered.extend(outs.values())
    graph.outputs = ordered
    graph.cleanup().toposort()
    return gs.export_onnx(graph)


def _mask_empty(graph: gs.Graph, boxes, scores, labels, valid):
    """Zero boxes/labels/scores of empty slots (``valid`` (B, K) bool) into the final outputs."""
    zero_f = np.zeros((), np.float32)
    valid3 = graph.layer(op='Unsqueeze', inputs=[valid, np.asarray([2], np.int64)],
                         outputs=['nms_valid3'])[0]
    # gs.Variable (not a string) keeps the exact DESIGN names; graph.layer would suffix strings.
    det_boxes = gs.Variable('det_boxes', dtype=np.float32, shape=boxes.shape)
    det_scores = gs.Variable('det_scores', dtype=np.float32, shape=scores.shape)
    det_labels = gs.Variable('det_labels', dtype=np.int32, shape=labels.shape)
    graph.layer(op='Where', inputs=[valid3, boxes, zero_f], outputs=[det_boxes])
    graph.layer(op='Where', inputs=[valid, scores, zero_f], outputs=[det_scores])
    graph.layer(op='Where', inputs=[valid, labels, np.zeros((), np.int32)], outputs=[det_labels])
    return det_boxes, det_scores, det_labels


def append_onnx_nms(model: onnx.ModelProto, max_det: int, iou_thr: float,
                    score_thr: float) -> onnx.ModelProto:
    """Host graph -> graph with ONNX NonMaxSuppression (class-aware, fixed K outputs)."""
    graph = gs.import_onnx(model)
    (boxes, scores, labels), others = _split_candidates(graph)
    k0 = scores.shape[1]
    if max_det > k0:
        raise ValueError(f'max_det={max_det} exceeds the {k0} pre-NMS candidates')
    # Shift each class by (label * span) with span = max - min coordinate + 1 over the batch, so no two
    # classes overlap whatever the box extent (decoded boxes may leave the image).
    top = graph.layer(op='ReduceMax', inputs=[boxes], outputs=['nms_box_max'],
                      attrs={'keepdims': 0})[0]
    bottom = graph.layer(op='ReduceMin', inputs=[boxes], outputs=['nms_box_min'],
                         attrs={'keepdims': 0})[0]
    span = graph.layer(op='Sub', inputs=[top, bottom], outputs=['nms_span0'])[0]
    span = graph.layer(op='Add', inputs=[span, np.asarray(1, np.float32)], outputs=['nms_span'])[0]
    lab_f = graph.layer(op='Cast', inputs=[labels], outputs=['nms_lab_f'],
                        attrs={'to': onnx.TensorProto.FLOAT})[0]
    offset = graph.layer(op='Mul', inputs=[lab_f, span], outputs=['nms_offset'])[0]
    offset = graph.layer(op='Unsqueeze', inputs=[offset, np.asarray([2], np.int64)],
                         outputs=['nms_offset3'])[0]
    shifted = graph.layer(op='Add', inputs=[boxes, offset], outputs=['nms_boxes'])[0]
    scores3 = graph.layer(op='Unsqueeze', inputs=[scores, np.asarray([1], np.int64)],
                          outputs=['nms_scores3'])[0]
    selected = graph.layer(
        op='NonMaxSuppression',
        inputs=[shifted, scores3, np.asarray([max_det], np.int64),
                np.asarray([iou_thr], np.float32), np.asarray([score_thr], np.float32)],
        outputs=['nms_selected'], attrs={'center_point_box': 0})[0]
    # selected: (M, 3) = (batch, class=0, candidate); keep (batch, candidate) pairs.
    pairs = graph.layer(op='Gather', inputs=[selected, np.asarray([0, 2], np.int64)],
                        outputs=['nms_pairs'], attrs={'axis': 1})[0]
    kept_scores = graph.layer(op='GatherND', inputs=[scores, pairs], outputs=['nms_kept'])[0]
    zeros = graph.layer(op='Mul', inputs=[scores, np.zeros((), np.float32)],
                        outputs=['nms_zeros'])[0]
    score_map = graph.layer(op='ScatterND', inputs=[zeros, pairs, kept_scores],
                            outputs=['nms_score_map'])[0]
    top_scores, top_idx = graph.layer(
        op='TopK', inputs=[score_map, np.asarray([max_det], np.int64)],
        outputs=['nms_top_scores', 'nms_top_idx'], attrs={'axis': 1, 'largest': 1, 'sorted': 1})
    idx3 = graph.layer(op='Unsqueeze', inputs=[top_idx, np.asarray([2], np.int64)],
                       outputs=['nms_idx3'])[0]
    box_shape = graph.layer(op='Shape', inputs=[idx3], outputs=['nms_idx3_shape'])[0]
    box_shape = graph.layer(op='Concat', inputs=[
        graph.layer(op='Slice', inputs=[box_shape, np.asarray([0], np.int64),
                                        np.asarray([2], np.int64), np.asarray([0], np.int64)],
                    outputs=['nms_bk'])[0], np.asarray([4], np.int64)],
        outputs=['nms_box_idx_shape'], attrs={'axis': 0})[0]
    idx_boxes = graph.layer(op='Expand', inputs=[idx3, box_shape], outputs=['nms_idx_boxes'])[0]
    top_boxes = graph.layer(op='GatherElements', inputs=[boxes, idx_boxes],
                            outputs=['nms_top_boxes'], attrs={'axis': 1})[0]
    top_labels = graph.layer(op='GatherElements', inputs=[labels, top_idx],
                             outputs=['nms_top_labels'], attrs={'axis': 1})[0]
    valid = graph.layer(op='Greater', inputs=[top_scores, np.zeros((), np.float32)],
                        outputs=['nms_valid'])[0]
    batch = scores.shape[0]
    for var, dtype, shape in ((top_boxes, np.float32, (batch, max_det, 4)),
                              (top_scores, np.float32, (batch, max_det)),
                              (top_labels, np.int32, (batch, max_det))):
        var.dtype, var.shape = dtype, shape
    return _finish(graph, others, *_mask_empty(graph, top_boxes, top_scores, top_labels, valid))


def append_efficient_nms(model: onnx.ModelProto, max_det: int, iou_thr: float, score_thr: float,
                         num_classes: int) -> onnx.ModelProto:
    """Host graph -> graph with TensorRT's EfficientNMS_TRT plugin (class-aware, sigmoid scores)."""
    graph = gs.import_onnx(model)
    (boxes, scores, labels), others = _split_candidates(graph)
    # Per-class score columns (B, K0, C): each candidate scores only in its own class.
    classes = np.arange(num_classes, dtype=np.int32).reshape(1, 1, -1)
    lab3 = graph.layer(op='Unsqueeze', inputs=[labels, np.asarray([2], np.int64)],
                       outputs=['nms_lab3'])[0]
    onehot = graph.layer(op='Equal', inputs=[lab3, classes], outputs=['nms_onehot'])[0]
    scores3 = graph.layer(op='Unsqueeze', inputs=[scores, np.asarray([2], np.int64)],
                          outputs=['nms_scores3'])[0]
    class_scores = graph.layer(op='Where', inputs=[onehot, scores3, np.zeros((), np.float32)],
                               outputs=['nms_class_scores'])[0]
    batch = scores.shape[0]
    num = gs.Variable('nms_num_detections', dtype=np.int32, shape=(batch, 1))
    nms_boxes = gs.Variable('nms_boxes_out', dtype=np.float32, shape=(batch, max_det, 4))
    nms_scores = gs.Variable('nms_scores_out', dtype=np.float32, shape=(batch, max_det))
    nms_labels = gs.Variable('nms_labels_out', dtype=np.int32, shape=(batch, max_det))
    graph.layer(op=EFFICIENT_NMS_OP, name='efficient_nms', inputs=[boxes, class_scores],
                outputs=[num, nms_boxes, nms_scores, nms_labels],
                attrs={'plugin_version': '1', 'background_class': -1,
                       'max_output_boxes': int(max_det),
                       # the plugin drops scores <= threshold: keep it > 0 so zero columns never pass
                       'score_threshold': float(max(score_thr, 1e-6)),
                       'iou_threshold': float(iou_thr), 'score_activation': 0, 'box_coding': 0})
    # Only the first num_detections slots are defined by the plugin: mask the rest to 0.
    slots = np.arange(max_det, dtype=np.int32).reshape(1, -1)
    valid = graph.layer(op='Less', inputs=[slots, num], outputs=['nms_valid'])[0]
    return _finish(graph, others, *_mask_empty(graph, nms_boxes, nms_scores, nms_labels, valid))
