"""Thermal files as datasets store them: grey in 3 channels, colour maps refused, radiometric 16-bit
with one recorded scaling. The JPEG tolerance of the grey test is measured here, not assumed."""
import cv2
import numpy as np
import pytest

from perception.contract import ConfigError, SensorError
from perception.sensors.encodings import GREY_TOLERANCE, decode_file
from perception.sensors.thermal import ThermalScaling, thermal_scaling_of


@pytest.fixture(scope='module')
def thermal8():
    """A real 8-bit thermal frame (MSRS) when the samples are there, else a textured synthetic one."""
    from perception.paths import real_data_root
    path = real_data_root() / 'msrs_roadscene' / 'MSRS' / 'ir' / '00004N.png'
    if path.is_file():
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 256, (120, 160)).astype(np.uint8), (7, 7), 2)


def _write(path, array, *params):
    assert cv2.imwrite(str(path), array, list(params))
    return path


def _spread_p99(path) -> float:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return float(np.percentile(raw.max(2).astype(int) - raw.min(2), 99))


@pytest.mark.parametrize('suffix, params', [
    ('.png', ()), ('.bmp', ()), ('.jpg', (cv2.IMWRITE_JPEG_QUALITY, 95)),
    ('.jpg', (cv2.IMWRITE_JPEG_QUALITY, 50)), ('.jpg', (cv2.IMWRITE_JPEG_QUALITY, 20))])
def test_grey_in_three_channels_reads_as_one(tmp_path, thermal8, suffix, params):
    grey3 = cv2.merge([thermal8] * 3)
    path = _write(tmp_path / f'ir{suffix}', grey3, *params)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[2] == 3
    assert _spread_p99(path) == 0      # grey survives JPEG exactly: its chroma is flat
    thermal = decode_file(path, 'u8_unit', 'thermal')
    assert thermal.dtype == np.float32 and thermal.shape == thermal8.shape
    error = np.abs(thermal * 255 - thermal8)
    if suffix == '.jpg':               # luma quantisation only
        assert error.mean() < 2.5
    else:
        assert error.max() < 1e-3      # lossless: exactly the one-channel values


def test_jpeg_tolerance_covers_a_colour_pipeline(tmp_path, thermal8):
    """Grey that went through a colour pipeline (independent +-3 levels per channel), stored as
    4:4:4 JPEG up to quality 100: spreads stay within the tolerance and the mean of the channels is
    within a grey level of the source."""
    rng = np.random.default_rng(0)
    grey3 = cv2.merge([thermal8] * 3).astype(int)
    noisy = np.clip(grey3 + rng.integers(-3, 4, grey3.shape), 0, 255).astype(np.uint8)
    for quality in (75, 95, 100):
        path = _write(tmp_path / f'n{quality}.jpg', noisy, cv2.IMWRITE_JPEG_QUALITY, quality,
                      cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)
        assert _spread_p99(path) <= GREY_TOLERANCE * 255
        thermal = decode_file(path, 'u8_unit', 'thermal')
        assert np.abs(thermal * 255 - thermal8).mean() < 1.5


def test_tolerance_boundary(tmp_path):
    """The 99th percentile of the channel spread decides: 8 levels pass, 9 do not."""
    base = np.full((20, 50), 100, np.uint8)
    for spread, ok in ((8, True), (9, False)):
        bgr = cv2.merge([base, base, base]).astype(int)
        bgr[:, :, 2] += spread         # every pixel: R exceeds G, B by ``spread``
        path = _write(tmp_path / f's{spread}.png', bgr.astype(np.uint8))
        if ok:
            value = decode_file(path, 'u8_unit', 'thermal')
            assert value[0, 0] == pytest.approx((100 + spread / 3) / 255)
        else:
            with pytest.raises(SensorError, match='colour-mapped'):
                decode_file(path, 'u8_unit', 'thermal')
    # A few strongly coloured pixels (<1 %: an overlay, a logo) do not make the frame colour-mapped.
    bgr = cv2.merge([base, base, base])
    bgr[0, :9] = (0, 0, 255)
    assert decode_file(_write(tmp_path / 'logo.png', bgr), 'u8_unit', 'thermal').shape == (20, 50)


