"""A model built for two sensors exports a graph of exactly those inputs (parity checked), is invariant
to its absent sensor on ONNX Runtime as in PyTorch, and a frame that brings a third sensor is answered
with one warning and the sensor left out; a three-sensor model that never saw depth in training
exports with parity on what it was trained for and leaves depth out at inference."""
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from perception.apis.predictor import IgnoredSensorWarning, Predictor
from perception.contract import SensorError
from perception.deploy.frames import synthetic_frames

from deploy_helpers import NANO_CONFIG, NANO_SIZE


def _export(tmp_path, sensors, seen=None, name='model'):
    from perception.apis.config_spec import make_spec
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    from perception.models import build_model, load_config
    cfg = load_config(NANO_CONFIG)
    cfg.model.sensors = sensors
    torch.manual_seed(0)
    model = build_model(cfg)
    if seen is not None:
        model.set_seen_counts(seen)
    opts = ExportOptions(input_size=NANO_SIZE, nms='host', parity_synthetic=1)
    return export_onnx(model, tmp_path / f'{name}.onnx', make_spec(model, cfg, NANO_SIZE), opts)


@pytest.fixture(scope='module')
def rgbt(tmp_path_factory):
    return _export(tmp_path_factory.mktemp('rgbt'), ('rgb', 'thermal'))


@pytest.fixture(scope='module')
def frame():
    return next(f for f in synthetic_frames(8, NANO_SIZE, seed=4)
                if all(v is not None for v in f.sensors().values()))


def test_two_sensor_graph_has_no_depth_input(rgbt):
    graph = onnx.load(str(rgbt.path))
    assert [i.name for i in graph.graph.input] == ['rgb', 'thermal', 'modality_mask']
    assert [d.dim_value for d in graph.graph.input[2].type.tensor_type.shape.dim] == [1, 2]
    assert rgbt.spec.sensors == ('rgb', 'thermal') == rgbt.spec.trained_sensors
    report = rgbt.parity[0]
    assert report.passed and not [f.name for f in report.frames if 'depth' in f.name]
    assert {'synthetic[0]:rgb', 'synthetic[0]:thermal'} <= {f.name for f in report.frames}


def test_onnx_every_subset_ignores_junk_in_the_absent_sensor(rgbt, frame):
    from perception.apis.preprocess import preprocess
    session = ort.InferenceSession(str(rgbt.path), providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(0)
    for subset in (('rgb', 'thermal'), ('rgb', ), ('thermal', )):
        inputs, _ = preprocess(rgbt.spec, **{s: frame.sensors()[s] for s in subset})
        clean = session.run(None, inputs)
        junk = dict(inputs, **{s: rng.normal(0, 20, inputs[s].shape).astype(np.float32)
                               for s in ('rgb', 'thermal') if s not in subset})
        for a, b in zip(clean, session.run(None, junk)):
            assert np.array_equal(a, b), subset
        present = dict(inputs, **{subset[0]: rng.normal(0, 2, inputs[subset[0]].shape)
                                  .astype(np.float32)})
        assert not np.array_equal(clean[0], session.run(None, present)[0]), subset


def test_a_sensor_the_model_lacks_is_ignored_with_one_warning(rgbt, frame):
    predictor = Predictor(rgbt.path)
    given = frame.sensors()
    with pytest.warns(IgnoredSensorWarning, match="depth is ignored: it is not one of the "
                                                  "model's sensors"):
        with_depth = predictor(**given)
    with warnings.catch_warnings():
        warnings.simplefilter('error')      # once per predictor: no second warning
        predictor(**given)
    without = predictor(rgb=given['rgb'], thermal=given['thermal'])
    assert with_depth.ignored_sensors == ('depth', ) and without.ignored_sensors == ()
    assert with_depth.modality_mask == (True, True, False) == without.modality_mask
    assert np.array_equal(with_depth.seg_labels, without.seg_labels)
    assert np.array_equal(with_depth.depth, without.depth)
    with pytest.raises(SensorError, match=r"model uses \('rgb', 'thermal'\)"):
        predictor(depth=given['depth'])


def test_pytorch_predictor_follows_the_model_sensors(tmp_path, frame):
    from perception.models import load_config
    cfg = load_config(NANO_CONFIG)
    cfg.model.sensors = ('rgb', 'depth')
    predictor = Predictor.from_config(cfg, input_size=NANO_SIZE)
    assert predictor.spec.input_names == ('rgb', 'depth', 'modality_mask')
    with pytest.warns(IgnoredSensorWarning, match='thermal'):
        result = predictor(**frame.sensors())
    assert result.modality_mask == (True, False, True)


def test_a_sensor_never_seen_in_training_is_left_out_of_parity_and_inference(tmp_path, frame):
    """What issue 29 reported: a model built for three sensors but trained where depth never
    appeared. Its depth branch was never trained; parity is checked on what it was trained for,
    and inference leaves depth out (one warning) instead of running the untrained branch."""
    result = _export(tmp_path, ('rgb', 'thermal', 'depth'),
                     seen={'rgb': 100, 'thermal': 90, 'depth': 0}, name='no_depth_seen')
    assert result.spec.sensors == ('rgb', 'thermal', 'depth')
    assert result.spec.trained_sensors == ('rgb', 'thermal')
    assert not [f.name for f in result.parity[0].frames if 'depth' in f.name]
    predictor = Predictor(result.path)
    with pytest.warns(IgnoredSensorWarning, match="depth is ignored: it never appeared in the "
                                                  "model's training"):
        out = predictor(**frame.sensors())
    assert out.modality_mask == (True, True, False)


def test_infer_prints_one_warning_line_and_records_the_ignored_sensor(rgbt, frame, tmp_path,
                                                                      capsys):
    import json

    import cv2

    from perception.cli import main
    for s, value in (('rgb', frame.rgb[:, :, ::-1]), ('thermal', frame.thermal * 255),
                     ('depth', frame.depth * 1000)):
        for i in range(2):
            folder = tmp_path / s
            folder.mkdir(exist_ok=True)
            dtype = np.uint16 if s == 'depth' else np.uint8
            cv2.imwrite(str(folder / f'{i}.png'), np.round(value).astype(dtype))
    code = main(['infer', '--model', str(rgbt.path), '--rgb', str(tmp_path / 'rgb'),
                 '--thermal', str(tmp_path / 'thermal'), '--depth', str(tmp_path / 'depth'),
                 '--out', str(tmp_path / 'out')])
    err = capsys.readouterr().err
    assert code == 0
    lines = [line for line in err.splitlines() if 'ignored' in line]
    assert lines == ["warning: depth is ignored: it is not one of the model's sensors "
                     "('rgb', 'thermal') (warned once)"]
    summary = json.loads((tmp_path / 'out' / '1.json').read_text())
    assert summary['ignored_sensors'] == ['depth'] and summary['sensors']['depth'] is False


def test_display_threshold_travels_from_the_config_to_the_exported_model(tmp_path):
    from perception.apis.config_spec import make_spec
    from perception.apis.spec import ModelSpec
    from perception.models import build_model, load_config
    cfg = load_config(NANO_CONFIG)
    cfg.display_thr = 0.42
    model = build_model(cfg)
    spec = make_spec(model, cfg, NANO_SIZE)
    assert spec.display_thr == 0.42
    assert ModelSpec.from_metadata(spec.to_metadata()).display_thr == 0.42
    assert ModelSpec.from_metadata(spec.replace(display_thr=None).to_metadata()).display_thr is None
    with pytest.raises(ValueError, match=r'display_thr must be a score in \[0, 1\]'):
        spec.replace(display_thr=1.5)
