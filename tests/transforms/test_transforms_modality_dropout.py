"""ModalityDropout: configured rates, never all sensors gone, never a sensor added."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transform_samples import copy_sample, make_sample

from perception.contract import SENSORS
from perception.transforms import ModalityDropout

N = 3000


def _dropped_patterns(transform, sample, n=N, seed=0):
    np.random.seed(seed)
    counts = {}
    for _ in range(n):
        out = transform(copy_sample(sample))
        key = tuple(s for s in SENSORS if sample[s] is not None and out[s] is None)
        counts[key] = counts.get(key, 0) + 1
    return {k: v / n for k, v in counts.items()}


def _close(freq, p, n=N):
    return abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-9


def test_independent_probabilities_conditioned_on_keeping_one():
    probs = {'rgb': 0.5, 'thermal': 0.4, 'depth': 0.6}
    freqs = _dropped_patterns(ModalityDropout(drop_probs=probs), make_sample(8, 8))
    # expected: the product distribution over drop patterns, without "all dropped", renormalised
    expected = {}
    for pattern in itertools.product((False, True), repeat=3):
        if not all(pattern):
            weight = np.prod([probs[s] if d else 1 - probs[s] for s, d in zip(SENSORS, pattern)])
            expected[tuple(s for s, d in zip(SENSORS, pattern) if d)] = weight
    total = sum(expected.values())
    assert set(freqs) <= set(expected)
    for pattern, weight in expected.items():
        assert _close(freqs.get(pattern, 0.0), weight / total), (pattern, freqs)


def test_subset_probabilities():
    t = ModalityDropout(drop_subsets={'rgb': 0.2, 'rgb+thermal': 0.1, ('depth', ): 0.15})
    freqs = _dropped_patterns(t, make_sample(8, 8))
    assert set(freqs) == {(), ('rgb', ), ('rgb', 'thermal'), ('depth', )}
    for pattern, p in {('rgb', ): 0.2, ('rgb', 'thermal'): 0.1, ('depth', ): 0.15, (): 0.55}.items():
        assert _close(freqs[pattern], p), (pattern, freqs)


def test_subset_covering_all_present_sensors_is_skipped():
    t = ModalityDropout(drop_subsets=[(('rgb', 'thermal'), 1.0)])
    sample = make_sample(8, 8, sensors=('rgb', 'thermal'))
    out = t(copy_sample(sample))
    assert out['rgb'] is not None and out['thermal'] is not None
    out = t(make_sample(8, 8))
    assert out['rgb'] is None and out['thermal'] is None and out['depth'] is not None


@settings(max_examples=30, deadline=None, derandomize=True)
@given(present=st.lists(st.sampled_from(SENSORS), min_size=1, max_size=3, unique=True),
       probs=st.fixed_dictionaries({s: st.floats(0.0, 1.0) for s in SENSORS}),
       subset_p=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_never_all_absent_never_added(present, probs, subset_p, seed):
    t = ModalityDropout(drop_probs=probs, drop_subsets={'rgb+depth': subset_p})
    sample = make_sample(8, 8, sensors=tuple(present))
    np.random.seed(seed)
    for _ in range(20):
        out = t(copy_sample(sample))
        mask = out['modality_mask']
        assert mask.dtype == bool and mask.any()
        for i, s in enumerate(SENSORS):
            assert mask[i] == (out[s] is not None)
            if sample[s] is None:
                assert out[s] is None
            elif out[s] is not None:
                np.testing.assert_array_equal(out[s], sample[s])  # kept ones untouched
        np.testing.assert_array_equal(out['gt_depth'], sample['gt_depth'])
        np.testing.assert_array_equal(out['gt_bboxes'], sample['gt_bboxes'])


def test_seeded_and_validated():
    t = ModalityDropout(drop_probs={'rgb': 0.5, 'thermal': 0.5})
    runs = []
    for _ in range(2):
        np.random.seed(3)
        runs.append([tuple(t(make_sample(4, 4))['modality_mask']) for _ in range(30)])
    assert runs[0] == runs[1] and len(set(runs[0])) > 1
    with pytest.raises(ValueError):
        ModalityDropout(drop_probs={'lidar': 0.1})
    with pytest.raises(ValueError):
        ModalityDropout(drop_subsets={'rgb': 0.7, 'thermal': 0.6})
    with pytest.raises(ValueError):
        ModalityDropout(drop_subsets={'rgb+sonar': 0.1})


def test_keep_sensors_keeps_exactly_the_subset():
    from perception.contract import SensorError
    from perception.transforms import KeepSensors
    from transform_samples import make_sample
    out = KeepSensors('rgb+depth')(make_sample())
    assert out['thermal'] is None and out['rgb'] is not None and out['depth'] is not None
    assert out['modality_mask'].tolist() == [True, False, True]
    sample = make_sample()
    sample['thermal'] = None
    sample['modality_mask'] = np.array([True, False, True])
    with pytest.raises(SensorError, match='thermal'):
        KeepSensors(['thermal'])(sample)
