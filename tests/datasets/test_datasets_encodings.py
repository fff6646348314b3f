"""Named encodings: exact conversions, exact storage round trips, and SensorError on bad files."""
import cv2
import numpy as np
import pytest

from perception.contract import SensorError
from perception.sensors.encodings import (ENCODINGS, decode_file, get_encoding,
                                           writable_encodings)

RNG = np.random.default_rng(0)


def _png(path, array):
    assert cv2.imwrite(str(path), array)
    return path


def _decode(path, encoding, sensor):
    return decode_file(path, encoding, sensor)


# --- values of each convention -------------------------------------------------------------------
def test_rgb8_is_rgb_order_and_grey_is_replicated(tmp_path):
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30            # B, G, R as OpenCV stores them
    rgb = _decode(_png(tmp_path / 'c.png', bgr), 'rgb8', 'rgb')
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    assert rgb[0, 0].tolist() == [30, 20, 10]
    grey = _decode(_png(tmp_path / 'g.png', np.full((2, 3), 77, np.uint8)), 'rgb8', 'rgb')
    assert grey.shape == (2, 3, 3) and (grey == 77).all()


def test_mfnet_four_channel_png_splits_into_rgb_and_thermal(tmp_path):
    raw = np.zeros((2, 2, 4), np.uint8)
    raw[..., :3] = (5, 6, 7)      # B, G, R
    raw[..., 3] = 204
    path = _png(tmp_path / 'm.png', raw)
    assert _decode(path, 'mfnet_rgb', 'rgb')[0, 0].tolist() == [7, 6, 5]
    thermal = _decode(path, 'mfnet_rgba', 'thermal')
    assert thermal.dtype == np.float32 and thermal[0, 0] == np.float32(204) / np.float32(255)


@pytest.mark.parametrize('encoding, raw, metres', [
    ('uint16_mm', 1234, 1.234), ('uint16_mm', 0, 0.0),
    ('uint16_tum5000', 5000, 1.0), ('uint16_tum5000', 10920, 2.184),
    ('uint16_tenth_mm', 29127, 2.9127), ('uint16_tenth_mm', 65535, 0.0),
    # SUN stores mm rotated left by 3 bits: 2723 mm -> 2723 << 3; 9000 mm wraps its top bit.
    ('uint16_sun_bitshift', 2723 << 3, 2.723),
    ('uint16_sun_bitshift', ((9000 << 3) | (9000 >> 13)) & 0xFFFF, 9.0),
])
def test_uint16_depth_scales(tmp_path, encoding, raw, metres):
    path = _png(tmp_path / 'd.png', np.full((2, 2), raw, np.uint16))
    depth = _decode(path, encoding, 'depth')
    assert depth.dtype == np.float32
    assert depth[0, 0] == pytest.approx(metres, abs=1e-6)


def test_nyu_kinect_disparity(tmp_path):
    # NYU wrote little-endian words into a (big-endian) PGM: disparity 977 is stored as bytes D1 03.
    disparity = np.array([[977, 2047], [1092, 600]], np.uint16)
    path = tmp_path / 'nyu.pgm'
    path.write_bytes(b'P5 2 2 65535\n' + disparity.astype('<u2').tobytes())
    depth = _decode(path, 'nyu_kinect_disparity', 'depth')
    assert depth[0, 0] == pytest.approx(351.3 / (1092.5 - 977), rel=1e-6)   # 3.04 m
    assert depth[0, 1] == 0                      # 2047: no reading
    assert depth[1, 0] == 0                      # 702 m: beyond the 10 m range
    assert depth[1, 1] == pytest.approx(351.3 / 492.5, rel=1e-6)


def test_float32_metres_npy_and_tiff(tmp_path):
    value = np.array([[1.5, np.nan], [np.inf, 0.25]], np.float32)
    np.save(tmp_path / 'd.npy', value)
    depth = _decode(tmp_path / 'd.npy', 'float32_m', 'depth')
    assert depth.tolist() == [[1.5, 0.0], [0.0, 0.25]]     # NaN/inf -> 0 = invalid
    _png(tmp_path / 'd.tiff', np.array([[2.0, 3.0]], np.float32))
    assert _decode(tmp_path / 'd.tiff', 'float32_m', 'depth').tolist() == [[2.0, 3.0]]


def test_thermal_unit_scales(tmp_path):
    t16 = _decode(_png(tmp_path / 't16.png', np.array([[0, 65535]], np.uint16)), 'u16_unit',
                  'thermal')
    t8 = _decode(_png(tmp_path / 't8.png', np.array([[0, 255, 51]], np.uint8)), 'u8_unit',
                 'thermal')
    assert t16.tolist() == [[0.0, 1.0]] and t8.dtype == np.float32
    assert t8[0, 2] == np.float32(0.2)


# --- storage round trips -------------------------------------------------------------------------
_RANDOM = {
    'rgb': lambda: RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    'thermal': lambda: RNG.random((5, 7)).astype(np.float32),
    'depth': lambda: (RNG.random((5, 7)) * 6).astype(np.float32),
    'label': lambda: RNG.integers(0, 256, (5, 7), dtype=np.uint8),
}


