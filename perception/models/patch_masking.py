"""Which patches of each sensor the encoders see during masked multi-sensor pretraining (MultiMAE).

Per sample, as MultiMAE samples them (Bachmann et al., ECCV 2022, section 3.2):

* a mask ratio ``r``, uniform in ``mask_ratio`` (a float is a fixed ratio): of the patches of all
  *present* sensors, ``V = round((1 - r) * patches * n_present)`` stay visible (at least one);
* the sensor mix: the present sensors' shares of ``V`` come from a symmetric Dirichlet(``alpha``)
  (small ``alpha``: often one sensor gets nearly all visible patches and the others must be
  predicted from it; ``alpha = 1``: every split equally likely). A share never exceeds the sensor's
  patch count (the excess goes to the other present sensors);
* which patches: uniformly at random within each sensor.

An absent sensor has no visible patch and no masked one: it is neither an input nor a target.

``patchify`` / ``unpatchify`` move between images and per-patch vectors (MAE's layout: row-major
patches, each ``p * p * C`` values in (row, column, channel) order).
"""
from __future__ import annotations

from typing import Sequence, Tuple, Union

import torch
from torch import Tensor

from perception.contract import ConfigError

Ratio = Union[float, Sequence[float]]


def ratio_range(mask_ratio: Ratio) -> Tuple[float, float]:
    """``(low, high)`` of a mask ratio given as one number or a range; both in (0, 1)."""
    low, high = ((float(mask_ratio), ) * 2 if isinstance(mask_ratio, (int, float))
                 else tuple(float(v) for v in mask_ratio))
    if not 0.0 < low <= high < 1.0:
        raise ConfigError(f'mask_ratio {mask_ratio}: expected a ratio or a (low, high) range with '
                          '0 < low <= high < 1 (the share of patches hidden from the encoders)')
    return low, high


def visible_counts(present: Tensor, num_patches: int, ratios: Tensor, alpha: float) -> Tensor:
    """(B, S) long: how many patches of each sensor stay visible.

    Args:
        present: (B, S) bool, the sensors each sample has.
        num_patches: patches per sensor.
        ratios: (B,) mask ratio of each sample.
        alpha: concentration of the symmetric Dirichlet over the present sensors.
    """
    n_present = present.sum(1)
    budget = torch.round((1.0 - ratios) * num_patches * n_present).long().clamp_min(1)
    budget = torch.minimum(budget, n_present * num_patches)
    gamma = torch._standard_gamma(torch.full(present.shape, float(alpha)))
    gamma = torch.where(present, gamma.clamp_min(1e-12), torch.zeros_like(gamma))
    shares = gamma / gamma.sum(1, keepdim=True).clamp_min(1e-12)     # Dirichlet over the present
    counts = torch.zeros(present.shape, dtype=torch.long)
    for b in range(present.shape[0]):
        counts[b] = _split(shares[b], int(budget[b]), num_patches, present[b])
    return counts


def _split(shares: Tensor, total: int, cap: int, present: Tensor) -> Tensor:
    """``total`` as integers proportional to ``shares`` (largest remainders), none above ``cap``;
    what a full sensor cannot take goes to the present sensors with room, largest share first."""
    exact = shares * total
    counts = exact.floor().long()
    order = torch.argsort(exact - counts, descending=True)
    counts[order[:total - int(counts.sum())]] += 1
    counts = counts.clamp(max=cap)
    for s in torch.argsort(shares, descending=True).tolist():
        missing = total - int(counts.sum())
        if missing <= 0:
            break
        if present[s]:
            counts[s] += min(missing, cap - int(counts[s]))
    return counts


def sample_visible_patches(present: Tensor, num_patches: int, mask_ratio: Ratio = (0.6, 0.9),
                           alpha: float = 1.0) -> Tensor:
    """(B, S, num_patches) bool: the patches each sensor shows its encoder (module docstring).

    Draws from torch's global generator (``torch.random.fork_rng`` + ``manual_seed`` for a fixed
    mask). ``present`` (B, S) bool; absent sensors get no visible patch.
    """
    low, high = ratio_range(mask_ratio)
    present = present.bool().cpu()
    ratios = low + (high - low) * torch.rand(present.shape[0])
    counts = visible_counts(present, num_patches, ratios, alpha)
    rank = torch.rand(*present.shape, num_patches).argsort(-1).argsort(-1)
    return rank < counts.unsqueeze(-1)


def patch_grid(size: Tuple[int, int], patch: int) -> Tuple[int, int]:
    """(rows, columns) of ``patch`` x ``patch`` patches tiling an (H, W) image exactly."""
    h, w = int(size[0]), int(size[1])
    if h % patch or w % patch:
        raise ConfigError(f'patch_size {patch} does not tile the {h}x{w} input: give the data '
                          'preprocessor a size_divisor that is a multiple of patch_size')
    return h // patch, w // patch


def patchify(x: Tensor, patch: int) -> Tensor:
    """(B, C, H, W) -> (B, N, patch * patch * C), N patches in row-major order."""
    b, c, h, w = x.shape
    rows, cols = patch_grid((h, w), patch)
    x = x.reshape(b, c, rows, patch, cols, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, rows * cols, patch * patch * c)


def unpatchify(x: Tensor, patch: int, size: Tuple[int, int]) -> Tensor:
    """The inverse of ``patchify``: (B, N, patch * patch * C) -> (B, C, H, W)."""
    rows, cols = patch_grid(size, patch)
    b, _, d = x.shape
    c = d // (patch * patch)
    x = x.reshape(b, rows, cols, patch, patch, c)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, rows * patch, cols * patch)


def patches_to_pixels(patches: Tensor, patch: int, size: Tuple[int, int]) -> Tensor:
    """(B, S, N) per-patch values -> (B, S, H, W): each patch's value on its pixels."""
    rows, cols = patch_grid(size, patch)
    grid = patches.reshape(*patches.shape[:2], rows, cols)
    return grid.repeat_interleave(patch, -2).repeat_interleave(patch, -1)
