"""Depth values by REP 117: NaN, -inf and +inf are "no reading" (never an error); a negative depth is
an error that says how many pixels hold one -- in files and in arrays given to the Predictor."""
import numpy as np
import pytest

from perception.apis.preprocess import check_frame
from perception.contract import SensorError
from perception.sensors.encodings import decode_file, float_depth, get_encoding


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


# --- integer encodings: codes no camera writing the encoding produces --------------------------------
def _png16(path, values):
    import cv2
    assert cv2.imwrite(str(path), np.asarray(values, np.uint16))
    return path


def test_linear_integer_encodings_hold_a_distance_in_every_code(tmp_path):
    """uint16 mm, 1/5000 m and 1/10 mm: 0 is no reading, every other code a distance a camera can
    report (long-range stereo reaches the 65.5 m of a mm PNG); 65535 is 'saturated' in 1/10 mm."""
    path = _png16(tmp_path / 'd.png', [[0, 1], [65534, 65535]])
    for name, scale in (('uint16_mm', 1000), ('uint16_tum5000', 5000), ('uint16_tenth_mm', 10000)):
        depth = decode_file(path, name, 'depth')
        top = 0.0 if name == 'uint16_tenth_mm' else 65535 / scale
        np.testing.assert_allclose(depth, [[0, 1 / scale], [65534 / scale, top]], rtol=1e-6)


def test_nyu_disparity_beyond_11_bits_is_an_error_naming_the_count(tmp_path):
    """Kinect v1 disparities are 11-bit (2047 = no reading). A depth PNG in mm given as NYU raw, or
    a .pgm whose words were already swapped, gives codes above 2047 after the byte swap."""
    mm = _png16(tmp_path / 'mm.png', [[1500, 0], [2000, 3000]])
    swapped = tmp_path / 'swapped.pgm'    # big-endian words, as the PGM standard says
    swapped.write_bytes(b'P5 2 2 65535\n' + np.array([[977, 2047], [1092, 600]], '>u2').tobytes())
    for path, count in ((mm, '3 of 4 pixels > 2047'), (swapped, '4 of 4 pixels > 2047')):
        with pytest.raises(SensorError) as info:
            decode_file(path, 'nyu_kinect_disparity', 'depth')
        err = info.value
        assert (err.sensor, err.field, err.path) == ('depth', 'value', str(path))
        assert count in str(err) and '11-bit' in str(err) and 'uint16_mm?' in str(err)


def test_sun_words_decoding_beyond_16_m_are_an_error_naming_the_count(tmp_path):
    """SUN RGB-D's bit rotation leaves the low 3 bits 0 or 1 for anything its sensors measure
    (< 10 m); a plain mm PNG given as SUN has 3 in 4 pixels beyond -- here 2002 and 2007 mm (low
    bits 2 and 7), while 2000 and 2001 decode to 0.25 and 8.442 m."""
    path = _png16(tmp_path / 'mm.png', [[2000, 2001], [2002, 2007]])
    with pytest.raises(SensorError) as info:
        decode_file(path, 'uint16_sun_bitshift', 'depth')
    err = info.value
    assert (err.sensor, err.field) == ('depth', 'value')
    assert '2 of 4 pixels decode to >= 16.384 m' in str(err) and 'uint16_mm?' in str(err)
    sun = get_encoding('uint16_sun_bitshift', 'depth')
    assert sun.quantize(np.array([[16.383]]))[0, 0] == np.float32(16.383)   # what it can store
    with pytest.raises(SensorError, match='16.383'):
        sun.encode(np.array([[16.384]]), 'depth')


#: Every integer-encoded depth file of ../shared/data/real, with the encoding its dataset gives it.
REAL_INTEGER_DEPTH = (
    ('open3d_rgbd/RGBD/depth/*.png', 'uint16_mm'), ('open3d_rgbd/depth.png', 'uint16_mm'),
    ('nyu_demo/*depth.png', 'uint16_mm'), ('rgbdd/depth/*.png', 'uint16_mm'),
    ('esanet_rgbd/sample_depth.png', 'uint16_tenth_mm'),
    ('open3d_rgbd/RGBD/other_formats/TUM_depth.png', 'uint16_tum5000'),
    ('open3d_rgbd/RGBD/other_formats/SUN_depth.png', 'uint16_sun_bitshift'),
    ('open3d_rgbd/RGBD/other_formats/NYU_depth.pgm', 'nyu_kinect_disparity'),
)


@pytest.mark.real_data
def test_no_real_depth_file_is_refused(real_root):
    decoded = 0
    for pattern, name in REAL_INTEGER_DEPTH:
        files = sorted(real_root.glob(pattern))
        assert files, pattern
        for path in files:
            assert decode_file(path, name, 'depth').max() > 0, path
            decoded += 1
    assert decoded == 5 + 1 + 2 + 304 + 4