@pytest.mark.parametrize('palette', ['INFERNO', 'JET', 'HOT'])
def test_colour_mapped_thermal_is_refused_with_how_to_export_raw(tmp_path, thermal8, palette):
    coloured = cv2.applyColorMap(thermal8, getattr(cv2, f'COLORMAP_{palette}'))
    path = _write(tmp_path / f'{palette}.png', coloured)
    with pytest.raises(SensorError) as info:
        decode_file(path, 'u8_unit', 'thermal')
    err = info.value
    assert (err.sensor, err.field, err.path) == ('thermal', 'channels', str(path))
    text = str(err)
    assert 'colour-mapped' in text and 'cannot be inverted' in text
    assert 'u16_radiometric' in text and 'u8_unit' in text    # what to export instead


def test_four_channels_point_to_mfnet(tmp_path):
    path = _write(tmp_path / 'rgba.png', np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(SensorError, match='mfnet_rgba'):
        decode_file(path, 'u8_unit', 'thermal')


def test_sixteen_bit_grey_in_three_channels(tmp_path):
    counts = np.arange(600, dtype=np.uint16).reshape(20, 30) * 100
    path = _write(tmp_path / 't16.png', cv2.merge([counts] * 3))
    assert np.array_equal(decode_file(path, 'u16_unit', 'thermal'),
                          counts.astype(np.float32) / np.float32(65535))


# --- 16-bit radiometric ----------------------------------------------------------------------------
def _counts(tmp_path, values):
    return _write(tmp_path / 'r.png', np.asarray(values, np.uint16))


def test_radiometric_counts_and_kelvin_ranges(tmp_path):
    # FLIR TLinear (0.01 K per count): 293.15 K = 29315 counts.
    path = _counts(tmp_path, [[25315, 29315, 33315, 40000]])
    kelvin = dict(mode='kelvin', low=253.15, high=333.15, kelvin_per_count=0.01)
    t = decode_file(path, 'u16_radiometric', 'thermal', thermal_scaling=kelvin)
    assert t.dtype == np.float32
    assert t[0].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0], abs=1e-6)   # clipped above
    counts = dict(mode='counts', low=29315, high=33315)
    assert decode_file(path, 'u16_radiometric', 'thermal', thermal_scaling=counts)[0].tolist() \
        == pytest.approx([0.0, 0.0, 1.0, 1.0])


def test_radiometric_percentile_is_a_per_frame_gain(tmp_path):
    frame = np.linspace(20000, 30000, 101).astype(np.uint16).reshape(1, -1)
    agc = dict(mode='percentile', low=1, high=99)
    a = decode_file(_counts(tmp_path, frame), 'u16_radiometric', 'thermal', thermal_scaling=agc)
    b = decode_file(_write(tmp_path / 'warm.png', frame + 5000), 'u16_radiometric', 'thermal',
                    thermal_scaling=agc)
    assert np.allclose(a, b)                       # an offset of the whole frame is removed
    assert a.min() == 0 and a.max() == 1 and a[0, 50] == pytest.approx(0.5, abs=1e-3)
    flat = decode_file(_write(tmp_path / 'flat.png', np.full((3, 3), 7, np.uint16)),
                       'u16_radiometric', 'thermal', thermal_scaling=agc)
    assert np.all(flat == 0.5)


