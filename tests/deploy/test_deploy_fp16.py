"""The FP16 plan (perception/deploy/fp16.py): emulated half precision finds the layers that overflow,
keeps them FP32, and the engine builder applies the plan (fake TensorRT objects: the real build needs
a GPU)."""
import argparse
import importlib.util
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from perception.apis.spec import ModelSpec
from perception.deploy.fp16 import (FP16_MAX, Fp16Bounds, activation_peaks, emulate_fp16,
                                    fp16_plan, named_nodes, readers_of,
                                    weight_peaks)
from perception.paths import REPO_ROOT

spec_ = importlib.util.spec_from_file_location('build_trt_engine',
                                               REPO_ROOT / 'export' / 'build_trt_engine.py')
build_trt_engine = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(build_trt_engine)

SIZE = (4, 6)


def _depth_graph(gain: float) -> onnx.ModelProto:
    """depth_pred = (rgb[:, :1] * gain)^2 / gain^2 + 1: equal to rgb[:, :1]^2 + 1 in exact arithmetic;
    the square overflows FP16 when gain * max(rgb) > 256."""
    g = numpy_helper.from_array(np.array(gain, np.float32), 'gain')
    g2 = numpy_helper.from_array(np.array(gain * gain, np.float32), 'gain2')
    one = numpy_helper.from_array(np.array(1.0, np.float32), 'one')
    starts, ends, axes = (numpy_helper.from_array(np.array([v], np.int64), n)
                          for v, n in ((0, 'starts'), (1, 'ends'), (1, 'axes')))
    nodes = [helper.make_node('Slice', ['rgb', 'starts', 'ends', 'axes'], ['r'], name='slice'),
             helper.make_node('Mul', ['r', 'gain'], ['scaled'], name='scale'),
             helper.make_node('Mul', ['scaled', 'scaled'], ['square'], name='square'),
             helper.make_node('Div', ['square', 'gain2'], ['back'], name='unscale'),
             helper.make_node('Add', ['back', 'one'], ['depth'], name='offset'),
             helper.make_node('Squeeze', ['depth', 'axes'], ['depth_pred'], name='squeeze')]
    h, w = SIZE
    graph = helper.make_graph(
        nodes, 'depth', [helper.make_tensor_value_info('rgb', TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info('depth_pred', TensorProto.FLOAT, [1, h, w])],
        initializer=[g, g2, one, starts, ends, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], ir_version=8)


def _depth_spec() -> ModelSpec:
    return ModelSpec(input_size=SIZE, sensors=('rgb',), seg_classes=(), det_classes=(),
                     outputs=('depth_pred',))


def _feeds(n=3, top=2.0):
    rng = np.random.default_rng(0)
    return [{'rgb': rng.uniform(0.5, top, (1, 3) + SIZE).astype(np.float32)} for _ in range(n)]


def _run(model, feed):
    session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    return session.run(None, feed)[0]


def test_emulation_rounds_to_half_precision_except_where_kept():
    model = _depth_graph(1.0)
    feed = {'rgb': np.full((1, 3) + SIZE, 1.0 + 2 ** -13, np.float32)}   # not a float16 value
    exact = _run(model, feed)
    half = _run(emulate_fp16(model), feed)
    assert np.all(half == np.float32(np.float16(half)))           # outputs are float16 values
    assert not np.allclose(exact, half, rtol=0, atol=1e-6)         # the rounding is visible
    kept = _run(emulate_fp16(model, keep_fp32=['slice', 'scale', 'square', 'unscale', 'offset',
                                               'squeeze']), feed)
    np.testing.assert_array_equal(kept, exact)
    # names and types of the graph's inputs and outputs do not change
    emulated = emulate_fp16(model)
    assert [i.name for i in emulated.graph.input] == ['rgb']
    assert [o.name for o in emulated.graph.output] == ['depth_pred']
    onnx.checker.check_model(emulated)


def test_peaks_find_the_overflowing_node_and_readers_follow():
    model = _depth_graph(400.0)
    peaks = activation_peaks(model, _feeds())
    assert max(peaks, key=peaks.get) == 'square' and peaks['square'] > FP16_MAX
    assert peaks['offset'] < 10
    assert readers_of(model, ['square']) == {'unscale'}
    assert weight_peaks(model)['gain2'] == pytest.approx(160000.0)
    assert named_nodes(helper.make_model(helper.make_graph(
        [helper.make_node('Relu', ['x'], ['y'])], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])]), ir_version=8)).graph.node[0].name \
        == 'node_0'


