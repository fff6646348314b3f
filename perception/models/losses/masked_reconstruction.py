"""The masked-reconstruction loss of multi-sensor pretraining (MAE's ``norm_pix_loss``).

For one sensor: the prediction and the target (the sensor in the network's normalised input space)
are cut into patches; each target patch is normalised by its own mean and standard deviation over
its *valid* pixels (MAE: "normalized pixels as targets", which sharpens what is learnt), and the
squared error is averaged over the valid pixels of the patches that count -- the *masked* patches of
a sample where the sensor is present. A visible patch, an absent sensor, padding and invalid depth
(0 / NaN in the input) add nothing.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..patch_masking import patchify

#: keeps the division finite on a flat patch (MAE's epsilon)
EPS = 1e-6


class PatchTargets(NamedTuple):
    values: Tensor   # (B, N, D) target patches, each normalised over its valid pixels
    valid: Tensor    # (B, N, D) float 0/1: the pixel counts
    mean: Tensor     # (B, N, 1) patch mean over its valid pixels (to undo the normalisation)
    std: Tensor      # (B, N, 1)


def normalised_patches(target: Tensor, valid: Tensor, patch: int) -> PatchTargets:
    """Per-patch normalised targets.

    Args:
        target: (B, C, H, W) the sensor's input (invalid pixels may hold anything, even NaN).
        valid: (B, 1, H, W) or (B, C, H, W) bool, the pixels that count.
        patch: patch side in pixels.
    """
    valid = valid.expand_as(target)
    v = patchify(valid.float(), patch)
    t = patchify(torch.where(valid, target, torch.zeros_like(target)), patch)
    n = v.sum(-1, keepdim=True).clamp_min(1.0)
    mean = (t * v).sum(-1, keepdim=True) / n
    var = (((t - mean) * v) ** 2).sum(-1, keepdim=True) / n
    std = torch.sqrt(var + EPS)
    return PatchTargets((t - mean) / std * v, v, mean, std)


def masked_patch_loss(pred: Tensor, target: Tensor, counted: Tensor, valid: Tensor,
                      patch: int) -> Tensor:
    """Mean squared error of ``pred`` against the per-patch normalised ``target`` over the valid
    pixels of the ``counted`` patches; a graph-connected 0 when none counts.

    Args:
        pred: (B, C, H, W) the decoder's output, in normalised-patch units.
        target: (B, C, H, W) the sensor's input.
        counted: (B, N) bool, the patches in the loss (masked patches of present sensors).
        valid: (B, 1, H, W) bool, the pixels that count.
        patch: patch side in pixels.
    """
    targets = normalised_patches(target.float(), valid, patch)
    error = ((patchify(pred.float(), patch) - targets.values) ** 2 * targets.valid).sum(-1)
    pixels = targets.valid.sum(-1) * counted
    return (error * counted).sum() / pixels.sum().clamp_min(1.0)