@pytest.mark.parametrize('name', writable_encodings())
def test_writable_encodings_round_trip_exactly_through_files(tmp_path, name):
    enc = ENCODINGS[name]
    sensor = {'label': 'gt_sem_seg'}.get(enc.modality, enc.modality)
    value = enc.quantize(_RANDOM[enc.modality](), sensor)
    assert np.array_equal(enc.quantize(value, sensor), value)      # idempotent
    path = tmp_path / f'x{enc.suffix}'
    raw = enc.encode(value, sensor, path)
    np.save(path, raw) if enc.suffix == '.npy' else _png(path, raw)
    back = enc.decode(path, sensor)
    assert back.dtype == value.dtype and np.array_equal(back, value)


def test_quantisation_steps():
    depth = np.array([[1.2344, 0.0]], np.float32)
    assert get_encoding('uint16_mm', 'depth').quantize(depth)[0, 0] == np.float32(1.234)
    thermal = np.array([[0.5]], np.float32)
    assert get_encoding('u16_unit', 'thermal').quantize(thermal)[0, 0] == \
        np.float32(32768) / np.float32(65535)


# --- errors --------------------------------------------------------------------------------------
def _raises(path, encoding, sensor, field):
    with pytest.raises(SensorError) as info:
        _decode(path, encoding, sensor)
    err = info.value
    assert (err.sensor, err.field, err.path) == (sensor, field, str(path)), str(err)
    assert sensor in str(err) and str(path) in str(err) and 'expected' in str(err)
    return err


def test_8bit_png_given_to_a_16bit_depth_encoding(tmp_path):
    path = _png(tmp_path / 'd8.png', np.full((4, 4), 100, np.uint8))
    for name in ('uint16_mm', 'uint16_tum5000', 'uint16_sun_bitshift', 'nyu_kinect_disparity'):
        err = _raises(path, name, 'depth', 'bit depth')
        assert '16-bit' in err.expected and 'uint8' in str(err.got)


def test_wrong_channel_counts(tmp_path):
    colour = _png(tmp_path / 'c.png', np.zeros((4, 4, 3), np.uint8))
    _raises(_png(tmp_path / 'red.png', np.full((4, 4, 3), (0, 0, 255), np.uint8)), 'u8_unit',
            'thermal', 'channels')                   # 3 channels only when they are grey
    _raises(colour, 'mfnet_rgba', 'thermal', 'channels')
    _raises(_png(tmp_path / 'a.png', np.zeros((4, 4, 4), np.uint8)), 'rgb8', 'rgb', 'channels')
    _raises(_png(tmp_path / 'c16.png', np.zeros((4, 4, 3), np.uint16)), 'rgb8', 'rgb', 'bit depth')
    _raises(_png(tmp_path / 'd3.png', np.zeros((4, 4, 3), np.uint16)), 'uint16_mm', 'depth',
            'channels')


def test_corrupt_truncated_and_missing_files(tmp_path):
    good = _png(tmp_path / 'good.png', np.arange(4096, dtype=np.uint16).reshape(64, 64))
    data = good.read_bytes()
    (tmp_path / 'trunc.png').write_bytes(data[:len(data) // 2])
    (tmp_path / 'junk.png').write_bytes(b'not an image')
    _raises(tmp_path / 'trunc.png', 'uint16_mm', 'depth', 'file')
    _raises(tmp_path / 'junk.png', 'uint16_mm', 'depth', 'file')
    _raises(tmp_path / 'absent.png', 'rgb8', 'rgb', 'file')
    (tmp_path / 'junk.npy').write_bytes(b'\x93NUMPY garbage')
    _raises(tmp_path / 'junk.npy', 'float32_m', 'depth', 'file')


def test_unknown_encoding_and_wrong_modality(tmp_path):
    path = _png(tmp_path / 'd.png', np.zeros((2, 2), np.uint16))
    err = _raises(path, 'uint16_cm', 'depth', 'encoding')
    assert 'uint16_mm' in err.expected        # the message lists the known names
    _raises(path, 'u16_unit', 'depth', 'encoding')      # a thermal encoding for depth


def test_float_depth_rejects_negative_and_integer_files(tmp_path):
    np.save(tmp_path / 'neg.npy', np.array([[-1.0, 2.0]], np.float32))
    _raises(tmp_path / 'neg.npy', 'float32_m', 'depth', 'value')
    np.save(tmp_path / 'int.npy', np.array([[1, 2]], np.uint16))
    _raises(tmp_path / 'int.npy', 'float32_m', 'depth', 'bit depth')


def test_encoding_values_that_do_not_fit_the_storage():
    with pytest.raises(SensorError, match='depth'):
        get_encoding('uint16_mm', 'depth').encode(np.array([[70.0]]), 'depth')
    with pytest.raises(SensorError, match='thermal'):
        get_encoding('u16_unit', 'thermal').encode(np.array([[1.5]]), 'thermal')
    with pytest.raises(SensorError, match='can be written'):
        get_encoding('nyu_kinect_disparity', 'depth').encode(np.ones((2, 2)), 'depth')