def test_plan_keeps_the_overflow_fp32_and_then_agrees():
    model, spec, feeds = _depth_graph(400.0), _depth_spec(), _feeds()
    report = fp16_plan(model, spec, feeds)
    assert report.unconstrained['depth_rel_mean'] > 0.5      # all-FP16: inf where the square is
    assert set(report.fp32_layers) == {'square', 'unscale'}  # the overflow and its reader
    assert report.overflow['unscale'] == pytest.approx(400.0 ** 2)   # it also reads gain^2
    assert report.passed and report.depth_rel_mean < 1e-3
    assert 'square' in report.format() and 'PASSED' in report.format()
    # a graph that stays in range needs no FP32 layer
    safe = fp16_plan(_depth_graph(1.0), spec, feeds)
    assert safe.passed and safe.fp32_layers == [] and safe.overflow == {}


def test_plan_reports_failure_when_the_bounds_cannot_be_met():
    """Bounds no half-precision run can meet: the plan keeps every risky kind it finds and still
    says FAILED, naming the bound."""
    report = fp16_plan(_depth_graph(1.0), _depth_spec(), _feeds(top=1.7),
                       bounds=Fp16Bounds(depth_rel_mean=0.0))
    assert not report.passed and 'Div' in report.risky_ops_kept
    assert any('depth relative error' in f for f in report.failures)
    assert 'FAILED' in report.format()


def test_export_records_the_plan_in_the_file(tiny_exports, tmp_path):
    """``perception export --fp16-plan``'s step on a real exported graph: the plan (none needed for
    the stand-in) goes into the metadata, the builder reads it back."""
    from perception.commands.export import _fp16
    path = tmp_path / 'tiny.onnx'
    shutil.copy(tiny_exports['host'].path, path)
    spec = tiny_exports['host'].spec
    result = _fp16(path, spec, argparse.Namespace(parity_synthetic=1))
    assert result['passed'] and result['frames'] >= 2
    assert result['seg_agree_mean'] >= 0.975
    assert result['det_matched'] is None or result['det_matched'] >= 0.9
    written, _ = build_trt_engine.read_spec(path)
    assert written.fp32_layers == tuple(result['fp32_layers'])
    assert all(n.name for n in onnx.load(str(path)).graph.node)   # every layer is nameable
    # the original export has no plan: the builder warns and leaves the choice to TensorRT
    original, _ = build_trt_engine.read_spec(tiny_exports['host'].path)
    assert original.fp32_layers is None
    assert build_trt_engine.fp32_layers_of(original, 'fp16') == ()
    assert build_trt_engine.fp32_layers_of(written.replace(fp32_layers=('a',)), 'fp32') == ()


def test_trtexec_line_obeys_the_plan(tiny_exports):
    path = tiny_exports['host'].path
    _, shapes = build_trt_engine.read_spec(path)
    line = build_trt_engine.trtexec_command(path, path.with_suffix('.engine'), 'fp16', shapes,
                                            fp32_layers=('/head/Exp', 'node_7'))
    assert '--precisionConstraints=obey' in line
    assert '--layerPrecisions=/head/Exp:fp32,node_7:fp32' in line
    assert '--layerOutputTypes=/head/Exp:fp32,node_7:fp32' in line
    plain = build_trt_engine.trtexec_command(path, path.with_suffix('.engine'), 'fp16', shapes)
    assert '--precisionConstraints' not in plain


class _FakeLayer:
    def __init__(self, name, outputs=1):
        self.name, self.num_outputs, self.precision, self.types = name, outputs, 'fp16', {}

    def set_output_type(self, index, dtype):
        self.types[index] = dtype


class _FakeNetwork:
    def __init__(self, names):
        self.layers = [_FakeLayer(n, 2 if n.startswith('square') else 1) for n in names]
        self.num_layers = len(self.layers)

    def get_layer(self, i):
        return self.layers[i]


class _FakeTrt:
    float32 = 'fp32'


def test_mark_fp32_layers_marks_layers_and_outputs():
    """TensorRT names layers after ONNX nodes, sometimes with a suffix; every planned layer and all
    of its outputs become FP32, the others are left alone."""
    net = _FakeNetwork(['slice', 'square', 'square_1 copy', 'unscale', 'offset'])
    marked = build_trt_engine.mark_fp32_layers(net, ['square', 'unscale'], _FakeTrt)
    assert marked == ['square', 'square_1 copy', 'unscale']
    by_name = {layer.name: layer for layer in net.layers}
    assert by_name['square'].precision == 'fp32' and by_name['square'].types == {0: 'fp32',
                                                                                 1: 'fp32'}
    assert by_name['slice'].precision == 'fp16' and by_name['offset'].types == {}


def test_mark_fp32_layers_refuses_a_plan_for_another_graph():
    with pytest.raises(RuntimeError, match='not in the network.*--fp16-plan'):
        build_trt_engine.mark_fp32_layers(_FakeNetwork(['a', 'b']), ['a', 'missing'], _FakeTrt)
