"""Corruptions of the depth *input* (float32 (H, W) metres, 0 = invalid) the way real sensors fail.

They touch ``depth`` only -- never ``gt_depth``: the network must learn to answer the clean target
from a degraded measurement. Invariant of every transform here: a pixel that was invalid (0) stays
0; a valid pixel may become invalid (a dropout, a return below zero) but never the reverse, so no
depth is ever invented where the sensor had none.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from perception.registry import TRANSFORMS

from .sensor_transform import Range, SensorTransform, as_range, draw


@TRANSFORMS.register_module()
class DepthHoles(SensorTransform):
    """Drop random elliptic blobs of ``depth`` to 0 (specular/dark surfaces, IR interference).

    Args:
        num_holes: ``(lo, hi)`` number of blobs, inclusive.
        hole_size: ``(lo, hi)`` semi-axis length as a fraction of min(H, W).
        prob: probability of applying the transform.
    """
    sensor = 'depth'

    def __init__(self, num_holes: Sequence[int] = (1, 4), hole_size: Range = (0.03, 0.15),
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        lo, hi = as_range(num_holes, 'num_holes', 0)
        self.num_holes = (int(lo), int(hi))
        self.hole_size = as_range(hole_size, 'hole_size', 0.0, 1.0)

    def hole_mask(self, hw: tuple) -> np.ndarray:
        """A uint8 (H, W) mask, 1 inside the blobs of one draw."""
        h, w = hw
        mask = np.zeros((h, w), np.uint8)
        for _ in range(np.random.randint(self.num_holes[0], self.num_holes[1] + 1)):
            center = (int(np.random.randint(0, w)), int(np.random.randint(0, h)))
            axes = (max(int(draw(self.hole_size) * min(h, w)), 1),
                    max(int(draw(self.hole_size) * min(h, w)), 1))
            cv2.ellipse(mask, center, axes, float(np.random.uniform(0, 180)), 0, 360, 1, -1)
        return mask

    def apply(self, array: np.ndarray) -> np.ndarray:
        out = array.copy()
        out[self.hole_mask(array.shape) > 0] = 0.0
        return out


@TRANSFORMS.register_module()
class DepthNoise(SensorTransform):
    """Range-dependent noise on the valid pixels of ``depth``.

    ``d' = d + N(0, rel_std * d) + N(0, abs_std) + N(0, quadratic_std * d^2)``: relative error,
    a constant floor, and the error that grows with the square of the range (structured-light and
    stereo sensors). A pixel pushed to <= 0 becomes invalid.

    Args:
        rel_std: ``(lo, hi)`` std as a fraction of the depth.
        abs_std: ``(lo, hi)`` std in metres.
        quadratic_std: ``(lo, hi)`` std coefficient in 1/metre (e.g. 0.0012-0.0019 for a Kinect).
        prob: probability of applying the transform.
    """
    sensor = 'depth'

    def __init__(self, rel_std: Range = (0.0, 0.01), abs_std: Range = (0.0, 0.01),
                 quadratic_std: Range = (0.0, 0.0), prob: float = 1.0) -> None:
        super().__init__(prob)
        self.rel_std = as_range(rel_std, 'rel_std', 0.0)
        self.abs_std = as_range(abs_std, 'abs_std', 0.0)
        self.quadratic_std = as_range(quadratic_std, 'quadratic_std', 0.0)

    def apply(self, array: np.ndarray) -> np.ndarray:
        valid = array > 0
        d = array[valid].astype(np.float64)
        # The three terms are independent, so their variances add.
        std = np.sqrt((draw(self.rel_std) * d)**2 + draw(self.abs_std)**2
                      + (draw(self.quadratic_std) * d * d)**2)
        noisy = d + np.random.standard_normal(d.shape) * std
        out = np.zeros_like(array)
        out[valid] = np.where(noisy > 0, noisy, 0.0)
        return out


@TRANSFORMS.register_module()
class DepthQuantize(SensorTransform):
    """Round the valid pixels of ``depth`` to a step in metres (low-bit sensors, mm/cm encodings).

    A value that rounds to 0 becomes invalid, which is what such a sensor would report.

    Args:
        step: ``(lo, hi)`` or one value: the quantisation step in metres.
        prob: probability of applying the transform.
    """
    sensor = 'depth'

    def __init__(self, step: Range = 0.01, prob: float = 1.0) -> None:
        super().__init__(prob)
        self.step = as_range(step, 'step', 1e-6)

    def apply(self, array: np.ndarray) -> np.ndarray:
        step = draw(self.step)
        out = (np.round(array / step) * step).astype(np.float32)
        out[array <= 0] = 0.0
        return out


__all__ = ['DepthHoles', 'DepthNoise', 'DepthQuantize']
