"""Geometric transforms: one spatial change applied identically to every sensor and target.

Sizes follow the mmcv/mmdet convention everywhere in this module: ``scale``, ``crop_size`` and
``size`` are ``(width, height)``. Random parameters come from numpy's global RNG (seedable like every
mmcv transform); the op itself is a deterministic albumentations op run by
:func:`perception.transforms.spatial.apply_spatial`, which owns the per-sensor interpolation rules.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import albumentations as A
import cv2
import numpy as np
from mmcv.image import rescale_size
from mmcv.transforms import BaseTransform

from perception.contract import IGNORE_INDEX
from perception.registry import TRANSFORMS

from .sample_checks import check_sample, targets_follow_frame
from .spatial import (apply_spatial, check_depth_mode, interpolation_flag,
                      leave_targets_in_original_frame, pad_sample)

Size = Tuple[int, int]


def _as_size(value: Any, name: str) -> Size:
    if (not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in value)):
        raise ValueError(f'{name} must be (width, height) with positive ints, got {value!r}')
    return int(value[0]), int(value[1])


class _GeometricTransform(BaseTransform):
    """Options shared by every geometric transform (how depth and boxes are resampled)."""

    def __init__(self, interpolation: str = 'bilinear', depth_interpolation: str = 'nearest',
                 min_box_size: float = 1.0, min_visibility: float = 0.0) -> None:
        self.interpolation = interpolation
        self._flag = interpolation_flag(interpolation)
        self.depth_interpolation = check_depth_mode(depth_interpolation)
        if min_box_size < 0 or not 0.0 <= min_visibility <= 1.0:
            raise ValueError('min_box_size must be >= 0 and min_visibility in [0, 1]')
        self.min_box_size = float(min_box_size)
        self.min_visibility = float(min_visibility)

    def _apply(self, results: Dict[str, Any], op: A.DualTransform) -> Size:
        return apply_spatial(results, op, depth_interpolation=self.depth_interpolation,
                             min_box_size=self.min_box_size, min_visibility=self.min_visibility)

    def _resize(self, results: Dict[str, Any], new_wh: Size, keep_ratio: bool) -> Dict[str, Any]:
        h, w = check_sample(results)
        new_w, new_h = new_wh
        op = A.Resize(height=new_h, width=new_w, interpolation=self._flag,
                      mask_interpolation=cv2.INTER_NEAREST, p=1.0)
        self._apply(results, op)
        # Cumulative over chained resizes, so predictions map back to ori_shape with one division.
        old_sw, old_sh = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (old_sw * new_w / w, old_sh * new_h / h)
        results['scale'] = (new_w, new_h)
        results['keep_ratio'] = keep_ratio
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


@TRANSFORMS.register_module()
class Resize(_GeometricTransform):
    """Resize every sensor and target to a fixed size (test pipelines) or by a factor.

    Args:
        scale: target ``(width, height)``. With ``keep_ratio`` it bounds the long and the short
            edge (mmcv ``imrescale`` semantics: the largest size that fits both).
        scale_factor: alternative to ``scale``: one factor for both axes.
        keep_ratio: keep the aspect ratio (see ``scale``).
        resize_targets: False in test pipelines: the sensors are resized, the targets stay in
            the original frame (``ori_shape``, original box coordinates), where the model's
            restored predictions are scored. Later geometric transforms leave them there too.
        interpolation: for rgb/thermal: ``'bilinear'`` (default), ``'area'``, ``'nearest'``.
        depth_interpolation: ``'nearest'`` (default) or ``'valid'`` (validity-aware, see
            :mod:`perception.transforms.spatial`). Labels are always resized with nearest.
        min_box_size: boxes narrower or lower than this many pixels afterwards are dropped.
        min_visibility: boxes keeping less than this fraction of their area are dropped.
    """

    def __init__(self, scale: Optional[Size] = None, scale_factor: Optional[float] = None,
                 keep_ratio: bool = False, resize_targets: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resize_targets = resize_targets
        if (scale is None) == (scale_factor is None):
            raise ValueError('Resize needs exactly one of scale=(w, h) and scale_factor')
        self.scale = None if scale is None else _as_size(scale, 'scale')
        if scale_factor is not None and scale_factor <= 0:
            raise ValueError(f'scale_factor must be > 0, got {scale_factor}')
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio

    def target_size(self, hw: Size) -> Size:
        """The ``(width, height)`` a frame of size ``hw = (H, W)`` is resized to."""
        h, w = hw
        if self.scale is not None and not self.keep_ratio:
            return self.scale
        target = self.scale if self.scale is not None else self.scale_factor
        if self.keep_ratio:
            new_w, new_h = rescale_size((w, h), target)
        else:
            new_w, new_h = int(w * target + 0.5), int(h * target + 0.5)
        return max(int(new_w), 1), max(int(new_h), 1)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        if not self.resize_targets:
            leave_targets_in_original_frame(results)
        return self._resize(results, self.target_size(check_sample(results)), self.keep_ratio)


@TRANSFORMS.register_module()
class RandomResize(_GeometricTransform):
    """Resize by a random scale (scale jitter), identically for every sensor and target.

    Args:
        scale: base ``(width, height)`` multiplied by a ratio drawn uniformly from
            ``ratio_range``; or a list of two ``(width, height)`` between which each edge is
            drawn uniformly (then ``ratio_range`` must be ``None``).
        ratio_range: ``(low, high)`` jitter of ``scale``.
        keep_ratio: fit the drawn scale keeping the aspect ratio (default True).
        Other arguments as in :class:`Resize`.
    """

    def __init__(self, scale: Union[Size, Sequence[Size]],
                 ratio_range: Optional[Tuple[float, float]] = None, keep_ratio: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if ratio_range is not None:
            self.scale: Union[Size, Tuple[Size, Size]] = _as_size(scale, 'scale')
            low, high = ratio_range
            if not 0 < low <= high:
                raise ValueError(f'ratio_range must be 0 < low <= high, got {ratio_range}')
            self.ratio_range: Optional[Tuple[float, float]] = (float(low), float(high))
        else:
            if len(scale) != 2:
                raise ValueError('without ratio_range, scale must be two (width, height) bounds')
            self.scale = (_as_size(scale[0], 'scale[0]'), _as_size(scale[1], 'scale[1]'))
            self.ratio_range = None
        self.keep_ratio = keep_ratio

    def sample_scale(self) -> Size:
        """Draw the ``(width, height)`` target of one call from numpy's global RNG."""
        if self.ratio_range is not None:
            ratio = np.random.uniform(*self.ratio_range)
            return max(int(self.scale[0] * ratio), 1), max(int(self.scale[1] * ratio), 1)
        (w0, h0), (w1, h1) = self.scale
        return (int(np.random.randint(min(w0, w1), max(w0, w1) + 1)),
                int(np.random.randint(min(h0, h1), max(h0, h1) + 1)))

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        h, w = check_sample(results)
        scale = self.sample_scale()
        new_wh = rescale_size((w, h), scale) if self.keep_ratio else scale
        return self._resize(results, (max(int(new_wh[0]), 1), max(int(new_wh[1]), 1)),
                            self.keep_ratio)


