"""Cheap procedural noise: smooth random fields for textures, and sensor noise.

Speed matters here (the generator feeds training on the fly): a smooth field is a coarse Gaussian
grid upsampled bicubically to quarter size and bilinearly to full size (a full-size bicubic resize
costs 8x more and looks the same after the second step), and white sensor noise is read from a fixed
bank of Gaussian samples at a random offset instead of being drawn per pixel (drawing 250k normals
costs about 1 ms, a slice costs nothing). Both stay deterministic in the caller's generator.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

_BANK_SEED = 0x5EED
_bank = np.empty(0, np.float32)


def _gaussian_bank(n: int) -> np.ndarray:
    global _bank
    if _bank.size < 2 * n:
        size = max(1 << 21, 4 * n)
        _bank = np.random.default_rng(_BANK_SEED).standard_normal(size, dtype=np.float32)
    return _bank


def white_noise(rng: np.random.Generator, shape: Tuple[int, ...]) -> np.ndarray:
    """Unit Gaussian noise of ``shape`` (a read-only view: multiply it, do not write to it).

    A random offset and a random sign pick the window, so consecutive samples see unrelated noise.
    """
    n = int(np.prod(shape))
    bank = _gaussian_bank(n)
    off = int(rng.integers(0, bank.size - n))
    view = bank[off:off + n].reshape(shape)
    return view if rng.random() < 0.5 else -view


def smooth_noise(rng: np.random.Generator, shape: Tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, roughly unit-variance noise of ``shape`` with features ``cell`` pixels wide."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 1), max(2, int(np.ceil(w / cell)) + 1)
    if cell < 2:   # grain: white noise softened to the requested size
        sigma = max(cell / 2, 0.3)
        return cv2.GaussianBlur(np.ascontiguousarray(white_noise(rng, shape)), (3, 3), sigma) * 1.5
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    if cell >= 4 and h >= 32 and w >= 32:
        grid = cv2.resize(grid, (w // 4, h // 4), interpolation=cv2.INTER_CUBIC)
        return cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


_TILES: dict = {}


def periodic_tile(rng: np.random.Generator, size: int = 256, cell: float = 6.0,
                  variants: int = 8) -> np.ndarray:
    """A seamless (wrap-around) smooth noise tile for world-space ground texture.

    Tiles are low-pass filtered white noise made periodic by construction (in the Fourier domain);
    a few are built once per process and each call returns one of them, randomly flipped and
    transposed (the filtering costs milliseconds, the choice nothing).
    """
    key = (size, cell)
    if key not in _TILES:
        gen = np.random.default_rng(_BANK_SEED + 1)
        f = np.fft.fftfreq(size)
        lowpass = np.exp(-(f[:, None] ** 2 + f[None, :] ** 2) * (np.pi * cell) ** 2 / 2)
        tiles = []
        for _ in range(variants):
            t = np.fft.ifft2(np.fft.fft2(gen.standard_normal((size, size))) * lowpass).real
            tiles.append(((t - t.mean()) / t.std()).astype(np.float32))
        _TILES[key] = tiles
    tile = _TILES[key][int(rng.integers(variants))]
    flip = int(rng.integers(8))
    if flip & 1:
        tile = tile[::-1]
    if flip & 2:
        tile = tile[:, ::-1]
    if flip & 4:
        tile = tile.T
    return np.ascontiguousarray(tile)


def fractal_noise(rng: np.random.Generator, shape: Tuple[int, int],
                  cells: Sequence[float] = (32.0, 8.0, 2.0),
                  weights: Sequence[float] = (0.6, 0.3, 0.1)) -> np.ndarray:
    """Sum of smooth noises at several scales (coarse blotches plus fine grain)."""
    out = np.zeros(shape, np.float32)
    for cell, weight in zip(cells, weights):
        out += np.float32(weight) * smooth_noise(rng, shape, cell)
    return out


def noisy_ellipse(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float,
                  n: int = 20, roughness: float = 0.15) -> np.ndarray:
    """(n, 2) polygon of an ellipse with a ragged outline (tree crowns, bushes, rocks)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1 + roughness * rng.uniform(-1, 1, n)
    return np.stack([cx + rx * r * np.cos(ang), cy + ry * r * np.sin(ang)], axis=1)
