"""Depth values by REP 117: NaN, -inf and +inf are "no reading" (never an error); a negative depth is
an error that says how many pixels hold one -- in files and in arrays given to the Predictor."""
import numpy as np
import pytest

from perception.apis.preprocess import check_frame
from perception.contract import SensorError
from perception.sensors.encodings import decode_file, float_depth


def _rep117():
    d = np.full((3, 4), 2.5, np.float32)
    d[0, 0], d[0, 1], d[0, 2] = np.nan, -np.inf, np.inf    # no reading, too close, too far
    return d


def test_non_finite_depth_is_invalid_not_an_error(tmp_path):
    np.save(tmp_path / 'd.npy', _rep117())
    for depth in (decode_file(tmp_path / 'd.npy', 'float32_m', 'depth'), float_depth(_rep117()),
                  check_frame(depth=_rep117())[0]['depth']):
        assert depth.dtype == np.float32
        assert depth[0, :3].tolist() == [0, 0, 0] and np.all(depth.ravel()[3:] == 2.5)


def test_negative_depth_is_an_error_naming_the_count(tmp_path):
    d = _rep117()
    d[2, :3] = (-1.0, -0.5, -7.0)
    np.save(tmp_path / 'neg.npy', d)
    for call in (lambda: decode_file(tmp_path / 'neg.npy', 'float32_m', 'depth'),
                 lambda: check_frame(depth=d)):
        with pytest.raises(SensorError) as info:
            call()
        err = info.value
        assert (err.sensor, err.field) == ('depth', 'value')
        assert '3 of 12 pixels < 0' in str(err) and 'minimum -7' in str(err)
        assert 'REP 117' in str(err)


def test_integer_encodings_cannot_hold_negative_depth(tmp_path):
    """Signed or float data given to an integer encoding fails at the bit depth, before values."""
    import cv2
    path = tmp_path / 'signed.tif'
    assert cv2.imwrite(str(path), np.full((2, 2), -5, np.int16))
    with pytest.raises(SensorError, match='bit depth') as info:
        decode_file(path, 'uint16_mm', 'depth')
    assert 'int16' in str(info.value)
