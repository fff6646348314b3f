"""Photometric transforms of the thermal camera (float32 (H, W) relative intensity in [0, 1]).

Plain numpy on purpose: these model radiometric effects of uncooled microbolometers that no image
library ships (albumentations' noise ops assume visible-light cameras), and each is one line of
arithmetic. Both clip to [0, 1], the contract's thermal range.
"""
from __future__ import annotations

import numpy as np

from perception.registry import TRANSFORMS

from .sensor_transform import Range, SensorTransform, as_range, draw


@TRANSFORMS.register_module()
class ThermalGainOffsetNoise(SensorTransform):
    """``t * gain + offset`` plus temporal noise and column fixed-pattern noise on ``thermal``.

    Models a different camera response (gain/offset drift between flat-field corrections), the
    sensor's NETD (per-pixel Gaussian noise) and the column stripes of a microbolometer readout.

    Args:
        gain: ``(lo, hi)`` multiplicative gain.
        offset: ``(lo, hi)`` additive offset (fraction of full scale).
        noise_std: ``(lo, hi)`` std of per-pixel noise.
        column_noise_std: ``(lo, hi)`` std of one offset per column (0 disables stripes).
        prob: probability of applying the transform.
    """
    sensor = 'thermal'

    def __init__(self, gain: Range = (0.8, 1.2), offset: Range = (-0.1, 0.1),
                 noise_std: Range = (0.0, 0.02), column_noise_std: Range = (0.0, 0.0),
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        self.gain = as_range(gain, 'gain', 0.0)
        self.offset = as_range(offset, 'offset', -1.0, 1.0)
        self.noise_std = as_range(noise_std, 'noise_std', 0.0)
        self.column_noise_std = as_range(column_noise_std, 'column_noise_std', 0.0)

    def apply(self, array: np.ndarray) -> np.ndarray:
        out = array * draw(self.gain) + draw(self.offset)
        std = draw(self.noise_std)
        if std > 0:
            out = out + np.random.normal(0.0, std, array.shape)
        col_std = draw(self.column_noise_std)
        if col_std > 0:
            out = out + np.random.normal(0.0, col_std, (1, array.shape[1]))
        return np.clip(out, 0.0, 1.0).astype(np.float32)


@TRANSFORMS.register_module()
class ThermalCrossover(SensorTransform):
    """Collapse ``thermal`` contrast towards its mean (thermal crossover).

    Around dawn and dusk, objects and background pass through the same temperature and a thermal
    image goes nearly flat: ``t' = m + alpha * (t - m)`` with ``m`` the frame mean and a small
    ``alpha``, plus the sensor noise that then dominates the remaining signal.

    Args:
        contrast: ``(lo, hi)`` remaining contrast ``alpha`` (0 = flat frame, 1 = unchanged).
        noise_std: ``(lo, hi)`` std of per-pixel noise added after the collapse.
        prob: probability of applying the transform.
    """
    sensor = 'thermal'

    def __init__(self, contrast: Range = (0.05, 0.3), noise_std: Range = (0.0, 0.01),
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        self.contrast = as_range(contrast, 'contrast', 0.0, 1.0)
        self.noise_std = as_range(noise_std, 'noise_std', 0.0)

    def apply(self, array: np.ndarray) -> np.ndarray:
        mean = float(array.mean())
        out = mean + draw(self.contrast) * (array - mean)
        std = draw(self.noise_std)
        if std > 0:
            out = out + np.random.normal(0.0, std, array.shape)
        return np.clip(out, 0.0, 1.0).astype(np.float32)


__all__ = ['ThermalGainOffsetNoise', 'ThermalCrossover']
