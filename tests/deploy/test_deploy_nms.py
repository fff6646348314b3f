"""Host NMS (numpy) vs the in-graph ONNX NonMaxSuppression tail vs the model's own ``topk_nms``."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

from perception.apis.nms import batched_nms
from perception.deploy.nms_graph import append_onnx_nms


def candidates_graph(batch: int, k0: int) -> onnx.ModelProto:
    """A stand-in host graph whose detection outputs are its inputs (to test the tail alone)."""
    inputs = [helper.make_tensor_value_info('boxes', TensorProto.FLOAT, [batch, k0, 4]),
              helper.make_tensor_value_info('scores', TensorProto.FLOAT, [batch, k0]),
              helper.make_tensor_value_info('labels', TensorProto.INT32, [batch, k0])]
    outputs = [helper.make_tensor_value_info('det_boxes', TensorProto.FLOAT, [batch, k0, 4]),
               helper.make_tensor_value_info('det_scores', TensorProto.FLOAT, [batch, k0]),
               helper.make_tensor_value_info('det_labels', TensorProto.INT32, [batch, k0])]
    nodes = [helper.make_node('Identity', [i], [o]) for i, o in
             (('boxes', 'det_boxes'), ('scores', 'det_scores'), ('labels', 'det_labels'))]
    graph = helper.make_graph(nodes, 'candidates', inputs, outputs)
    # IR 8 = what torch.onnx writes for opset 17 (onnxruntime reads up to IR 13, onnx writes 14)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], ir_version=8)


def random_candidates(rng, batch, k0, classes=3):
    """Clustered boxes (lots of overlap), some leaving the image, sorted scores like TopK's."""
    centres = rng.uniform(-20, 120, (batch, 6, 2))
    pick = rng.integers(0, 6, (batch, k0))
    c = np.take_along_axis(centres, pick[..., None], 1) + rng.normal(0, 4, (batch, k0, 2))
    wh = rng.uniform(5, 40, (batch, k0, 2))
    boxes = np.concatenate([c - wh / 2, c + wh / 2], -1).astype(np.float32)
    scores = -np.sort(-rng.uniform(0, 1, (batch, k0)), axis=1).astype(np.float32)
    labels = rng.integers(0, classes, (batch, k0)).astype(np.int32)
    return boxes, scores, labels


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_onnx_nms_tail_equals_host_nms(seed):
    batch, k0, k, iou, thr = 2, 150, 25, 0.5, 0.2
    model = append_onnx_nms(candidates_graph(batch, k0), k, iou, thr)
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    boxes, scores, labels = random_candidates(np.random.default_rng(seed), batch, k0)
    out_boxes, out_scores, out_labels = sess.run(
        ['det_boxes', 'det_scores', 'det_labels'],
        {'boxes': boxes, 'scores': scores, 'labels': labels})
    assert out_boxes.shape == (batch, k, 4) and out_scores.shape == (batch, k)
    assert out_labels.dtype == np.int32
    for b in range(batch):
        ref_boxes, ref_scores, ref_labels = batched_nms(boxes[b], scores[b], labels[b], iou, thr, k)
        n = len(ref_scores)
        assert 0 < n < k or n == k
        np.testing.assert_array_equal(out_scores[b, :n], ref_scores)
        np.testing.assert_array_equal(out_labels[b, :n], ref_labels)
        np.testing.assert_array_equal(out_boxes[b, :n], ref_boxes)
        # empty slots: score 0, box 0, label 0
        assert not out_scores[b, n:].any() and not out_boxes[b, n:].any()
        assert not out_labels[b, n:].any()


def test_host_nms_matches_model_topk_nms():
    """The wrapper's top-K candidates + host NMS == the model package's PyTorch reference."""
    from perception.models.export import ExportWrapper
    from perception.models.postprocess import topk_nms
    rng = np.random.default_rng(3)
    n, c = 400, 4
    boxes, _, _ = random_candidates(rng, 1, n)
    det_boxes = torch.from_numpy(boxes)
    det_scores = torch.from_numpy(rng.uniform(0, 1, (1, n, c)).astype(np.float32) ** 3)
    ref_boxes, ref_scores, ref_labels = topk_nms(det_boxes, det_scores, max_det=50, score_thr=0.05,
                                                 iou_thr=0.6, pre_nms_topk=300)
    wrapper = ExportWrapper.__new__(ExportWrapper)   # only top_candidates is used
    torch.nn.Module.__init__(wrapper)
    wrapper.pre_nms_topk = 300
    cand = wrapper.top_candidates(det_boxes, det_scores)
    got = batched_nms(cand['det_boxes'][0].numpy(), cand['det_scores'][0].numpy(),
                      cand['det_labels'][0].numpy(), 0.6, 0.05, 50)
    kept = int((ref_scores[0] > 0).sum())
    assert kept == len(got[1]) > 0
    np.testing.assert_allclose(got[1], ref_scores[0, :kept].numpy(), rtol=0, atol=0)
    np.testing.assert_array_equal(got[2], ref_labels[0, :kept].numpy())
    np.testing.assert_allclose(got[0], ref_boxes[0, :kept].numpy(), atol=1e-5)


def test_batched_nms_is_class_aware_and_strict():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [1, 0, 11, 10]],
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.5], np.float32)
    labels = np.array([0, 0, 1, 0], np.int32)
    b, s, lab = batched_nms(boxes, scores, labels, iou_thr=0.5, score_thr=0.5, max_det=10)
    # same-class duplicate suppressed, other class kept, score == threshold dropped (strict >)
    np.testing.assert_array_equal(s, np.float32([0.9, 0.7]))
    np.testing.assert_array_equal(lab, [0, 1])