def test_radiometric_needs_the_models_scaling(tmp_path):
    path = _counts(tmp_path, [[1, 2]])
    with pytest.raises(SensorError, match='thermal_scaling') as info:
        decode_file(path, 'u16_radiometric', 'thermal')
    assert info.value.field == 'thermal_scaling'
    with pytest.raises(SensorError, match='bit depth'):
        decode_file(_write(tmp_path / 'r8.png', np.zeros((2, 2), np.uint8)), 'u16_radiometric',
                    'thermal', thermal_scaling=dict(mode='counts', low=0, high=1))
    with pytest.raises(SensorError, match='no parameters'):
        decode_file(path, 'u16_unit', 'thermal', thermal_scaling=dict(mode='counts', low=0, high=1))


@pytest.mark.parametrize('bad, match', [
    (dict(mode='agc', low=1, high=99), 'mode'), (dict(mode='counts', low=5, high=5), 'low < high'),
    (dict(mode='percentile', low=1, high=120), 'percentiles'), (dict(mode='counts', low=0), 'missing'),
    (dict(mode='counts', low=0, high='hot'), 'high'), ('kelvin', 'dict'),
    (dict(mode='kelvin', low=250, high=300, kelvin_per_count=0), 'kelvin_per_count')])
def test_scaling_errors_name_the_field(bad, match):
    with pytest.raises(ConfigError, match=match):
        ThermalScaling.from_dict(bad)


def test_one_scaling_per_config():
    scaling = dict(mode='kelvin', low=253.15, high=323.15)
    loader = dict(type='LoadMultiSensorSample', thermal_scaling=scaling)
    cfg = dict(thermal_scaling=scaling,
               train_dataloader=dict(dataset=dict(pipeline=[loader])),
               test_dataloader=dict(dataset=dict(datasets=[dict(pipeline=[loader])])))
    assert thermal_scaling_of(cfg) == dict(scaling, kelvin_per_count=0.01, offset_k=0.0)
    other = dict(type='LoadMultiSensorSample', thermal_scaling=dict(scaling, high=330.0))
    cfg['val_dataloader'] = dict(dataset=dict(pipeline=[other]))
    with pytest.raises(ConfigError, match='LoadMultiSensorSample'):
        thermal_scaling_of(cfg)
    with pytest.raises(ConfigError, match='top-level'):
        thermal_scaling_of(dict(test_dataloader=dict(dataset=dict(pipeline=[loader]))))
    assert thermal_scaling_of(dict(model=dict())) is None


def test_training_loader_scales_radiometric_thermal(tmp_path):
    """The loader of a training/evaluation pipeline takes the config's scaling (and only that)."""
    from perception.datasets.base import sample_info, source
    from perception.datasets.loading import LoadMultiSensorSample
    path = _counts(tmp_path, [[27315, 29315, 31315]])          # 0, 20, 40 deg C in TLinear
    info = sample_info('a', sensors=dict(thermal=source(path, 'u16_radiometric')))
    scaling = dict(mode='kelvin', low=273.15, high=313.15)
    out = LoadMultiSensorSample(thermal_scaling=scaling).transform(dict(info))
    assert out['thermal'][0].tolist() == pytest.approx([0.0, 0.5, 1.0])
    with pytest.raises(SensorError, match='thermal_scaling'):
        LoadMultiSensorSample().transform(dict(info))
    with pytest.raises(ConfigError, match='mode'):
        LoadMultiSensorSample(thermal_scaling=dict(mode='auto', low=0, high=1))


def test_a_file_of_another_bit_depth_names_the_encodings_that_read_it(tmp_path):
    """16-bit thermal (the generic layout's) given to the 8-bit default: the error lists the
    thermal encodings of 16-bit files, and none of another sensor or bit depth."""
    path = _write(tmp_path / 't16.png', np.zeros((2, 2), np.uint16))
    with pytest.raises(SensorError, match='bit depth') as info:
        decode_file(path, 'u8_unit', 'thermal')
    message = str(info.value)
    assert 'u16_unit, u16_radiometric' in message and '--thermal-encoding' in message
    assert 'uint16_mm' not in message and 'mfnet' not in message
