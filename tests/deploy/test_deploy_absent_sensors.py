"""An absent sensor has no influence on the exported graph either (the PyTorch proof is in
tests/models): for every sensor subset, junk in the absent sensors' inputs (mask bit 0) gives
bit-identical outputs to zeros there, and junk in one present sensor changes them -- on the FP32
file and on the INT8 files, random and trained weights."""
import numpy as np
import onnxruntime as ort
import pytest

from perception.apis.preprocess import preprocess
from perception.apis.spec import ModelSpec
from perception.contract import SENSORS, sensor_subsets
from perception.deploy.frames import synthetic_frames

from deploy_helpers import NANO_SIZE

MODELS = ['random fp32', 'random int8 tensorrt', 'trained fp32', 'trained int8 tensorrt',
          'trained int8 onnxruntime']


@pytest.fixture(scope='module')
def exported(request):
    def path(name):
        if name.startswith('random'):
            nano = request.getfixturevalue('nano_export')
            return nano['int8' if 'int8' in name else 'onnx']
        trained = request.getfixturevalue('trained_nano')
        return trained['int8'][name.rsplit(' ', 1)[-1]] if 'int8' in name else trained['fp32']
    return path


@pytest.fixture(scope='module')
def frame():
    return next(f for f in synthetic_frames(8, NANO_SIZE, seed=4)
                if all(v is not None for v in f.sensors().values()))


def junk_like(x: np.ndarray, rng) -> np.ndarray:
    """Large finite values, far outside the normalised range the network was trained on."""
    return rng.normal(0.0, 20.0, x.shape).astype(np.float32)


@pytest.mark.parametrize('model', MODELS)
def test_junk_in_absent_sensors_changes_nothing(exported, frame, model):
    session = ort.InferenceSession(str(exported(model)), providers=['CPUExecutionProvider'])
    spec = ModelSpec.from_metadata(session.get_modelmeta().custom_metadata_map)
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(0)

    def run(inputs):
        return dict(zip(names, session.run(None, inputs)))

    for subset in sensor_subsets():
        inputs, _ = preprocess(spec, **{s: (v if s in subset else None)
                                        for s, v in frame.sensors().items()})
        assert inputs['modality_mask'].tolist() == [[s in subset for s in SENSORS]]
        clean = run(inputs)
        junk = dict(inputs, **{s: junk_like(inputs[s], rng) for s in SENSORS if s not in subset})
        with_junk = run(junk)
        for name in names:
            assert np.array_equal(clean[name], with_junk[name]), (model, subset, name)
        for s in subset:        # a present sensor does reach the outputs
            changed = run(dict(inputs, **{s: junk_like(inputs[s], rng)}))
            assert any(not np.array_equal(clean[n], changed[n]) for n in names), (model, subset, s)


@pytest.mark.parametrize('fusion', ['GatedConcatFusion', 'RectifyFusion'])
def test_concatenation_keeping_fusions_export_with_no_influence_of_absent_sensors(
        fusion, frame, tmp_path):
    """The attention fusions that keep concatenation (issue 24) export with parity, and their
    graphs are as blind to an absent sensor as nano's own: junk there changes no output, junk in a
    present sensor does, for every subset."""
    import torch

    from perception.apis.config_spec import make_spec
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    from perception.models import build_model, load_config

    from deploy_helpers import NANO_CONFIG
    cfg = load_config(NANO_CONFIG)
    cfg.model.fusion = dict(type=fusion, channels=cfg.model.fusion.channels)
    torch.manual_seed(0)
    model = build_model(cfg)
    result = export_onnx(model, tmp_path / 'nano.onnx', make_spec(model, cfg, NANO_SIZE),
                         ExportOptions(input_size=NANO_SIZE, nms='host', parity_synthetic=1))
    assert result.parity[0].passed
    session = ort.InferenceSession(str(result.path), providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(0)
    for subset in sensor_subsets():
        inputs, _ = preprocess(result.spec, **{s: (v if s in subset else None)
                                               for s, v in frame.sensors().items()})
        clean = session.run(None, inputs)
        junk = dict(inputs, **{s: junk_like(inputs[s], rng) for s in SENSORS if s not in subset})
        for a, b in zip(clean, session.run(None, junk)):
            assert np.array_equal(a, b), subset
        present = dict(inputs, **{subset[0]: junk_like(inputs[subset[0]], rng)})
        assert any(not np.array_equal(a, b) for a, b in zip(clean, session.run(None, present)))


@pytest.mark.parametrize('frame_size', [(48, 64), (37, 50)], ids=['network size', 'resized'])
def test_preprocess_is_the_normalisation_formula(frame_size):
    """Every backend's input tensor is (x - mean) / std in float32 per channel, CHW, invalid depth
    0 after normalisation and absent sensors 0 -- value for value the formula of
    MultiSensorDataPreprocessor, however preprocess computes it."""
    import cv2
    spec = ModelSpec(input_size=(48, 64))
    rng = np.random.default_rng(0)
    h, w = frame_size
    rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    thermal = rng.random((h, w)).astype(np.float32)
    depth = rng.uniform(0, 8, (h, w)).astype(np.float32)
    depth[rng.random((h, w)) < 0.2] = 0
    frame = dict(rgb=rgb, thermal=thermal, depth=depth)
    for present in (('rgb', 'thermal', 'depth'), ('rgb', 'depth'), ('thermal', )):
        inputs, _ = preprocess(spec, **{s: frame[s] for s in present})
        for s, x in frame.items():
            if s not in present:
                assert not inputs[s].any(), s
                continue
            if (h, w) != spec.input_size:
                x = cv2.resize(x, (64, 48), interpolation=cv2.INTER_NEAREST if s == 'depth'
                               else cv2.INTER_LINEAR)
            x = x.astype(np.float32).reshape(48, 64, -1)
            norm = spec.normalization[s]
            y = (x - np.asarray(norm['mean'], np.float32)) / np.asarray(norm['std'], np.float32)
            if s == 'depth':
                y = np.where(x > 0, y, np.float32(0))
            expected = y.transpose(2, 0, 1)[None]
            assert inputs[s].dtype == np.float32 and inputs[s].flags['C_CONTIGUOUS']
            assert np.array_equal(inputs[s], expected), (s, present)
