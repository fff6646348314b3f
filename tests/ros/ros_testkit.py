"""Test helpers for tests/ros: a small deterministic predictor and synthetic sensor frames.

ToyPredictor follows the real predictor's contract, ``predictor(rgb=, thermal=, depth=) ->
PerceptionResult``, and makes its outputs reveal what it was given, so tests downstream of the node
(the DDS subscriber process, bag readers) can check that the right sensors reached it:
- seg: thermal present -> 1 where thermal > 0.5; else rgb present -> 2 where mean(rgb) > 128; else 0
- det: one box around those pixels (class 'hot' from thermal, 'bright' from rgb), score 0.9
- depth: the input depth echoed; without depth, 1.0 m everywhere
``delay_s`` simulates slow inference.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from perception.results import PerceptionResult

SEG_CLASSES = ('background', 'hot', 'bright')
DET_CLASSES = ('hot', 'bright')


class ToyPredictor:
    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.calls = []     # modality masks seen, in call order

    def __call__(self, rgb: Optional[np.ndarray] = None, thermal: Optional[np.ndarray] = None,
                 depth: Optional[np.ndarray] = None) -> PerceptionResult:
        present = tuple(x is not None for x in (rgb, thermal, depth))
        self.calls.append(present)
        shape = next(x for x in (rgb, thermal, depth) if x is not None).shape[:2]
        if self.delay_s:
            time.sleep(self.delay_s)
        if thermal is not None:
            mask, seg_id, det_id = thermal > 0.5, 1, 0
        elif rgb is not None:
            mask, seg_id, det_id = rgb.astype(np.float32).mean(axis=2) > 128, 2, 1
        else:
            mask, seg_id, det_id = np.zeros(shape, bool), 0, 0
        seg = np.where(mask, seg_id, 0).astype(np.int32)
        if mask.any():
            ys, xs = np.nonzero(mask)
            boxes = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
            scores, labels = np.array([0.9], np.float32), np.array([det_id], np.int32)
        else:
            boxes, scores = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
            labels = np.zeros(0, np.int32)
        out_depth = depth.copy() if depth is not None else np.ones(shape, np.float32)
        return PerceptionResult(seg_labels=seg, det_boxes=boxes, det_scores=scores, det_labels=labels,
                                depth=out_depth, modality_mask=present, seg_classes=SEG_CLASSES,
                                det_classes=DET_CLASSES)


FAIL_MARKER = (1, 2, 3)       # rgb of pixel (0, 0) that FailOnMarker raises on


class FailOnMarker(ToyPredictor):
    """ToyPredictor that raises, like a model failing at run time, on an rgb frame whose pixel (0, 0)
    is FAIL_MARKER (the synthetic frames never are)."""

    def __call__(self, rgb=None, thermal=None, depth=None) -> PerceptionResult:
        if rgb is not None and tuple(rgb[0, 0]) == FAIL_MARKER:
            raise RuntimeError('simulated inference failure (FAIL_MARKER frame)')
        return super().__call__(rgb=rgb, thermal=thermal, depth=depth)


def toy_predictor_5ms() -> ToyPredictor:
    """The test predictor of the 'nominal' and 'fault' scenarios, as a ``module:attr`` model_path."""
    return ToyPredictor(delay_s=0.005)


def toy_predictor_40ms() -> ToyPredictor:
    """The test predictor of the 'flood' scenario (~25 Hz at most)."""
    return ToyPredictor(delay_s=0.04)


def synthetic_frame(index: int, height: int = 96, width: int = 128):
    """rgb/thermal/depth of frame ``index``: a hot, bright square moving with the index; depth
    encodes the index (1.0 m + index % 100 cm) so a receiver can tie contents to the stamp."""
    rgb = np.full((height, width, 3), 40, np.uint8)
    thermal = np.full((height, width), 0.2, np.float32)
    size = max(4, height // 6)
    x0 = (index * 3) % (width - size)
    y0 = (index * 2) % (height - size)
    rgb[y0:y0 + size, x0:x0 + size] = 220
    thermal[y0:y0 + size, x0:x0 + size] = 0.9
    depth = np.full((height, width), depth_for_index(index), np.float32)
    return rgb, thermal, depth, (x0, y0, size)


def depth_for_index(index: int) -> float:
    return 1.0 + (index % 100) * 0.01


def camera_info(width: int, height: int, focal: float, frame_id: str = 'camera', stamp_ns: int = 0):
    """A pinhole CameraInfo (rosbags message object): perception.ros.typestore.pinhole_camera_info."""
    from perception.ros.typestore import pinhole_camera_info
    return pinhole_camera_info(width, height, focal, frame_id, stamp_ns)
