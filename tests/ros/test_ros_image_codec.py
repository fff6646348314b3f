"""sensor_msgs/Image <-> numpy for every accepted encoding, padded rows, big-endian, through CDR."""
import numpy as np
import pytest

from perception.contract import SensorError
from perception.ros import typestore as ts
from perception.ros.image_codec import (ENCODINGS, array_to_image, decode_sensor, encode_sensor,
                                        image_to_array)

RNG = np.random.default_rng(0)


def random_pixels(encoding, height=5, width=7):
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype.kind == 'f':
        return RNG.uniform(-10, 10, shape).astype(dtype)
    return RNG.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


def through_cdr(msg):
    return ts.deserialize(ts.serialize(msg, ts.IMAGE), ts.IMAGE)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('pad', [0, 3, 16])
@pytest.mark.parametrize('bigendian', [False, True])
def test_round_trip_every_encoding(encoding, pad, bigendian):
    pixels = random_pixels(encoding)
    dtype, channels = ENCODINGS[encoding]
    row = pixels.shape[1] * channels * dtype.itemsize
    msg = array_to_image(pixels, encoding, ts.header(1_700_000_000_123_456_789, 'cam'),
                         step=row + pad, is_bigendian=bigendian)
    assert msg.step == row + pad and msg.data.size == (row + pad) * pixels.shape[0]
    assert msg.is_bigendian == int(bigendian)
    back = through_cdr(msg)
    # Garbage in the padding must not leak into the pixels.
    if pad:
        data = back.data.copy()
        data.reshape(back.height, back.step)[:, row:] = 0xAB
        back.data = data
    out = image_to_array(back, 'test')
    assert out.dtype == dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, pixels)
    assert ts.stamp_ns(back.header) == 1_700_000_000_123_456_789 and back.header.frame_id == 'cam'


@pytest.mark.parametrize('encoding,value,little,big', [
    ('mono16', 0x0102, [0x02, 0x01], [0x01, 0x02]),
    ('16UC1', 0xBEEF, [0xEF, 0xBE], [0xBE, 0xEF]),
    ('32FC1', 1.0, [0x00, 0x00, 0x80, 0x3F], [0x3F, 0x80, 0x00, 0x00]),
])
def test_byte_order_on_the_wire(encoding, value, little, big):
    dtype, _ = ENCODINGS[encoding]
    pixels = np.full((1, 1), value, dtype)
    assert list(array_to_image(pixels, encoding, ts.header(0)).data) == little
    msg = array_to_image(pixels, encoding, ts.header(0), is_bigendian=True)
    assert list(msg.data) == big
    assert image_to_array(msg)[0, 0] == value


def test_rgb_and_bgr_decode_to_the_same_rgb():
    rgb = random_pixels('rgb8')
    a = decode_sensor(array_to_image(rgb, 'rgb8', ts.header(0)), 'rgb')
    b = decode_sensor(array_to_image(np.ascontiguousarray(rgb[..., ::-1]), 'bgr8', ts.header(0)),
                      'rgb')
    np.testing.assert_array_equal(a, rgb)
    np.testing.assert_array_equal(b, rgb)


def test_thermal_scaling():
    m8 = decode_sensor(array_to_image(np.array([[0, 51, 255]], np.uint8), 'mono8', ts.header(0)),
                       'thermal')
    m16 = decode_sensor(array_to_image(np.array([[0, 13107, 65535]], np.uint16), 'mono16',
                                       ts.header(0), is_bigendian=True), 'thermal')
    np.testing.assert_allclose(m8, [[0, 0.2, 1]], rtol=1e-6)
    np.testing.assert_allclose(m16, [[0, 0.2, 1]], rtol=1e-6)
    assert m8.dtype == m16.dtype == np.float32


