"""Photometric transforms change their own sensor only, keep its dtype/range, and are seedable."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transform_samples import copy_sample, make_sample

from perception.transforms import (DepthHoles, DepthNoise, DepthQuantize, LowLightSimulation,
                                   RGBColorJitter, ThermalCrossover, ThermalGainOffsetNoise)

TRANSFORMS = {
    'rgb': [RGBColorJitter(), LowLightSimulation()],
    'thermal': [ThermalGainOffsetNoise(column_noise_std=(0.0, 0.02)), ThermalCrossover()],
    'depth': [DepthHoles(), DepthNoise(rel_std=0.02, quadratic_std=0.002),
              DepthQuantize(step=(0.02, 0.1))],
}
ALL = [(sensor, t) for sensor, ts in TRANSFORMS.items() for t in ts]
IDS = [type(t).__name__ for _, t in ALL]


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize('sensor,transform', ALL, ids=IDS)
def test_changes_only_its_own_sensor(sensor, transform):
    sample = make_sample(32, 40, seed=1)
    np.random.seed(0)
    out = transform(copy_sample(sample))
    assert set(out) == set(sample)
    for key in sample:
        if key != sensor:
            assert _equal(out[key], sample[key]), key
    assert not np.array_equal(out[sensor], sample[sensor])
    assert out[sensor].dtype == sample[sensor].dtype and out[sensor].shape == sample[sensor].shape


@pytest.mark.parametrize('sensor,transform', ALL, ids=IDS)
def test_missing_sensor_stays_missing(sensor, transform):
    sample = make_sample(24, 24, seed=2, sensors=tuple(s for s in TRANSFORMS if s != sensor))
    out = transform(copy_sample(sample))
    assert out[sensor] is None and not out['modality_mask'][list(TRANSFORMS).index(sensor)]


@pytest.mark.parametrize('sensor,transform', ALL, ids=IDS)
def test_seedable_through_numpy(sensor, transform):
    sample = make_sample(24, 32, seed=3)
    results = []
    for seed in (5, 5, 6):
        np.random.seed(seed)
        results.append(transform(copy_sample(sample))[sensor])
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), which=st.sampled_from(TRANSFORMS['depth']))
def test_depth_corruption_never_creates_depth_where_there_was_none(seed, which):
    sample = make_sample(24, 32, seed=seed)
    src = sample['depth'].copy()
    np.random.seed(seed)
    out = which(copy_sample(sample))['depth']
    assert (out[src == 0] == 0).all()
    assert (out >= 0).all() and np.isfinite(out).all()


def test_depth_corruptions_do_what_they_say():
    sample = make_sample(40, 48, seed=4)
    src = sample['depth']
    np.random.seed(1)
    holes = DepthHoles(num_holes=(3, 3), hole_size=(0.1, 0.2))(copy_sample(sample))['depth']
    assert ((holes == src) | (holes == 0)).all() and (holes == 0).sum() > (src == 0).sum()
    quant = DepthQuantize(step=0.25)(copy_sample(sample))['depth']
    steps = quant[src > 0] / 0.25
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
    assert np.abs(quant[src > 0] - src[src > 0]).max() <= 0.125 + 1e-5
    noisy = DepthNoise(rel_std=0.05, abs_std=0.0)(copy_sample(sample))['depth']
    rel = (noisy[src > 0] - src[src > 0]) / src[src > 0]
    assert 0.03 < rel.std() < 0.07 and abs(rel.mean()) < 0.01


def test_rgb_low_light_darkens_and_jitter_keeps_uint8():
    rgb = np.full((32, 32, 3), 160, np.uint8)
    rgb[:, 16:] = (40, 200, 90)
    sample = dict(rgb=rgb, img_shape=(32, 32), modality_mask=np.array([1, 0, 0], bool))
    np.random.seed(0)
    dark = LowLightSimulation()(copy_sample(sample))['rgb']
    assert dark.dtype == np.uint8 and dark.mean() < 0.7 * rgb.mean()
    assert dark[:, :16].std() > 0  # noise appeared on the flat half
    jitter = RGBColorJitter(brightness=0.5, contrast=0.0, saturation=0.0, hue=0.0)
    out = jitter(copy_sample(sample))['rgb'].astype(float)
    ratio = out[:, :16].mean() / 160
    assert 0.5 <= ratio <= 1.5 and ratio != 1.0


def test_thermal_ops_keep_range_and_crossover_collapses_contrast():
    sample = make_sample(32, 32, seed=5)
    src = sample['thermal']
    np.random.seed(2)
    flat = ThermalCrossover(contrast=(0.1, 0.1), noise_std=0.0)(copy_sample(sample))['thermal']
    assert flat.std() == pytest.approx(0.1 * src.std(), rel=1e-3)
    assert flat.mean() == pytest.approx(src.mean(), abs=1e-4)
    out = ThermalGainOffsetNoise(gain=(2.0, 2.0), offset=(0.2, 0.2))(copy_sample(sample))['thermal']
    assert out.min() >= 0.0 and out.max() <= 1.0 and (out == 1.0).any()


def test_prob_zero_is_identity_and_bad_ranges_are_rejected():
    sample = make_sample(16, 16, seed=6)
    out = ThermalCrossover(prob=0.0)(copy_sample(sample))
    np.testing.assert_array_equal(out['thermal'], sample['thermal'])
    with pytest.raises(ValueError):
        DepthQuantize(step=0.0)
    with pytest.raises(ValueError):
        LowLightSimulation(exposure=(0.5, 2.0))
