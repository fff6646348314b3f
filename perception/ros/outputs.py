"""``PerceptionResult`` -> the node's output messages, all stamped and framed like the input.

- ``labels``: sensor_msgs/Image ``mono8`` (or ``mono16`` when class ids exceed 255 or when asked)
- ``overlay``: sensor_msgs/Image ``rgb8`` (overlay.py)
- ``detections``: vision_msgs/Detection2DArray (4.x): class id as string, score, box centre/size
- ``depth``: sensor_msgs/Image ``32FC1`` metres
A result that does not fit the input frame raises ``ValueError`` naming the field: the node logs it and
skips that frame instead of publishing something misaligned.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Mapping, Optional, Sequence, Tuple

import numpy as np

from perception.results import PerceptionResult

from .image_codec import array_to_image
from .overlay import base_image, render_overlay
from .typestore import (CAMERA_INFO, DETECTION2D_ARRAY, DIAGNOSTIC_ARRAY, IMAGE, LABEL_INFO,
                        msg_class)

OUTPUTS: Tuple[str, ...] = ('labels', 'overlay', 'detections', 'depth')
#: The model's class lists, published once as vision_msgs/LabelInfo on transient-local topics.
CLASS_OUTPUTS: Tuple[str, ...] = ('det_classes', 'seg_classes')
#: Everything the node publishes (``OUTPUTS`` plus pass-through camera info, diagnostics and the
#: class lists) -> type
OUTPUT_TYPES: Dict[str, str] = {
    'labels': IMAGE, 'overlay': IMAGE, 'depth': IMAGE, 'detections': DETECTION2D_ARRAY,
    'camera_info': CAMERA_INFO, 'diagnostics': DIAGNOSTIC_ARRAY,
    'det_classes': LABEL_INFO, 'seg_classes': LABEL_INFO}
LABEL_ENCODINGS = ('auto', 'mono8', 'mono16')
CLASS_ID_MODES = ('name', 'index')


@dataclass(frozen=True)
class OutputOptions:
    publish: FrozenSet[str] = frozenset(OUTPUTS)
    labels_encoding: str = 'auto'      # auto: mono8 while every class id fits, else mono16
    score_thr: float = 0.0             # detections below are not published
    class_id: str = 'name'             # 'name': det_classes[label] when known; 'index': str(label)
    overlay_alpha: float = 0.5
    display_thr: float = 0.0           # the overlay draws detections scored this or more (and
                                       # score_thr or more: what is not published is not drawn)

    def __post_init__(self):
        unknown = set(self.publish) - set(OUTPUTS)
        if unknown:
            raise ValueError(f'unknown outputs {sorted(unknown)}; expected a subset of {OUTPUTS}')
        if self.labels_encoding not in LABEL_ENCODINGS:
            raise ValueError(f'labels_encoding {self.labels_encoding!r}; expected one of {LABEL_ENCODINGS}')
        if self.class_id not in CLASS_ID_MODES:
            raise ValueError(f'class_id {self.class_id!r}; expected one of {CLASS_ID_MODES}')


def labels_image(seg_labels: np.ndarray, header: Any, encoding: str = 'auto') -> Any:
    labels = np.asarray(seg_labels)
    if labels.size and (labels.min() < 0 or labels.max() > 65535):
        raise ValueError(f'seg_labels: expected class ids in [0, 65535], got [{labels.min()}, '
                         f'{labels.max()}]')
    top = int(labels.max()) if labels.size else 0
    if encoding == 'auto':
        encoding = 'mono8' if top <= 255 else 'mono16'
    if encoding == 'mono8' and top > 255:
        raise ValueError(f'seg_labels: class id {top} does not fit mono8; use labels_encoding mono16')
    dtype = np.uint8 if encoding == 'mono8' else np.uint16
    return array_to_image(labels.astype(dtype), encoding, header)


def depth_image(depth: np.ndarray, header: Any) -> Any:
    return array_to_image(np.asarray(depth, np.float32), '32FC1', header)


def detections_message(result: PerceptionResult, header: Any, score_thr: float = 0.0,
                       class_id: str = 'name') -> Any:
    """Detection2DArray; each Detection2D carries the frame header, one hypothesis and its box."""
    types = {name: msg_class(f'{pkg}/msg/{name}') for pkg, name in (
        ('vision_msgs', 'Detection2D'), ('vision_msgs', 'ObjectHypothesisWithPose'),
        ('vision_msgs', 'ObjectHypothesis'), ('vision_msgs', 'BoundingBox2D'),
        ('vision_msgs', 'Pose2D'), ('vision_msgs', 'Point2D'),
        ('geometry_msgs', 'PoseWithCovariance'), ('geometry_msgs', 'Pose'),
        ('geometry_msgs', 'Point'), ('geometry_msgs', 'Quaternion'))}
    detections = []
    n = result.num_detections
    boxes = np.asarray(result.det_boxes, np.float64).reshape(-1, 4) if n else np.zeros((0, 4))
    scores = np.asarray(result.det_scores, np.float64).reshape(-1) if n else np.zeros(0)
    labels = np.asarray(result.det_labels).reshape(-1) if n else np.zeros(0, np.int64)
    if not (len(boxes) == len(scores) == len(labels)):
        raise ValueError(f'det_boxes/det_scores/det_labels: expected the same length, got '
                         f'{len(boxes)}/{len(scores)}/{len(labels)}')
    for (x1, y1, x2, y2), score, label in zip(boxes, scores, labels):
        if score < score_thr:
            continue
        if class_id == 'name' and 0 <= int(label) < len(result.det_classes):
            name = str(result.det_classes[int(label)])
        else:
            name = str(int(label))
        hypothesis = types['ObjectHypothesisWithPose'](
            hypothesis=types['ObjectHypothesis'](class_id=name, score=float(score)),
            pose=types['PoseWithCovariance'](
                pose=types['Pose'](position=types['Point'](x=0.0, y=0.0, z=0.0),
                                   orientation=types['Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0)),
                covariance=np.zeros(36, np.float64)))
        bbox = types['BoundingBox2D'](
            center=types['Pose2D'](position=types['Point2D'](x=(x1 + x2) / 2, y=(y1 + y2) / 2),
                                   theta=0.0),
            size_x=float(x2 - x1), size_y=float(y2 - y1))
        detections.append(types['Detection2D'](header=header, results=[hypothesis], bbox=bbox, id=''))
    return msg_class(DETECTION2D_ARRAY)(header=header, detections=detections)


def label_info_message(classes: Sequence[str], header: Any, threshold: float = 0.0) -> Any:
    """``vision_msgs/LabelInfo``: ``class_map`` = one ``VisionClass`` per class, ``class_id`` its
    index (what ``Detection2D`` carries with ``class_id: index``; the ``class_name`` is what it
    carries with ``class_id: name``), ``threshold`` the score below which nothing is published."""
    types = msg_class(LABEL_INFO), msg_class('vision_msgs/msg/VisionClass')
    return types[0](header=header, threshold=float(threshold),
                    class_map=[types[1](class_id=i, class_name=str(name))
                               for i, name in enumerate(classes)])


def result_messages(result: PerceptionResult, header: Any, inputs: Mapping[str, Optional[np.ndarray]],
                    shape: Tuple[int, int], options: OutputOptions = OutputOptions()) -> Dict[str, Any]:
    """Every enabled output that the result provides, keyed by output name (see ``OUTPUTS``)."""
    def check_plane(name: str, arr: Optional[np.ndarray]) -> None:
        if arr is not None and tuple(np.shape(arr)) != tuple(shape):
            raise ValueError(f'{name}: expected shape {tuple(shape)} (the input frame), '
                             f'got {tuple(np.shape(arr))}')

    check_plane('seg_labels', result.seg_labels)
    check_plane('depth', result.depth)
    out: Dict[str, Any] = {}
    if 'labels' in options.publish and result.seg_labels is not None:
        out['labels'] = labels_image(result.seg_labels, header, options.labels_encoding)
    if 'depth' in options.publish and result.depth is not None:
        out['depth'] = depth_image(result.depth, header)
    if 'detections' in options.publish and result.det_scores is not None:
        out['detections'] = detections_message(result, header, options.score_thr,
                                               options.class_id)
    if 'overlay' in options.publish:
        keep = (np.asarray(result.det_scores) >= max(options.score_thr, options.display_thr)
                if result.num_detections else None)
        boxes = np.asarray(result.det_boxes)[keep] if keep is not None else None
        box_labels = np.asarray(result.det_labels)[keep] if keep is not None else None
        img = render_overlay(base_image(inputs, shape), result.seg_labels, boxes, box_labels,
                             options.overlay_alpha)
        out['overlay'] = array_to_image(img, 'rgb8', header)
    return out
