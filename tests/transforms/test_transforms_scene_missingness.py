"""ConditionMissingness: the drop probability follows the scene condition; never all sensors gone."""
import numpy as np
import pytest
from transform_samples import copy_sample, make_sample

from perception.transforms import ConditionMissingness


def _sample(condition):
    s = make_sample(8, 8)
    s['condition'] = condition
    return s


def test_deterministic_rules_follow_the_condition():
    t = ConditionMissingness({'day': {'thermal': 1.0}, 'fog': {'depth': 1.0, 'rgb': 0.0}})
    day = t(copy_sample(_sample('day')))
    assert day['thermal'] is None and day['rgb'] is not None and day['depth'] is not None
    assert day['modality_mask'].tolist() == [True, False, True]
    fog = t(copy_sample(_sample('fog')))
    assert fog['depth'] is None and fog['rgb'] is not None
    night = t(copy_sample(_sample('night')))       # no rule: untouched
    assert night['modality_mask'].tolist() == [True, True, True]


def test_rate_matches_the_probability():
    np.random.seed(0)
    t = ConditionMissingness({'day': {'thermal': 0.3}})
    n = 3000
    dropped = sum(t(copy_sample(_sample('day')))['thermal'] is None for _ in range(n))
    assert abs(dropped / n - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    assert all(t(copy_sample(_sample('fog')))['thermal'] is not None for _ in range(50))


def test_never_removes_every_sensor():
    t = ConditionMissingness({'day': {'rgb': 1.0, 'thermal': 1.0, 'depth': 1.0}})
    out = t(copy_sample(_sample('day')))
    assert out['modality_mask'].all()             # the draw would empty the frame: left unchanged
    s = _sample('day')
    s['thermal'] = s['depth'] = None               # only rgb left: it stays
    s['modality_mask'] = np.array([True, False, False])
    out = ConditionMissingness({'day': {'rgb': 1.0}})(s)
    assert out['rgb'] is not None and out['modality_mask'].tolist() == [True, False, False]


def test_bad_rules_and_missing_condition_are_named():
    with pytest.raises(ValueError, match="unknown sensor 'lidar'"):
        ConditionMissingness({'day': {'lidar': 0.5}})
    with pytest.raises(ValueError, match=r"'fog'.*\[0, 1\]"):
        ConditionMissingness({'fog': {'depth': 1.5}})
    with pytest.raises(KeyError, match="needs the sample field 'condition'"):
        ConditionMissingness({'day': {'rgb': 1.0}})(make_sample(8, 8))
