"""``PerceptionResult``: what every backend returns for one frame (numpy only, no torch).

The PyTorch, ONNX Runtime and TensorRT predictors, the CLI, the benchmark and the ROS node all produce
or consume this one type, at the resolution of the input frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


@dataclass
class PerceptionResult:
    """One frame's predictions at the frame's resolution; fields of tasks the model lacks are None."""
    seg_labels: Optional[np.ndarray] = None   # (H, W) int32 class ids
    det_boxes: Optional[np.ndarray] = None    # (K, 4) float32 xyxy pixels, only kept detections
    det_scores: Optional[np.ndarray] = None   # (K,) float32
    det_labels: Optional[np.ndarray] = None   # (K,) int32 indices into det_classes
    depth: Optional[np.ndarray] = None        # (H, W) float32 metres
    modality_mask: Tuple[bool, ...] = (True, True, True)  # sensors used, SENSORS order
    ignored_sensors: Tuple[str, ...] = ()     # sensors given that the model does not use
    seg_classes: Sequence[str] = ()
    det_classes: Sequence[str] = ()
    timings_ms: Dict[str, float] = field(default_factory=dict)

    @property
    def num_detections(self) -> int:
        return 0 if self.det_scores is None else int(len(self.det_scores))

    def displayed(self, display_thr: Optional[float]) -> 'PerceptionResult':
        """This result with only the detections scored ``display_thr`` or more: what overlays draw
        (the display threshold, separate from the NMS score threshold that decides what is
        published). None: the result itself."""
        if display_thr is None or self.det_scores is None:
            return self
        keep = self.det_scores >= display_thr
        return replace(self, det_boxes=self.det_boxes[keep], det_scores=self.det_scores[keep],
                       det_labels=self.det_labels[keep])
