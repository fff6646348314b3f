"""The messages real drivers send: raw encodings beyond rgb8/mono8 (rgba8, bgra8, packed YUV 4:2:2,
16UC1 radiometric thermal) and image_transport's CompressedImage (``compressed`` jpeg/png and
``compressedDepth`` png of 16UC1 and 32FC1 depth, as its publishers write them), decoded by the one
decoder the node, the DDS runner and bag replay share; malformed payloads are a SensorError naming the
topic and the field, counted by the node and never fatal."""
import cv2
import numpy as np
import pytest
from core_harness import Harness
from rosbags.rosbag2 import StoragePlugin, Writer
from ros_testkit import ToyPredictor

from perception.contract import ConfigError, SensorError
from perception.ros import typestore as ts
from perception.ros.config import NodeConfig
from perception.ros.image_codec import (DEPTH_HEADER_BYTES, compress_sensor, decode_sensor,
                                        encode_sensor)
from perception.ros.replay import replay_bag

HEADER = ts.header(5_000_000_000, 'cam')
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
#: smooth colour (chroma constant over each pixel pair): YUV 4:2:2 keeps it up to rounding
SMOOTH = np.dstack([np.tile((np.arange(32) * 8).repeat(2).astype(np.uint8), (48, 1))] * 3)
THERMAL = RNG.random((48, 64)).astype(np.float32)
DEPTH = (RNG.random((48, 64)) * 5 + 0.5).astype(np.float32)
DEPTH[0, :5] = 0.0       # no reading


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
def test_raw_colour_encodings_decode_exactly(encoding):
    assert np.array_equal(decode_sensor(encode_sensor(RGB, 'rgb', encoding, HEADER), 'rgb'), RGB)