@TRANSFORMS.register_module()
class RandomCrop(_GeometricTransform):
    """Crop a random window, identically for every sensor and target.

    A frame smaller than ``crop_size`` along an axis is kept whole along it (no padding here;
    use :class:`Pad` for fixed-size batches), like mmseg/mmdet ``RandomCrop``.

    Args:
        crop_size: ``(width, height)`` of the window.
        cat_max_ratio: retry (up to ``max_tries``) while one class covers more than this fraction
            of the labelled pixels of the crop (mmseg semantics; 1.0 disables it).
        box_aware: draw only windows that contain the centre of a (random) box, so detection
            crops do not end up empty (samples without boxes crop uniformly).
        max_tries: attempts for ``cat_max_ratio``; the last attempt is used regardless.
        ignore_index: label excluded from ``cat_max_ratio``.
        Other arguments as in :class:`Resize` (no resampling happens, only box filtering).
    """

    def __init__(self, crop_size: Size, cat_max_ratio: float = 1.0, box_aware: bool = False,
                 max_tries: int = 10, ignore_index: int = IGNORE_INDEX, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crop_size = _as_size(crop_size, 'crop_size')
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f'cat_max_ratio must be in (0, 1], got {cat_max_ratio}')
        self.cat_max_ratio = float(cat_max_ratio)
        self.box_aware = box_aware
        self.max_tries = max(int(max_tries), 1)
        self.ignore_index = ignore_index

    def sample_window(self, hw: Size, boxes: Optional[np.ndarray] = None
                      ) -> Tuple[int, int, int, int]:
        """Draw one crop window ``(x1, y1, x2, y2)`` inside a frame of size ``hw = (H, W)``.

        With ``boxes`` (non-empty), the window is drawn among those that contain the centre of
        one of them, picked at random -- a direct draw, not a rejection loop that rarely hits.
        """
        h, w = hw
        cw, ch = min(self.crop_size[0], w), min(self.crop_size[1], h)
        x_range, y_range = (0, w - cw), (0, h - ch)
        if boxes is not None and len(boxes):
            x1b, y1b, x2b, y2b = boxes[np.random.randint(len(boxes))]
            cx, cy = int((x1b + x2b) / 2), int((y1b + y2b) / 2)
            if 0 <= cx < w and 0 <= cy < h:
                x_range = (max(0, cx - cw + 1), min(w - cw, cx))
                y_range = (max(0, cy - ch + 1), min(h - ch, cy))
        x1 = int(np.random.randint(x_range[0], x_range[1] + 1))
        y1 = int(np.random.randint(y_range[0], y_range[1] + 1))
        return x1, y1, x1 + cw, y1 + ch

    def _class_balanced(self, seg: Optional[np.ndarray], window: Tuple[int, int, int, int]) -> bool:
        # mmseg semantics: accept only crops with >= 2 labelled classes, none dominating.
        if self.cat_max_ratio >= 1.0 or seg is None:
            return True
        x1, y1, x2, y2 = window
        labels, counts = np.unique(seg[y1:y2, x1:x2], return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        hw = check_sample(results)
        in_frame = targets_follow_frame(results)
        boxes = results.get('gt_bboxes') if self.box_aware and in_frame else None
        seg = results.get('gt_sem_seg') if in_frame else None
        window = self.sample_window(hw, boxes)
        for _ in range(self.max_tries - 1):
            if self._class_balanced(seg, window):
                break
            window = self.sample_window(hw, boxes)
        x1, y1, x2, y2 = window
        self._apply(results, A.Crop(x_min=x1, y_min=y1, x_max=x2, y_max=y2, p=1.0))
        results['crop_bbox'] = window
        return results


@TRANSFORMS.register_module()
class RandomFlip(_GeometricTransform):
    """Mirror every sensor and target left-right with probability ``prob``.

    Horizontal only, on purpose: a robot's cameras see an upright world, so vertical flips would
    teach the network scenes it never meets (and break the depth/height prior).
    """

    def __init__(self, prob: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = float(prob)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        flipped = bool(results.get('flip', False))
        if np.random.rand() < self.prob:
            self._apply(results, A.HorizontalFlip(p=1.0))
            flipped = not flipped  # two flips cancel out
        results['flip'] = flipped
        results['flip_direction'] = 'horizontal' if flipped else None
        return results


@TRANSFORMS.register_module()
class Pad(BaseTransform):
    """Pad every sensor and target at the bottom/right, to a fixed size or a multiple.

    Fill values are per key: rgb/thermal 0, depth and gt_depth 0 (invalid), gt_sem_seg 255 (ignore),
    so padding never looks like data. Boxes are unchanged (the origin does not move).
    ``img_shape`` keeps the content size, ``pad_shape`` is the padded size (mmseg/mmdet
    convention: the heads crop predictions to ``img_shape``). Place it after every geometric
    transform; one that follows it raises.

    Args:
        size: target ``(width, height)``; a larger frame is left as it is.
        size_divisor: pad H and W up to a multiple of this (e.g. 32 for a stride-32 backbone).
    """

    def __init__(self, size: Optional[Size] = None, size_divisor: Optional[int] = None) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError('Pad needs exactly one of size=(w, h) and size_divisor')
        self.size = None if size is None else _as_size(size, 'size')
        if size_divisor is not None and size_divisor < 1:
            raise ValueError(f'size_divisor must be >= 1, got {size_divisor}')
        self.size_divisor = size_divisor

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        h, w = check_sample(results)
        if self.size is not None:
            target = (self.size[1], self.size[0])
        else:
            d = self.size_divisor
            target = (-(-h // d) * d, -(-w // d) * d)
        pad_sample(results, target)
        results.setdefault('pad_shape', (h, w))
        return results

    def __repr__(self) -> str:
        return f'Pad(size={self.size}, size_divisor={self.size_divisor})'
