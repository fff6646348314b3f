"""Depth sensor models (DepthDownsample, DepthFlyingPixels, and with them the depth corruptions):
the target is never altered, invalid pixels stay invalid, and each does what it says -- the
low-resolution input is the published protocol's (PIL bicubic down and up, frame cropped to a
multiple of the scale)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from transform_samples import copy_sample, make_sample

from perception.contract import SensorError
from perception.sensors.depth_resolution import fill_holes, low_resolution, multiple_of
from perception.transforms import (DepthDownsample, DepthFlyingPixels, DepthHoles, DepthNoise,
                                   DepthQuantize, Resize)

DEPTH_INPUT_MODELS = [DepthDownsample(4), DepthDownsample(8), DepthDownsample((4, 16)),
                      DepthFlyingPixels(min_jump=0.01, width=2), DepthHoles(),
                      DepthNoise(rel_std=0.02), DepthQuantize(step=0.05)]


def _ramp_sample(h, w, seed):
    """A sample whose depth has holes, edges (steps) and slopes."""
    sample = make_sample(h, w, seed=seed)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    depth = 1.0 + 0.02 * xx + 0.01 * yy + np.where(xx > w * rng.uniform(0.3, 0.7), 1.5, 0.0)
    sample['gt_depth'] = depth.astype(np.float32)
    sample['depth'] = np.where(sample['depth'] > 0, sample['gt_depth'], 0).astype(np.float32)
    return sample


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), which=st.sampled_from(DEPTH_INPUT_MODELS))
def test_target_is_never_altered_and_invalid_stays_invalid(seed, which):
    sample = _ramp_sample(48, 64, seed)
    np.random.seed(seed)
    out = which(copy_sample(sample))
    np.testing.assert_array_equal(out['gt_depth'], sample['gt_depth'])
    for key in ('rgb', 'thermal', 'gt_sem_seg', 'gt_bboxes'):
        np.testing.assert_array_equal(out[key], sample[key])
    depth = out['depth']
    assert depth.dtype == np.float32 and depth.shape == sample['depth'].shape
    assert (depth[sample['depth'] == 0] == 0).all()
    assert np.isfinite(depth).all() and (depth >= 0).all()


@pytest.mark.parametrize('scale', [4, 8, 16])
def test_downsample_is_the_protocols_pil_bicubic_down_and_up(scale):
    """Dense depth: the input equals PIL bicubic down by the scale, then up (DKN/FDSR/DCTNet)."""
    sample = _ramp_sample(64, 96, seed=scale)
    sample['depth'] = sample['gt_depth'].copy()
    out = DepthDownsample(scale)(copy_sample(sample))
    img = Image.fromarray(sample['gt_depth'], mode='F')
    low = img.resize((96 // scale, 64 // scale), Image.BICUBIC)
    expected = np.maximum(np.asarray(low.resize((96, 64), Image.BICUBIC)), 0)
    np.testing.assert_allclose(out['depth'], expected, rtol=0, atol=1e-6)
    assert out['depth_scale'] == scale
    # lower resolution, not the same map: the step edge is blurred over about a scale
    assert np.abs(out['depth'] - sample['gt_depth']).max() > 0.3


def test_downsample_crops_the_frame_to_a_multiple_of_the_scale():
    sample = _ramp_sample(50, 70, seed=1)
    out = DepthDownsample(8)(copy_sample(sample))
    for key in ('rgb', 'thermal', 'depth', 'gt_depth', 'gt_sem_seg'):
        assert out[key].shape[:2] == (48, 64), key
    assert out['img_shape'] == out['ori_shape'] == (48, 64)
    np.testing.assert_array_equal(out['gt_depth'], sample['gt_depth'][:48, :64])
    np.testing.assert_array_equal(out['rgb'], sample['rgb'][:48, :64])
    assert (out['gt_bboxes'][:, 2] <= 64).all() and (out['gt_bboxes'][:, 3] <= 48).all()


def test_downsample_after_a_resize_cannot_crop_and_says_where_it_belongs():
    sample = _ramp_sample(48, 64, seed=2)
    resized = Resize(scale=(70, 50), keep_ratio=False)(copy_sample(sample))
    with pytest.raises(SensorError, match='right after loading'):
        DepthDownsample(8)(resized)


def test_hole_footprints_are_invalid_in_the_input_and_filled_in_the_baseline():
    depth = np.full((32, 32), 2.0, np.float32)
    depth[5, 9] = 0                            # one dead pixel in the low-res pixel (1, 2) at x4
    lr = low_resolution(depth, 4)
    assert lr.low[1, 2] == 0 and (lr.low > 0).sum() == 63
    assert (lr.input[4:8, 8:12] == 0).all() and (lr.input > 0).sum() == 32 * 32 - 16
    np.testing.assert_allclose(lr.baseline, 2.0, atol=1e-5)   # the filled map is flat


def test_all_zero_depth_degrades_to_no_input_without_error():
    sample = _ramp_sample(32, 48, seed=3)
    sample['depth'] = np.zeros_like(sample['depth'])
    out = DepthDownsample(4)(copy_sample(sample))
    assert (out['depth'] == 0).all()
    assert (fill_holes(sample['depth']) == 0).all()
    assert (low_resolution(sample['depth'], 4).baseline == 0).all()


def test_absent_depth_sensor_is_only_cropped():
    sample = make_sample(36, 52, seed=4, sensors=('rgb', 'thermal'))
    out = DepthDownsample(4)(copy_sample(sample))
    assert out['depth'] is None and out['rgb'].shape[:2] == (36, 52)
    assert multiple_of((36, 52), 16) == (32, 48)


@pytest.mark.parametrize('bad', [1, 0, 2.5, True, (), (4, 1)])
def test_bad_scales_are_refused(bad):
    with pytest.raises(ValueError):
        DepthDownsample(bad)


def test_flying_pixels_fly_between_the_surfaces_at_edges_only():
    depth = np.full((20, 30), 1.0, np.float32)
    depth[:, 15:] = 3.0
    depth[0, 0] = 0
    sample = dict(depth=depth.copy(), gt_depth=depth.copy(), img_shape=(20, 30))
    np.random.seed(0)
    out = DepthFlyingPixels(min_jump=0.5, width=2, ratio=1.0)(sample)['depth']
    changed = np.argwhere(out != depth)
    assert len(changed) > 0 and set(changed[:, 1]) <= set(range(13, 17))
    assert ((out[out != depth] > 1.0) & (out[out != depth] < 3.0)).all()
    assert out[0, 0] == 0
    with pytest.raises(ValueError):
        DepthFlyingPixels(width=0)