@pytest.mark.parametrize('encoding, order', [('yuv422', 'UYVY'), ('yuv422_yuy2', 'YUY2')])
def test_packed_yuv_422_decodes_as_opencv_reads_the_camera(encoding, order):
    msg = encode_sensor(SMOOTH, 'rgb', encoding, HEADER)
    assert (msg.width, msg.height, msg.step) == (64, 48, 128)          # 2 bytes per pixel
    out = decode_sensor(msg, 'rgb')
    raw = np.frombuffer(bytes(msg.data), np.uint8).reshape(48, 64, 2)
    assert np.array_equal(out, cv2.cvtColor(raw, getattr(cv2, f'COLOR_YUV2RGB_{order}')))
    assert np.abs(out.astype(int) - SMOOTH).max() <= 2
    y0 = raw[0, 0, 1] if order == 'UYVY' else raw[0, 0, 0]         # the byte order differs
    assert abs(int(y0) - 16 - int(SMOOTH[0, 0, 0]) * 219 // 255) <= 2


def test_16uc1_thermal_is_radiometric_counts_like_mono16():
    scaling = dict(mode='counts', low=1000.0, high=40000.0)
    counts = (THERMAL * 65535).round().astype(np.uint16)
    for enc in ('mono16', '16UC1'):
        from perception.ros.image_codec import array_to_image
        msg = array_to_image(counts, enc, HEADER)
        plain = decode_sensor(msg, 'thermal')
        assert np.allclose(plain, counts / 65535.0, atol=1e-7)
        scaled = decode_sensor(msg, 'thermal', thermal_scaling=scaling)
        assert np.allclose(scaled, np.clip((counts - 1000.0) / 39000.0, 0, 1), atol=1e-6)
    with pytest.raises(SensorError, match="'rgb', field 'encoding'.*16UC1"):
        decode_sensor(array_to_image(counts, '16UC1', HEADER), 'rgb')


def test_compressed_colour_as_compressed_image_transport_writes_it():
    png = compress_sensor(RGB, 'rgb', 'rgb8', HEADER, codec='png')
    assert png.format == 'rgb8; png compressed bgr8'
    assert np.array_equal(decode_sensor(png, 'rgb'), RGB)
    # a JPEG as the transport writes it: BGR pixels, format naming the original encoding
    ok, jpg = cv2.imencode('.jpg', SMOOTH[..., ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    msg = ts.msg_class(ts.COMPRESSED_IMAGE)(header=HEADER, format='bgr8; jpeg compressed bgr8',
                                            data=jpg.reshape(-1))
    assert np.abs(decode_sensor(msg, 'rgb').astype(int) - SMOOTH).mean() < 2
    msg.format = 'jpeg'                           # ROS 1 style: the codec alone
    assert np.abs(decode_sensor(msg, 'rgb').astype(int) - SMOOTH).mean() < 2


def test_compressed_thermal_8_and_16_bit():
    mono8 = compress_sensor(THERMAL, 'thermal', 'mono8', HEADER, codec='png')
    assert mono8.format == 'mono8; png compressed mono8'
    assert np.abs(decode_sensor(mono8, 'thermal') - THERMAL).max() <= 0.5 / 255 + 1e-7
    mono16 = compress_sensor(THERMAL, 'thermal', 'mono16', HEADER)
    assert mono16.format == 'mono16; png compressed mono16'
    assert np.abs(decode_sensor(mono16, 'thermal') - THERMAL).max() <= 0.5 / 65535 + 1e-7


def test_compressed_depth_16uc1_and_32fc1():
    mm = compress_sensor(DEPTH, 'depth', '16UC1', HEADER)
    assert mm.format == '16UC1; compressedDepth png'
    assert np.array_equal(decode_sensor(mm, 'depth'), np.round(DEPTH * 1000) / np.float32(1000))
    inv = compress_sensor(DEPTH, 'depth', '32FC1', HEADER, depth_max=10.0,
                          depth_quantization=100.0)
    assert inv.format == '32FC1; compressedDepth png'
    header = np.frombuffer(bytes(inv.data[:DEPTH_HEADER_BYTES]), '<f4')
    assert header[1] == pytest.approx(100 * 101) and header[2] == pytest.approx(1 - 10100 / 10.0)
    out = decode_sensor(inv, 'depth')
    assert (out[0, :5] == 0).all()                          # quantised 0 = no reading -> 0
    valid = DEPTH > 0
    assert np.abs(out[valid] - DEPTH[valid]).max() / DEPTH[valid].max() < 2e-3


@pytest.mark.parametrize('fmt, payload, match', [
    ('16UC1; compressedDepth rvl', b'\0' * 40, 'RVL codec is not supported'),
    ('bgr8; webp compressed bgr8', b'\0' * 40, "field 'format'"),
    ('bgr8; jpeg compressed bgr8', b'not a jpeg at all', "field 'data'.*jpeg payload"),
    ('bgr8; png compressed bgr8', b'', "field 'data'"),
    ('16UC1; compressedDepth png', b'\0' * 8, 'compressedDepth header'),
])
def test_malformed_compressed_payloads_name_the_field(fmt, payload, match):
    msg = ts.msg_class(ts.COMPRESSED_IMAGE)(header=HEADER, format=fmt,
                                            data=np.frombuffer(payload, np.uint8))
    sensor = 'depth' if 'Depth' in fmt else 'rgb'
    with pytest.raises(SensorError, match=match):
        decode_sensor(msg, sensor, '/cam/image/compressed')


def test_a_grey_png_on_the_colour_topic_is_refused():
    msg = compress_sensor(THERMAL, 'thermal', 'mono8', HEADER)
    with pytest.raises(SensorError, match="'rgb', field 'encoding'.*mono8"):
        decode_sensor(msg, 'rgb')


def test_transport_parameters():
    cfg = NodeConfig.from_params({'topics.rgb': '/c/image_raw/compressed',
                                  'topics.rgb_transport': 'compressed',
                                  'topics.depth_transport': 'compressedDepth'})
    assert cfg.input_type('rgb') == ts.COMPRESSED_IMAGE == cfg.input_type('depth')
    assert cfg.input_type('thermal') == ts.IMAGE
    assert NodeConfig.from_params(cfg.to_params()) == cfg
    with pytest.raises(ConfigError, match="topics.rgb_transport: expected one of \\('raw', "
                                          "'compressed'\\)"):
        NodeConfig(transports={'rgb': 'compressedDepth', 'thermal': 'raw', 'depth': 'raw'})


def test_node_core_runs_compressed_inputs_and_counts_bad_payloads():
    h = Harness(predictor=ToyPredictor(), transports={'rgb': 'compressed', 'thermal': 'raw',
                                                      'depth': 'compressedDepth'})
    frames = h.images(0)
    from core_harness import PERIOD_S
    h.clock.t += PERIOD_S
    rgb = decode_sensor(frames['rgb'], 'rgb')
    depth = decode_sensor(frames['depth'], 'depth')
    sets = h.core.on_image('rgb', compress_sensor(rgb, 'rgb', 'rgb8', frames['rgb'].header))
    sets += h.core.on_image('thermal', frames['thermal'])
    sets += h.core.on_image('depth', compress_sensor(depth, 'depth', '16UC1',
                                                     frames['depth'].header))
    assert len(sets) == 1
    h.core.process(sets[0])
    assert h.predictor.calls == [(True, True, True)]
    bad = ts.msg_class(ts.COMPRESSED_IMAGE)(header=HEADER, format='bgr8; jpeg compressed bgr8',
                                            data=np.zeros(10, np.uint8))
    assert h.core.on_image('rgb', bad) == []
    assert h.core.stats()['malformed.rgb'] == 1


def test_replay_reads_a_bag_of_compressed_topics(tmp_path):
    """A recorded bag with image_transport's compressed colour and compressedDepth depth (what most
    bags carry): replay reads each topic's type from the bag and runs every set."""
    store = ts.typestore()
    topics = {'rgb': '/camera/color/image_raw/compressed',
              'depth': '/camera/depth/image_rect_raw/compressedDepth'}
    with Writer(tmp_path / 'in', version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {s: writer.add_connection(t, ts.COMPRESSED_IMAGE, typestore=store)
                 for s, t in topics.items()}
        for k in range(3):
            stamp = 1_700_000_000_000_000_000 + k * 100_000_000
            msgs = {'rgb': compress_sensor(RGB, 'rgb', 'bgr8', ts.header(stamp, 'c'), 'jpeg'),
                    'depth': compress_sensor(DEPTH, 'depth', '16UC1',
                                             ts.header(stamp + 1_000_000, 'c'))}
            for s, msg in msgs.items():
                writer.write(conns[s], stamp + 5_000_000,
                             ts.serialize(msg, ts.COMPRESSED_IMAGE))
    predictor = ToyPredictor()
    config = NodeConfig(topics=dict(topics, thermal=''))
    report = replay_bag(tmp_path / 'in', tmp_path / 'out', predictor, config)
    assert report.sets == 3 and report.stats['malformed.rgb'] == 0
    assert predictor.calls == [(True, False, True)] * 3
