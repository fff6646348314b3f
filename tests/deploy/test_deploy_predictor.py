"""The Predictor: one result type from every backend, any sensor subset, frame-size outputs, and
SensorError for bad input."""
import itertools

import numpy as np
import pytest

from perception.apis.predictor import Predictor
from perception.contract import SENSORS, SensorError
from perception.deploy.frames import synthetic_frames
from perception.deploy.parity import ParityThresholds, match_detections
from perception.results import PerceptionResult

from deploy_helpers import NANO_CONFIG, NANO_SIZE

FRAME = (100, 150)   # deliberately not the network size (64x96) nor its aspect ratio


@pytest.fixture(scope='module')
def onnx_predictor(nano_export):
    return Predictor(nano_export['onnx'], providers=['CPUExecutionProvider'])


@pytest.fixture(scope='module')
def torch_predictor(nano_export):
    pytest.importorskip('torch', reason='the PyTorch backend is the train extra')
    return Predictor.from_config(NANO_CONFIG, str(nano_export['checkpoint']),
                                 input_size=NANO_SIZE)


@pytest.fixture(scope='module')
def frame():
    """A synthetic frame with all three sensors (some scene conditions drop one)."""
    return next(f for f in synthetic_frames(8, FRAME, seed=11)
                if all(v is not None for v in f.sensors().values()))


def test_torch_and_onnx_return_the_same_result(torch_predictor, onnx_predictor, frame):
    assert torch_predictor.backend.name == 'torch' and torch_predictor.spec.nms == 'host'
    assert onnx_predictor.backend.name == 'onnxruntime' and onnx_predictor.spec.nms == 'onnx'
    a, b = torch_predictor(**frame.sensors()), onnx_predictor(**frame.sensors())
    assert type(a) is type(b) is PerceptionResult
    for r in (a, b):
        assert r.seg_labels.shape == FRAME and r.seg_labels.dtype == np.int32
        assert r.depth.shape == FRAME and r.depth.dtype == np.float32
        assert r.det_boxes.dtype == np.float32 and r.det_labels.dtype == np.int32
        assert r.seg_classes == onnx_predictor.spec.seg_classes
        assert set(r.timings_ms) == {'preprocess', 'inference', 'postprocess'}
    assert np.mean(a.seg_labels == b.seg_labels) >= 0.999
    np.testing.assert_allclose(a.depth, b.depth, rtol=1e-4, atol=1e-5)
    thr = ParityThresholds()
    pairs = match_detections((a.det_boxes, a.det_scores, a.det_labels),
                   (b.det_boxes, b.det_scores, b.det_labels), thr)
    assert a.num_detections > 0 and len(pairs) >= min(a.num_detections, b.num_detections) - 1
    assert max(abs(a.det_scores[i] - b.det_scores[j]) for i, j, _ in pairs) < 1e-4


@pytest.mark.parametrize('sensors', [c for k in (1, 2, 3) for c in
                                     itertools.combinations(SENSORS, k)])
def test_any_sensor_subset(onnx_predictor, frame, sensors):
    arrays = {s: (v if s in sensors else None) for s, v in frame.sensors().items()}
    r = onnx_predictor(**arrays)
    assert r.modality_mask == tuple(s in sensors for s in SENSORS)
    assert r.seg_labels.shape == FRAME and r.depth.shape == FRAME
    assert r.num_detections > 0      # the box checks below see boxes
    assert r.det_boxes[:, 0::2].min() >= 0 and r.det_boxes[:, 0::2].max() <= FRAME[1]
    assert r.det_boxes[:, 1::2].min() >= 0 and r.det_boxes[:, 1::2].max() <= FRAME[0]


