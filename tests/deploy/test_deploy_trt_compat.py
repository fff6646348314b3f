"""TensorRT op-compatibility check: tables with sources, op listing, flags for what TensorRT rejects."""
import pytest
from onnx import TensorProto, helper

from perception.deploy.trt_compat import DEFAULT_VERSIONS, TABLE_DIR, check_model, load_tables


def test_tables_cover_current_jetpacks_with_sources():
    tables = {t.trt_version: t for t in load_tables(DEFAULT_VERSIONS)}
    assert set(tables) == {'8.5', '8.6', '10.3'}
    assert '5.1' in tables['8.5'].jetpack and '6.0' in tables['8.6'].jetpack
    assert {'6.1', '6.2'} <= set(tables['10.3'].jetpack)
    assert (tables['8.5'].opset_max, tables['8.6'].opset_max, tables['10.3'].opset_max) == (17, 17, 20)
    for t in tables.values():
        assert any('onnx-tensorrt' in s for s in t.sources)
        assert not (t.supported & t.unsupported)
        assert {'Conv', 'Resize', 'TopK', 'NonMaxSuppression'} <= t.supported
        assert 'EfficientNMS_TRT' in t.plugins
    # what changed between the versions, as the changelogs say
    assert 'LayerNormalization' in tables['8.5'].unsupported
    assert 'LayerNormalization' in tables['8.6'].supported
    assert tables['10.3'].int64 == 'native' and tables['8.5'].int64 == 'cast'
    with pytest.raises(FileNotFoundError, match='have'):
        load_tables(['7.1'])


def _graph(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, 'g', inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid('', opset),
                                               helper.make_opsetid('com.example', 1)],
                             ir_version=8)


def test_flags_unsupported_ops_dynamic_shapes_and_restrictions():
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, ['batch', 3, 'height', 32])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
            for n in ('u', 'v', 'r', 'c')]
    k = helper.make_tensor('k', TensorProto.INT64, [1], [4000])
    roi = helper.make_tensor('roi', TensorProto.FLOAT, [0], [])
    scales = helper.make_tensor('scales', TensorProto.FLOAT, [4], [1, 1, 2, 2])
    nodes = [
        helper.make_node('Flatten', ['x'], ['flat'], axis=0),
        helper.make_node('Unique', ['flat'], ['u']),                         # unsupported
        helper.make_node('TopK', ['flat', 'k'], ['v', 'i']),                 # K >= 3840
        helper.make_node('Resize', ['x', 'roi', 'scales'], ['r'], mode='cubic'),
        helper.make_node('MyOp', ['x'], ['c'], domain='com.example'),        # unknown custom op
    ]
    model = _graph(nodes, [x], outs, [k, roi, scales])
    report = check_model(model)
    assert report.op_counts == {'Flatten': 1, 'Unique': 1, 'TopK': 1, 'Resize': 1, 'MyOp': 1}
    for v in report.versions:
        assert v.verdict == 'incompatible'
        msgs = {(f.op, f.severity): f.message for f in v.findings}
        assert ('Unique', 'error') in msgs
        assert 'K = 4000' in msgs[('TopK', 'error')]
        assert 'cubic' in msgs[('Resize', 'error')]
        assert ('MyOp', 'error') in msgs
        dyn = [f for f in v.findings if f.op == 'input']
        assert any(f.severity == 'info' and 'dynamic batch' in f.message for f in dyn)
        assert any(f.severity == 'error' and 'dimension 2' in f.message for f in dyn)
    assert 'Unique' in report.format() and 'incompatible' in report.format()


def test_opset_above_parser_and_non_constant_axes():
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4])
    axes_in = helper.make_tensor_value_info('axes', TensorProto.INT64, [1])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, None)
    model = _graph([helper.make_node('Unsqueeze', ['x', 'axes'], ['y'])], [x, axes_in], [y],
                   opset=18)
    report = check_model(model)
    by_version = {v.trt_version: v for v in report.versions}
    assert any(f.op == 'opset' for f in by_version['8.5'].errors)
    assert not any(f.op == 'opset' for f in by_version['10.3'].errors)
    assert any(f.op == 'Unsqueeze' and 'axes' in f.message for f in by_version['8.5'].errors)


def test_exported_models(nano_export, tiny_exports):
    nano = check_model(nano_export['onnx'])
    assert nano.opset == 17 and nano.op_counts['Conv'] > 10
    assert nano.op_counts['NonMaxSuppression'] == 1
    for v in nano.versions:    # only named ops of the tables, nothing unknown
        assert not [f for f in v.findings if 'not in the support matrix' in f.message]
        assert any(f.op == 'NonMaxSuppression' and f.severity == 'warning' for f in v.findings)
    assert nano.compatible('10.3') and nano.compatible('8.6')
    # the trt variant: the plugin is recognised, no data-dependent shapes
    trt = check_model(tiny_exports['trt'].path)
    for v in trt.versions:
        assert v.verdict == 'compatible'
        assert any(f.op == 'EfficientNMS_TRT' and f.severity == 'info' for f in v.findings)
    assert (TABLE_DIR / 'trt_8.5.yaml').is_file()
