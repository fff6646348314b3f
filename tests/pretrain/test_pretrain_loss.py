"""The masked-reconstruction loss (perception.models.losses.masked_reconstruction): only the hidden
patches count, each target patch is normalised by its own mean and spread, invalid depth is
ignored."""
import pytest
import torch

from perception.models.losses import masked_patch_loss
from perception.models.patch_masking import patches_to_pixels

P, SIZE = 8, (32, 40)            # 4 x 5 = 20 patches


@pytest.fixture
def case():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(2, 3, *SIZE, generator=g)
    target = torch.randn(2, 3, *SIZE, generator=g) * 3 + 1
    counted = torch.rand(2, 20, generator=g) < 0.5
    valid = torch.ones(2, 1, *SIZE, dtype=torch.bool)
    return pred, target, counted, valid


def pixels(counted):
    return patches_to_pixels(counted.unsqueeze(1), P, SIZE)   # (B, 1, H, W)


def test_only_hidden_patches_count(case):
    pred, target, counted, valid = case
    loss = masked_patch_loss(pred, target, counted, valid, P)
    hidden = pixels(counted).expand_as(target)
    noise = torch.randn_like(target) * 5
    # a visible patch's target or prediction changes nothing
    assert masked_patch_loss(pred, torch.where(hidden, target, target + noise), counted, valid,
                             P) == loss
    assert masked_patch_loss(torch.where(hidden, pred, noise), target, counted, valid, P) == loss
    # a hidden patch's does
    assert masked_patch_loss(pred, torch.where(hidden, target + noise, target), counted, valid,
                             P) != loss


def test_targets_are_normalised_per_patch(case):
    pred, target, counted, valid = case
    loss = masked_patch_loss(pred, target, counted, valid, P)
    g = torch.Generator().manual_seed(1)
    scale = patches_to_pixels(torch.rand(2, 1, 20, generator=g) * 10 + 0.1, P, SIZE)
    shift = patches_to_pixels(torch.randn(2, 1, 20, generator=g) * 100, P, SIZE)
    assert masked_patch_loss(pred, target * scale + shift, counted, valid, P) == \
        pytest.approx(float(loss), rel=1e-4)
    # predicting every patch's own mean (0 in normalised units) scores 1
    assert masked_patch_loss(torch.zeros_like(pred), target, counted, valid, P) == \
        pytest.approx(1.0, rel=1e-4)


def test_invalid_depth_pixels_count_for_nothing():
    g = torch.Generator().manual_seed(2)
    pred, target = torch.randn(1, 1, *SIZE, generator=g), torch.rand(1, 1, *SIZE, generator=g) + 1
    valid = torch.rand(1, 1, *SIZE, generator=g) > 0.3
    counted = torch.ones(1, 20, dtype=torch.bool)
    loss = masked_patch_loss(pred, target, counted, valid, P)
    holes = torch.where(valid, target, torch.full_like(target, float('nan')))
    moved = torch.where(valid, pred, pred + 7)
    assert torch.isfinite(loss)
    assert masked_patch_loss(moved, holes, counted, valid, P) == pytest.approx(float(loss))
    # a patch without a valid pixel is out of the loss; the rest unchanged
    valid[..., :P, :P] = False
    assert torch.isfinite(masked_patch_loss(pred, holes, counted, valid, P))


def test_nothing_hidden_is_a_connected_zero(case):
    pred, target, _, valid = case
    pred.requires_grad_(True)
    loss = masked_patch_loss(pred, target, torch.zeros(2, 20, dtype=torch.bool), valid, P)
    loss.backward()
    assert float(loss.detach()) == 0.0 and pred.grad is not None and not pred.grad.any()