def test_depth_units_and_invalid_pixels():
    mm = decode_sensor(array_to_image(np.array([[0, 1500, 65535]], np.uint16), '16UC1',
                                      ts.header(0)), 'depth')
    np.testing.assert_allclose(mm, [[0, 1.5, 65.535]], rtol=1e-6)
    # REP 117: NaN = no reading, -inf = too close, +inf = too far: all "no depth" (0), no error
    raw = np.array([[np.nan, np.inf, -np.inf, 2.25]], np.float32)
    m = decode_sensor(array_to_image(raw, '32FC1', ts.header(0)), 'depth')
    np.testing.assert_array_equal(m, [[0, 0, 0, 2.25]])


def test_negative_float_depth_is_a_malformed_frame_naming_the_bad_pixels():
    """A negative 32FC1 value is no depth (inverse depth, disparity, a sign error): the frame is
    refused with the count of bad pixels, as perception infer refuses such a file (float_depth)."""
    raw = np.array([[-1.0, 2.0, -0.5], [np.nan, 1.0, 3.0]], np.float32)
    with pytest.raises(SensorError, match=r"'depth on /d', field 'value'.*2 of 6 pixels < 0") as err:
        decode_sensor(array_to_image(raw, '32FC1', ts.header(0)), 'depth', 'depth on /d')
    assert 'REP 117' in str(err.value)


@pytest.mark.parametrize('sensor,encoding', [('rgb', 'rgb8'), ('rgb', 'bgr8'), ('thermal', 'mono8'),
                                             ('thermal', 'mono16'), ('depth', '16UC1'),
                                             ('depth', '32FC1')])
def test_encode_sensor_inverts_decode(sensor, encoding):
    rgb, thermal, depth = (RNG.integers(0, 256, (4, 6, 3)).astype(np.uint8),
                           RNG.uniform(0, 1, (4, 6)).astype(np.float32),
                           RNG.uniform(0.2, 9, (4, 6)).astype(np.float32))
    value = {'rgb': rgb, 'thermal': thermal, 'depth': depth}[sensor]
    back = decode_sensor(through_cdr(encode_sensor(value, sensor, encoding, ts.header(0))), sensor)
    tol = {'mono8': 0.5 / 255, 'mono16': 0.5 / 65535, '16UC1': 0.0005}.get(encoding, 0)
    np.testing.assert_allclose(back, value, atol=tol + 1e-7)


def make_msg(**overrides):
    msg = array_to_image(np.zeros((4, 5), np.uint16), 'mono16', ts.header(0, 'thermal_frame'))
    for key, value in overrides.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize('overrides,field,expected', [
    ({'encoding': 'yuv422'}, 'encoding', 'one of mono8, mono16'),
    ({'encoding': 'rgb8'}, 'encoding', 'thermal sensor'),
    ({'step': 6}, 'step', '>= 10'),
    ({'data': np.zeros(39, np.uint8)}, 'data', '40 bytes'),
    ({'width': 0}, 'height/width', '> 0'),
    ({'height': 5}, 'data', '50 bytes'),
])
def test_malformed_images_raise_clear_errors(overrides, field, expected):
    with pytest.raises(SensorError) as info:
        decode_sensor(make_msg(**overrides), 'thermal', source='thermal on /thermal/image_raw')
    err = info.value
    assert err.field == field and expected in str(err)
    assert 'thermal on /thermal/image_raw' in str(err)


def test_unknown_encoding_is_named_even_outside_a_sensor():
    with pytest.raises(SensorError, match=r"field 'encoding'.*got 'bayer_rggb8'"):
        image_to_array(make_msg(encoding='bayer_rggb8'), '/cam')


def test_encoder_rejects_wrong_arrays():
    with pytest.raises(ValueError, match='dtype uint8'):
        array_to_image(np.zeros((2, 2, 3), np.float32), 'rgb8', ts.header(0))
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        array_to_image(np.zeros((2, 2), np.uint8), 'bgr8', ts.header(0))
    with pytest.raises(ValueError, match='step 3 <'):
        array_to_image(np.zeros((2, 2), np.uint16), 'mono16', ts.header(0), step=3)
