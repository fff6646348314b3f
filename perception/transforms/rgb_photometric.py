"""Photometric transforms of the RGB camera: colour jitter and a low-light (night) simulation.

Both run albumentations ops on ``rgb`` only. albumentations draws from its own generators, so each
call reseeds the ops from numpy's global RNG: a pipeline seeded through numpy (mmengine's
``randomness.seed``) replays exactly.
"""
from __future__ import annotations

from typing import Sequence

import albumentations as A
import numpy as np

from perception.registry import TRANSFORMS

from .sensor_transform import Range, SensorTransform, as_range


def _run_seeded(ops: A.Compose, image: np.ndarray) -> np.ndarray:
    ops.set_random_seed(int(np.random.randint(0, 2**31 - 1)))
    return ops(image=image)['image']


@TRANSFORMS.register_module()
class RGBColorJitter(SensorTransform):
    """Random brightness, contrast, saturation and hue of ``rgb`` (torchvision semantics).

    Args:
        brightness, contrast, saturation: ``f`` means factors in ``[1 - f, 1 + f]``; or ``(lo, hi)``.
        hue: ``h`` means a hue shift in ``[-h, h]`` (fraction of the colour circle, <= 0.5).
        prob: probability of applying the jitter.
    """
    sensor = 'rgb'

    def __init__(self, brightness: Range = 0.3, contrast: Range = 0.3, saturation: Range = 0.3,
                 hue: Range = 0.05, prob: float = 1.0) -> None:
        super().__init__(prob)
        self.brightness, self.contrast = brightness, contrast
        self.saturation, self.hue = saturation, hue
        self._ops = A.Compose([A.ColorJitter(brightness=brightness, contrast=contrast,
                                             saturation=saturation, hue=hue, p=1.0)])

    def apply(self, array: np.ndarray) -> np.ndarray:
        return _run_seeded(self._ops, array)


@TRANSFORMS.register_module()
class LowLightSimulation(SensorTransform):
    """Turn a day ``rgb`` frame into a plausible night frame of the same scene.

    In order: a gamma curve (``gamma`` > 1 crushes the shadows first, as a camera's tone curve
    does at low exposure), an exposure factor (fewer photons overall), Poisson shot noise whose
    strength ``shot_noise`` is 1 / (photons at full white) -- few photons make it grainy -- and
    Gaussian read noise (``read_noise`` std as a fraction of full scale). The result stays uint8.

    Args:
        gamma: ``(lo, hi)`` gamma exponent, >= 1 darkens.
        exposure: ``(lo, hi)`` multiplicative exposure, <= 1 darkens.
        shot_noise: ``(lo, hi)`` reciprocal photon count at white (0.01 mild .. 1 very grainy).
        read_noise: ``(lo, hi)`` std of the sensor read noise, fraction of 255.
        prob: probability of applying the simulation.
    """
    sensor = 'rgb'

    def __init__(self, gamma: Sequence[float] = (1.5, 3.0), exposure: Sequence[float] = (0.2, 0.6),
                 shot_noise: Sequence[float] = (0.01, 0.1), read_noise: Sequence[float] = (0.0, 0.02),
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        self.gamma = as_range(gamma, 'gamma', 0.1, 10.0)
        self.exposure = as_range(exposure, 'exposure', 0.0, 1.0)
        self.shot_noise = as_range(shot_noise, 'shot_noise', 0.0)
        self.read_noise = as_range(read_noise, 'read_noise', 0.0, 1.0)
        self._ops = A.Compose([
            A.RandomGamma(gamma_limit=(self.gamma[0] * 100, self.gamma[1] * 100), p=1.0),
            A.MultiplicativeNoise(multiplier=self.exposure, per_channel=False, elementwise=False,
                                  p=1.0),
            A.ShotNoise(scale_range=self.shot_noise, p=1.0),
            A.GaussNoise(std_range=self.read_noise, p=1.0),
        ])

    def apply(self, array: np.ndarray) -> np.ndarray:
        return _run_seeded(self._ops, array)


__all__ = ['RGBColorJitter', 'LowLightSimulation']
