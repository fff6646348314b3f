"""Base class of the photometric transforms: change one sensor's pixels, nothing else.

A subclass names its ``sensor`` and implements :meth:`SensorTransform.apply` on that one array. The
base class guarantees the rest of the contract: a missing sensor is left missing, no other key is
touched, and the array keeps its dtype and shape (checked, so a subclass bug cannot leak float64 or
a resized frame into the pipeline).
"""
from __future__ import annotations

from abc import abstractmethod

from typing import Any, Dict, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from .sample_checks import check_sample

Range = Union[float, Tuple[float, float]]


def as_range(value: Range, name: str, low: float = -np.inf,
             high: float = np.inf) -> Tuple[float, float]:
    """``value`` or ``(lo, hi)`` -> ``(lo, hi)`` within ``[low, high]`` (config-friendly ranges)."""
    lo, hi = (value, value) if not isinstance(value, Sequence) else tuple(value)
    if not low <= lo <= hi <= high:
        raise ValueError(f'{name} must be a value or (lo, hi) with {low} <= lo <= hi <= {high}, '
                         f'got {value!r}')
    return float(lo), float(hi)


def draw(bounds: Tuple[float, float]) -> float:
    """One uniform draw from numpy's global RNG (mmcv transforms are seeded through it)."""
    return float(np.random.uniform(bounds[0], bounds[1])) if bounds[1] > bounds[0] else bounds[0]


class SensorTransform(BaseTransform):
    """Apply :meth:`apply` to ``results[sensor]`` with probability ``prob``."""

    #: Key of the array this transform changes; set by each subclass.
    sensor: str = ''

    def __init__(self, prob: float = 1.0) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = float(prob)

    @abstractmethod
    def apply(self, array: np.ndarray) -> np.ndarray:
        """Return the changed array (same dtype and shape); random draws from numpy's global RNG."""

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        array = results.get(self.sensor)
        if array is None or np.random.rand() >= self.prob:
            return results
        check_sample(results)
        out = self.apply(array)
        if out.dtype != array.dtype or out.shape != array.shape:
            raise RuntimeError(f'{type(self).__name__} changed {self.sensor} from '
                               f'{array.dtype}{array.shape} to {out.dtype}{out.shape}')
        results[self.sensor] = out
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'
