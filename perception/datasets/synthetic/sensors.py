"""Sensor models: the RGB camera, the thermal camera and the depth sensor, each reading the
G-buffer.

Each sensor sees only the physical quantity it measures -- RGB: reflected light (albedo x lighting),
thermal: apparent temperature, depth: geometry and material -- so a condition that changes one
quantity changes only the sensors that measure it. Sensor noise comes from the sensor's own
generator, so rendering one scene twice with different conditions gives identical noise wherever the
condition does not act.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import cv2
import numpy as np

from .classes import SKY
from .noise import white_noise
from .render import GBuffer
from .scene import LAMP, LIT, Lighting

# --- RGB ------------------------------------------------------------------------------------------
AE_TARGET = 0.18          # auto-exposure brings the median luminance here (linear)
READ_NOISE = 0.004        # linear units at unit gain; amplified by the gain
SHOT_NOISE = 0.0004       # variance per unit of signal
LAMP_RADIANCE = 2.5       # vehicle lights (saturate)
WINDOW_RADIANCE = (0.5, 0.38, 0.2)    # lit windows at night (warm light)


@lru_cache(maxsize=8)
def _vignette(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((x - w / 2) ** 2 + (y - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    return (1 - 0.25 * r2).astype(np.float32)


def radiance(g: GBuffer, lighting: Lighting) -> np.ndarray:
    """Linear scene radiance, planar (3, H, W): lit surfaces, sky with clouds, lamps at night."""
    amb = np.asarray(lighting.ambient_rgb, np.float32)[:, None, None]
    sun = np.asarray(lighting.sun_rgb, np.float32)[:, None, None]
    rad = g.shade[None] * sun
    rad += amb
    rad *= g.albedo
    sky = g.label == SKY
    rows = np.flatnonzero(sky.any(axis=1))
    if rows.size:
        last = int(rows[-1]) + 1   # only rows that contain sky
        frac = np.linspace(0, 1, g.label.shape[0], dtype=np.float32)[None, :last, None] ** 0.7
        zen = np.asarray(lighting.sky_zenith, np.float32)[:, None, None]
        hor = np.asarray(lighting.sky_horizon, np.float32)[:, None, None]
        c = g.cloud[None, :last]
        sky_rad = (zen + (hor - zen) * frac) * (1 - c) + (amb + 0.5 * sun) * np.float32(1.1) * c
        np.copyto(rad[:, :last], sky_rad, where=sky[None, :last])
    if lighting.lamp_level > 0:
        lamp = (g.flags & LAMP) > 0
        lit = (g.flags & LIT) > 0
        lamp_power = np.float32(LAMP_RADIANCE * lighting.lamp_level)
        for ch in range(3):
            rad[ch][lamp] += lamp_power * np.maximum(g.albedo[ch][lamp], 0.3)
            rad[ch][lit] += np.float32(WINDOW_RADIANCE[ch] * lighting.lamp_level)
    return rad


def expose(rad: np.ndarray, lighting: Lighting, rng: np.random.Generator) -> np.ndarray:
    """Auto-exposure (capped gain), shot + read noise, vignetting, gamma 2 -> uint8 (H, W, 3)."""
    gain = float(np.clip(AE_TARGET / max(float(np.median(rad[:, ::4, ::4].mean(axis=0))), 1e-6),
                         0.1, lighting.max_gain))
    signal = rad * (_vignette(*rad.shape[1:]) * np.float32(gain))
    # Noise level from the pixel's mean signal (one square root per pixel, not per channel).
    level = (signal[0] + signal[1] + signal[2]) * np.float32(1 / 3)
    np.maximum(level, 0, out=level)
    sigma = np.sqrt(np.float32(SHOT_NOISE) * level + np.float32((READ_NOISE * gain) ** 2))
    signal += sigma * white_noise(rng, signal.shape)
    # Gamma 2 (a square root) is close to the sRGB curve and far cheaper than a power.
    np.clip(signal, 0, 1, out=signal)
    np.sqrt(signal, out=signal)
    signal *= np.float32(255)
    signal += np.float32(0.5)
    return cv2.merge([p.astype(np.uint8) for p in signal])


# --- thermal --------------------------------------------------------------------------------------
T_MIN, T_MAX = -25.0, 55.0   # deg C mapped linearly to [0, 1] (a radiometric, "T-linear" camera)
NETD = 0.06                  # K, temporal noise
COLUMN_NOISE = 0.08          # K, fixed-pattern column offsets of microbolometers


def thermal_image(temperature: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apparent temperature -> relative intensity in [0, 1]: optics blur, NETD and column noise."""
    t = cv2.GaussianBlur(temperature, (5, 5), 0.9)   # thermal optics resolve less than the RGB lens
    h, w = t.shape
    noise = white_noise(rng, (h + 1, w))
    t = t + np.float32(NETD) * noise[:h] + np.float32(COLUMN_NOISE) * noise[h:]
    return np.clip((t - np.float32(T_MIN)) / np.float32(T_MAX - T_MIN), 0, 1)


# --- depth ----------------------------------------------------------------------------------------
MIN_RANGE, MAX_RANGE = 0.3, 25.0   # m: an outdoor stereo / ToF module
NOISE_BASE, NOISE_QUAD = 0.004, 0.0015   # sigma = base + quad * z^2 (stereo-like growth)
EDGE_JUMP = 0.06                   # relative depth jump treated as an occlusion edge


def depth_reading(depth: np.ndarray, rng: np.random.Generator,
                  max_range: Optional[float] = None) -> np.ndarray:
    """Clean camera depth (inf = sky) -> sensor depth in metres, 0 where the sensor has no return.

    Invalid: out of range, and a one-pixel band at occlusion edges (stereo shadows / mixed pixels).
    """
    far = MAX_RANGE if max_range is None else max_range
    z = np.where(np.isfinite(depth), depth, np.float32(1e3)).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    lo, hi = cv2.erode(z, kernel), cv2.dilate(z, kernel)
    edge = (hi - lo) > np.float32(EDGE_JUMP) * lo
    sigma = np.float32(NOISE_BASE) + np.float32(NOISE_QUAD) * z * z
    noisy = z + sigma * white_noise(rng, z.shape)
    valid = (z >= MIN_RANGE) & (z <= far) & ~edge
    return np.where(valid, noisy, np.float32(0)).astype(np.float32)


def clean_depth(depth: np.ndarray, max_depth: float) -> np.ndarray:
    """Ground-truth depth: geometry depth, 0 for sky and beyond what the storage can hold."""
    keep = np.isfinite(depth) & (depth <= max_depth)
    return np.where(keep, depth, np.float32(0)).astype(np.float32)

