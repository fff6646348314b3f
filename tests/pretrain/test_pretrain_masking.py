"""Which patches the encoders see (perception.models.patch_masking): the per-sample mask ratio, the
Dirichlet sensor mix of MultiMAE, and an absent sensor that is never visible."""
import pytest
import torch

from perception.contract import ConfigError
from perception.models.patch_masking import (patch_grid, patches_to_pixels, patchify,
                                             sample_visible_patches, unpatchify)

PATCHES = 100


def shares_of(visible, present):
    """Per sample: the visible share of the present sensors' patches; per sensor: its share of
    the sample's visible patches."""
    counts = visible.sum(-1).float()                   # (B, S)
    total = counts.sum(1)
    return total / (present.sum(1) * visible.shape[-1]), counts / total.unsqueeze(1)


def test_the_visible_share_follows_a_per_sample_uniform_mask_ratio():
    torch.manual_seed(0)
    present = torch.ones(4000, 3, dtype=torch.bool)
    visible, _ = shares_of(sample_visible_patches(present, PATCHES, (0.6, 0.9), 1.0), present)
    step = 1 / (3 * PATCHES)                          # one patch of rounding
    assert visible.min() >= 0.1 - step and visible.max() <= 0.4 + step
    assert visible.mean() == pytest.approx(0.25, abs=0.005)
    # drawn per sample, uniformly over the range: each third of it holds a third of the samples
    thirds = torch.histc(visible, bins=3, min=0.1 - step, max=0.4 + step) / len(visible)
    assert torch.allclose(thirds, torch.full((3, ), 1 / 3), atol=0.03)


def test_a_fixed_ratio_leaves_exactly_its_share_visible():
    torch.manual_seed(1)
    present = torch.tensor([[True, True, False]] * 50)
    visible = sample_visible_patches(present, PATCHES, 0.75, 1.0)
    assert (visible.sum((1, 2)) == 50).all()          # round((1 - 0.75) * 100 * 2)


@pytest.mark.parametrize('alpha', [1.0, 0.2])
def test_the_sensor_mix_is_a_symmetric_dirichlet(alpha):
    """Shares of the visible patches per sensor: mean 1/S, variance (1/S)(1 - 1/S)/(S alpha + 1)
    -- the Dirichlet's (ratio 0.9 keeps every share below the cap of one sensor's patches)."""
    torch.manual_seed(2)
    present = torch.ones(6000, 3, dtype=torch.bool)
    _, mix = shares_of(sample_visible_patches(present, PATCHES, 0.9, alpha), present)
    expected_var = (1 / 3) * (2 / 3) / (3 * alpha + 1)
    assert torch.allclose(mix.mean(0), torch.full((3, ), 1 / 3), atol=0.01)
    assert torch.allclose(mix.var(0), torch.full((3, ), expected_var), rtol=0.08)


def test_an_absent_sensor_is_never_visible_and_every_frame_shows_something():
    torch.manual_seed(3)
    present = torch.rand(2000, 3) < 0.5
    present[present.sum(1) == 0, 1] = True            # a frame has at least one sensor
    visible = sample_visible_patches(present, PATCHES, (0.6, 0.99), 0.3)
    assert not visible[~present].any()
    assert (visible.sum((1, 2)) >= 1).all()
    share, _ = shares_of(visible, present)
    assert share.max() <= 0.4 + 1 / PATCHES            # budget over the present sensors only


def test_a_sensor_full_of_visible_patches_passes_the_rest_on():
    """Low ratio, tiny alpha: the budget exceeds one sensor's patches; the excess goes to the
    other present sensors, the total stays the budget."""
    torch.manual_seed(4)
    present = torch.ones(500, 3, dtype=torch.bool)
    visible = sample_visible_patches(present, 10, 0.5, 0.05)       # budget 15 of 30
    counts = visible.sum(-1)
    assert counts.max() == 10 and (counts.sum(1) == 15).all()


def test_patches_and_pixels():
    x = torch.randn(2, 3, 32, 48)
    patches = patchify(x, 16)
    assert patches.shape == (2, 6, 16 * 16 * 3)
    assert torch.equal(patches[0, 1], x[0, :, :16, 16:32].permute(1, 2, 0).reshape(-1))
    assert torch.equal(unpatchify(patches, 16, (32, 48)), x)
    per_patch = torch.arange(6).view(1, 1, 6)
    pixels = patches_to_pixels(per_patch, 16, (32, 48))
    assert pixels[0, 0, 20, 40] == 5 and pixels[0, 0, 0, 17] == 1
    with pytest.raises(ConfigError, match='size_divisor'):
        patch_grid((40, 48), 16)


def test_mask_ratio_outside_zero_one_is_refused():
    with pytest.raises(ConfigError, match='mask_ratio'):
        sample_visible_patches(torch.ones(1, 2, dtype=torch.bool), 4, (0.5, 1.0))
