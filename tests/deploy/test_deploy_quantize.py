"""INT8: a Q/DQ graph (symmetric, TensorRT-consumable) that onnxruntime runs, and its accuracy report."""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from perception.apis.predictor import Predictor
from perception.deploy.frames import synthetic_frames
from perception.deploy.quantize import calibration_inputs, count_qdq, quantize_graph
from perception.deploy.trt_compat import check_model

from deploy_helpers import NANO_SIZE


def test_int8_graph_has_symmetric_qdq_and_runs(nano_export):
    model = onnx.load(str(nano_export['int8']))
    counts = count_qdq(model)
    assert counts['QuantizeLinear'] > 10 and counts['DequantizeLinear'] > counts['QuantizeLinear']
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ('QuantizeLinear', 'DequantizeLinear') and len(node.input) > 2:
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not zp.any()    # TensorRT needs zero point 0
    quantized_convs = {n.output[0] for n in model.graph.node if n.op_type == 'DequantizeLinear'}
    conv_inputs = [i for n in model.graph.node if n.op_type == 'Conv' for i in n.input[:2]]
    assert sum(i in quantized_convs for i in conv_inputs) > 10
    p = Predictor(nano_export['int8'])
    assert p.spec.precision == 'int8' and p.spec.nms == 'onnx'
    frame = synthetic_frames(1, NANO_SIZE, seed=2)[0]
    r = p(**frame.sensors())
    assert r.seg_labels.shape == NANO_SIZE and np.isfinite(r.depth).all()
    for v in check_model(model).versions:   # zero points and Q/DQ are what TensorRT accepts
        assert not [f for f in v.errors if f.op in ('QuantizeLinear', 'DequantizeLinear')]


def test_int8_accuracy_is_reported(nano_export):
    int8 = nano_export['report']['int8']
    acc = int8['accuracy']
    assert acc['fp32']['frames'] == acc['int8']['frames'] == 4
    for key in ('mIoU', 'mAP', 'AbsRel', 'delta1'):
        assert key in acc['delta']
        assert acc['delta'][key] == pytest.approx(acc['int8'][key] - acc['fp32'][key])
    assert 'nano_random.pth' in acc['note']
    assert int8['calibration']['frames'] == 8


def test_quantize_refuses_without_calibration(tiny_exports, tiny_spec):
    host = tiny_exports['host']
    with pytest.raises(ValueError, match='calibration'):
        quantize_graph(host.host_model, [])
    calib = calibration_inputs(host.host_spec, synthetic_frames(2, tiny_spec.input_size))
    quantized = quantize_graph(host.host_model, calib, method='entropy')
    assert count_qdq(quantized)['QuantizeLinear'] > 0


def quantized_op_types(model: onnx.ModelProto) -> set:
    """Op types that run quantised in a Q/DQ graph: first input from a DequantizeLinear, an output
    into a QuantizeLinear."""
    dequantized = {n.output[0] for n in model.graph.node if n.op_type == 'DequantizeLinear'}
    requantized = {n.input[0] for n in model.graph.node if n.op_type == 'QuantizeLinear'}
    return {n.op_type for n in model.graph.node
            if n.op_type not in ('QuantizeLinear', 'DequantizeLinear') and n.input
            and n.input[0] in dequantized and any(o in requantized for o in n.output)}


def test_onnxruntime_target_is_the_form_onnxruntime_fuses(tiny_exports, tiny_spec):
    """``--int8-target onnxruntime``: uint8 activations with zero points, int32 biases (what
    ONNX Runtime's QDQ fusion into QLinearConv needs), more op types than convolutions; the
    TensorRT form keeps float biases. An unknown target is refused by name."""
    host = tiny_exports['host']
    calib = calibration_inputs(host.host_spec, synthetic_frames(2, tiny_spec.input_size))
    forms = {t: quantize_graph(host.host_model, calib, target=t) for t in ('onnxruntime',
                                                                          'tensorrt')}
    for target, model in forms.items():
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        quant_dtypes = {inits[n.input[2]].dtype for n in model.graph.node
                        if n.op_type == 'QuantizeLinear' and len(n.input) > 2}
        dq_of_int32 = [n for n in model.graph.node if n.op_type == 'DequantizeLinear'
                       and n.input[0] in inits and inits[n.input[0]].dtype == np.int32]
        if target == 'onnxruntime':
            assert quant_dtypes == {np.dtype(np.uint8)} and dq_of_int32   # int32 biases
        else:
            assert quant_dtypes == {np.dtype(np.int8)} and not dq_of_int32
    assert count_qdq(forms['onnxruntime'])['QuantizeLinear'] > 0
    # more op types than convolutions: the ONNX Runtime form runs the stand-in's adds, products,
    # concatenations, sigmoids and resizes on dequantised inputs into requantised outputs; the
    # TensorRT form quantises only around its convolutions and leaves those in float
    beyond_convs = {'Add', 'Mul', 'Concat', 'Sigmoid', 'Resize'}
    assert beyond_convs <= quantized_op_types(forms['onnxruntime']), quantized_op_types(
        forms['onnxruntime'])
    assert 'Conv' in quantized_op_types(forms['tensorrt'])
    assert not beyond_convs & quantized_op_types(forms['tensorrt'])
    with pytest.raises(ValueError, match="'onnxruntime', 'tensorrt'"):
        quantize_graph(host.host_model, calib, target='openvino')


def test_forms_keep_chosen_nodes_and_op_types_in_float(tiny_exports, tiny_spec):
    """``op_types`` replaces the target's quantised op types and ``keep_float`` leaves the nodes it
    selects in float (tools/analysis/int8_forms.py's forms): the rest stays quantised."""
    host = tiny_exports['host']
    calib = calibration_inputs(host.host_spec, synthetic_frames(2, tiny_spec.input_size))
    every = quantize_graph(host.host_model, calib, target='onnxruntime')
    assert {'Resize', 'Sigmoid', 'Conv'} <= quantized_op_types(every)
    # a node kept in float adds no Q/DQ of its own (a tensor it shares with a quantised
    # neighbour keeps that neighbour's pair), so the kept form has fewer pairs, convs still in
    kept = quantize_graph(host.host_model, calib, target='onnxruntime',
                          keep_float=lambda n: n.op_type in ('Resize', 'Sigmoid'))
    assert count_qdq(kept)['QuantizeLinear'] < count_qdq(every)['QuantizeLinear']
    assert 'Conv' in quantized_op_types(kept)
    convs = quantize_graph(host.host_model, calib, target='onnxruntime', op_types=('Conv', ))
    assert 'Conv' in quantized_op_types(convs)
    assert not {'Add', 'Mul', 'Concat', 'Sigmoid', 'Resize'} & quantized_op_types(convs)


def test_calibration_inputs_saved_for_implicit_trt_calibration(nano_export):
    """``--save-calib-npz``: the .npz files build_trt_engine.py --calib-data reads."""
    files = sorted(nano_export['calib'].glob('*.npz'))
    assert len(files) == 8 == nano_export['report']['calib_npz']['frames']
    with np.load(files[0]) as data:
        assert data['rgb'].shape == (1, 3, *NANO_SIZE) and data['modality_mask'].shape == (1, 3)
        assert data['depth'].dtype == np.float32