def test_outputs_follow_the_frame_size(onnx_predictor):
    """Boxes scale with the frame: the same content at twice the size gives twice the boxes."""
    small = synthetic_frames(1, NANO_SIZE, seed=3)[0]
    big_rgb = np.repeat(np.repeat(small.rgb, 2, axis=0), 2, axis=1)
    r_small, r_big = onnx_predictor(rgb=small.rgb), onnx_predictor(rgb=big_rgb)
    assert r_big.seg_labels.shape == (2 * NANO_SIZE[0], 2 * NANO_SIZE[1])
    assert r_small.num_detections > 0
    # nearest-neighbour upsampling of the input and of the labels commute up to resampling noise
    assert np.mean(r_big.seg_labels[::2, ::2] == r_small.seg_labels) > 0.9
    top_small, top_big = r_small.det_boxes[0], r_big.det_boxes[0]
    np.testing.assert_allclose(top_big, 2 * top_small, atol=3.0)


def test_score_threshold_applies(onnx_predictor, nano_export, frame):
    """A threshold inside the loose scores (their median) splits them: the tight predictor keeps
    exactly the loose detections scored above it (boxes, scores, labels), and something on each side."""
    loose = onnx_predictor(**frame.sensors())
    assert loose.num_detections >= 3, loose.det_scores
    thr = float(np.median(loose.det_scores))
    tight = Predictor(nano_export['onnx'], score_thr=thr)(**frame.sensors())
    above = loose.det_scores > thr
    assert 0 < tight.num_detections < loose.num_detections, (thr, loose.det_scores)
    order = np.argsort(-tight.det_scores, kind='stable')
    loose_order = np.argsort(-loose.det_scores[above], kind='stable')
    np.testing.assert_array_equal(tight.det_scores[order], loose.det_scores[above][loose_order])
    np.testing.assert_array_equal(tight.det_boxes[order], loose.det_boxes[above][loose_order])
    np.testing.assert_array_equal(tight.det_labels[order], loose.det_labels[above][loose_order])


BAD_INPUTS = [
    (dict(rgb=np.zeros((8, 8, 3), np.float32)), 'rgb', 'dtype'),
    (dict(rgb=np.zeros((8, 8, 4), np.uint8)), 'rgb', 'channels'),
    (dict(rgb=np.zeros((8, 8), np.uint8)), 'rgb', 'shape'),
    (dict(rgb=[[0]]), 'rgb', 'type'),
    (dict(thermal=np.zeros((8, 8, 3), np.float32)), 'thermal', 'channels'),
    (dict(thermal=np.zeros((8, 8), np.uint8)), 'thermal', 'dtype'),
    (dict(thermal=np.full((8, 8), 2.0, np.float32)), 'thermal', 'value'),
    (dict(depth=np.zeros((8, 8), np.float64)), 'depth', 'dtype'),
    (dict(depth=np.full((8, 8), -1.0, np.float32)), 'depth', 'value'),
    (dict(rgb=np.zeros((8, 8, 3), np.uint8), depth=np.zeros((8, 9), np.float32)), 'depth',
     'size'),
    (dict(), 'modality_mask', 'value'),
]


@pytest.mark.parametrize('arrays,sensor,field', BAD_INPUTS)
def test_bad_input_raises_sensor_error(onnx_predictor, arrays, sensor, field):
    with pytest.raises(SensorError) as err:
        onnx_predictor(**arrays)
    assert err.value.sensor == sensor and err.value.field == field


def test_invalid_depth_is_cleaned_not_rejected(onnx_predictor):
    depth = np.full(NANO_SIZE, 5.0, np.float32)
    depth[:10] = np.nan
    depth[-5:] = np.inf
    inputs, info = onnx_predictor.prepare(depth=depth)
    assert np.isfinite(inputs['depth']).all() and (inputs['depth'][0, 0, :10] == 0).all()
    assert info.modality_mask == (False, False, True)
    assert not inputs['rgb'].any() and not inputs['thermal'].any()


def test_backend_must_fit_the_file(nano_export):
    with pytest.raises(ValueError, match='tensorrt'):
        Predictor(nano_export['onnx'], backend='tensorrt')
    assert Predictor(nano_export['onnx'], backend='onnxruntime').backend.name == 'onnxruntime'
    with pytest.raises(ValueError, match='cannot tell'):
        Predictor(nano_export['onnx'].with_suffix('.bin'))
