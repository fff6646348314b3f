"""TensorRT: the engine build script and the TensorRT backend.

The CPU part (trtexec line, spec sidecar, argument handling) runs everywhere. Building and running
engines needs the ``tensorrt`` package and an NVIDIA GPU (a Jetson or a desktop GPU); those tests are
skipped with the reason where ``tensorrt`` does not import -- it is not installable on the CI machines.
"""
import importlib.util

import numpy as np
import pytest

from perception.apis.predictor import Predictor
from perception.apis.spec import ModelSpec, sidecar_path
from perception.deploy.frames import synthetic_frames
from perception.paths import REPO_ROOT

from deploy_helpers import TINY_SIZE

spec_ = importlib.util.spec_from_file_location('build_trt_engine',
                                               REPO_ROOT / 'export' / 'build_trt_engine.py')
build_trt_engine = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(build_trt_engine)

try:
    import tensorrt  # noqa: F401
    HAVE_TRT, TRT_REASON = True, ''
except ImportError as exc:   # the reason is part of the skip message
    HAVE_TRT, TRT_REASON = False, f'tensorrt does not import here ({exc}); engines are built on ' \
                                  'the Jetson'
needs_trt = pytest.mark.skipif(not HAVE_TRT, reason=TRT_REASON)


def test_trtexec_line(tiny_exports):
    path = tiny_exports['trt'].path
    _, shapes = build_trt_engine.read_spec(path)
    line = build_trt_engine.trtexec_command(path, path.with_suffix('.engine'), 'fp16', shapes)
    assert line.startswith('trtexec --onnx=') and '--fp16' in line and '--saveEngine=' in line
    line = build_trt_engine.trtexec_command(path, path.with_suffix('.engine'), 'int8', shapes,
                                            batch=(1, 2, 4), calib_cache=path.with_suffix('.cache'))
    h, w = TINY_SIZE
    assert '--int8' in line and '--calib=' in line
    assert f'--minShapes=rgb:1x3x{h}x{w},thermal:1x1x{h}x{w}' in line
    assert f'--maxShapes=rgb:4x3x{h}x{w}' in line and 'modality_mask:4x3' in line


def test_spec_only_writes_the_sidecar_the_backend_reads(tiny_exports, tmp_path):
    engine = tmp_path / 'tiny.engine'
    assert build_trt_engine.main([str(tiny_exports['trt'].path), '--output', str(engine),
                                  '--fp16', '--spec-only']) == 0
    spec = ModelSpec.read_json(sidecar_path(engine))
    assert spec.nms == 'trt' and spec.precision == 'fp16' and spec.input_size == TINY_SIZE
    assert spec.det_classes == tiny_exports['trt'].spec.det_classes


@pytest.mark.skipif(HAVE_TRT, reason='checks the message shown where tensorrt is missing')
def test_missing_tensorrt_is_explained(tiny_exports, tmp_path, capsys):
    engine = tmp_path / 'x.engine'
    assert build_trt_engine.main([str(tiny_exports['host'].path), '-o', str(engine)]) == 1
    assert 'trtexec --onnx=' in capsys.readouterr().err
    engine.write_bytes(b'not an engine')
    ModelSpec(input_size=TINY_SIZE).write_json(sidecar_path(engine))
    with pytest.raises(ImportError, match='tensorrt'):
        Predictor(engine)


@needs_trt
@pytest.mark.parametrize('mode,precision', [('host', 'fp32'), ('trt', 'fp16')])
def test_engine_matches_onnxruntime(tiny_exports, tmp_path, mode, precision):
    engine = build_trt_engine.build_engine(tiny_exports[mode].path, tmp_path / f'{mode}.engine',
                                           precision)
    trt_p = Predictor(engine)
    ort_p = Predictor(tiny_exports['host'].path)
    assert trt_p.backend.name == 'tensorrt' and trt_p.spec.precision == precision
    for f in synthetic_frames(2, TINY_SIZE, seed=9):
        a, b = trt_p(**f.sensors()), ort_p(**f.sensors())
        assert np.mean(a.seg_labels == b.seg_labels) > (0.999 if precision == 'fp32' else 0.99)
        np.testing.assert_allclose(a.depth, b.depth, rtol=1e-2 if precision == 'fp16' else 1e-4)
        assert abs(a.num_detections - b.num_detections) <= max(2, b.num_detections // 10)


@needs_trt
def test_int8_engine_from_qdq_graph(tiny_exports, tiny_spec, tmp_path):
    from perception.deploy.onnx_export import ExportOptions
    from perception.deploy.quantize import export_int8
    host = tiny_exports['host']
    out = tmp_path / 'tiny.int8.onnx'
    export_int8(host.host_model, host.host_spec, ExportOptions(input_size=TINY_SIZE, nms='trt'),
                synthetic_frames(4, TINY_SIZE), out)
    engine = build_trt_engine.build_engine(out, tmp_path / 'tiny_int8.engine', 'int8')
    r = Predictor(engine)(**synthetic_frames(1, TINY_SIZE, seed=4)[0].sensors())
    assert r.seg_labels.shape == TINY_SIZE and np.isfinite(r.depth).all()


def test_shape_must_be_the_exported_size(tiny_exports, tmp_path, capsys):
    """``--shape H W`` names the engine's size: the file's own size passes (the sidecar keeps it),
    any other is refused before a build, with the export command for that size."""
    path, (h, w) = tiny_exports['trt'].path, TINY_SIZE
    engine = tmp_path / 'tiny.engine'
    assert build_trt_engine.main([str(path), '-o', str(engine), '--shape', str(h), str(w),
                                  '--spec-only']) == 0
    assert ModelSpec.read_json(sidecar_path(engine)).input_size == TINY_SIZE
    assert f'engine input size {h}x{w}' in capsys.readouterr().err
    assert build_trt_engine.main([str(path), '--shape', '480', '640', '--print-trtexec']) == 2
    err = capsys.readouterr().err
    assert f'exported at {h}x{w}, not the 480x640' in err and '--shape 480 640' in err


def test_engine_binding_dtypes_as_polygraphy_reports_them():
    """polygraphy >= 0.49 reports binding dtypes as DataType members (DataTypeEntry instances): the
    backend feeds inputs in the numpy dtype they name (an isinstance test against DataType never
    matched, and np.dtype() refuses them). Runs without tensorrt."""
    datatype = pytest.importorskip('polygraphy.datatype')
    from perception.apis.backends.tensorrt import _numpy_dtype
    DataType = datatype.DataType
    assert _numpy_dtype(DataType.FLOAT32) == np.float32
    assert _numpy_dtype(DataType.FLOAT16) == np.float16
    assert _numpy_dtype(DataType.INT32) == np.int32
    assert _numpy_dtype(np.float32) == np.float32 and _numpy_dtype(None) == np.float32
