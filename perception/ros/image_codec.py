"""``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` <-> numpy, and ROS images <-> the decoded
sensor representation.

Raw encodings accepted (REP 118 / sensor_msgs/image_encodings.hpp names): rgb from ``rgb8``, ``bgr8``,
``rgba8``, ``bgra8`` (ZED, some RealSense modes: alpha dropped), ``yuv422`` (UYVY) and ``yuv422_yuy2``
(YUYV: usb_cam, v4l2_camera); thermal from ``mono8``, ``mono16`` and ``16UC1`` (FLIR Boson/Lepton and
Optris drivers publish radiometric counts as either); depth from ``16UC1`` and ``32FC1``. Rows may be
padded (``step`` larger than ``width * bytes per pixel``) and multi-byte pixels may be big-endian
(``is_bigendian``); both are honoured on decode and can be produced on encode, so round trips are
testable.

Compressed (``sensor_msgs/CompressedImage``, image_transport's transports): ``compressed`` --
``format`` as compressed_image_transport writes it, ``"<encoding>; jpeg compressed <bgr8|mono8>"`` or
``"<encoding>; png compressed <bgr8|rgb8|mono8|mono16|bgr16>"`` (a bare ``"jpeg"``/``"png"`` is read as
its 8-bit colour or grey content) -- and ``compressedDepth`` for depth -- ``"16UC1; compressedDepth
png"`` (millimetres) or ``"32FC1; compressedDepth png"`` (inverse depth quantised by the 12-byte
header's two parameters, 0 = no reading), as compressed_depth_image_transport writes them (its RVL
variant is refused by name). The decoded pixels then go through the raw path of their encoding, so a
compressed frame means what the raw one would.

Decoded representation (perception/contract.py): rgb uint8 (H, W, 3) RGB order; thermal float32 (H, W)
in [0, 1]: mono8 / 255; mono16 by the model's recorded ``thermal_scaling`` when it has one (the
``u16_radiometric`` file encoding of ``perception infer``, same function), else / 65535 (``u16_unit``);
depth float32 (H, W) metres with 0 where invalid: 16UC1 is millimetres (REP 118), 32FC1 metres read by
REP 117 as ``perception infer`` reads float depth (NaN, -inf, +inf = no reading -> 0; a negative value
is a malformed frame). Anything else raises :class:`perception.contract.SensorError` naming the
sensor/topic, the field and what was expected.

``perception.sensors`` (OpenCV, a base dependency) is imported only when a frame needs it (mono16 with
a scaling, 32FC1), so this module imports on a machine with numpy and rosbags alone.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from perception.contract import SensorError

from .typestore import COMPRESSED_IMAGE, IMAGE, msg_class

#: encoding -> (pixel dtype, channels)
ENCODINGS: Dict[str, Tuple[np.dtype, int]] = {
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    'rgba8': (np.dtype(np.uint8), 4),
    'bgra8': (np.dtype(np.uint8), 4),
    'yuv422': (np.dtype(np.uint8), 2),        # UYVY: U Y0 V Y1 per pixel pair
    'yuv422_yuy2': (np.dtype(np.uint8), 2),   # YUYV: Y0 U Y1 V per pixel pair
    'mono8': (np.dtype(np.uint8), 1),
    'mono16': (np.dtype(np.uint16), 1),
    '16UC1': (np.dtype(np.uint16), 1),
    '32FC1': (np.dtype(np.float32), 1),
}
#: Which encodings each sensor of the contract accepts (the first one is what replay/tests write).
SENSOR_ENCODINGS: Dict[str, Tuple[str, ...]] = {
    'rgb': ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'yuv422', 'yuv422_yuy2'),
    'thermal': ('mono8', 'mono16', '16UC1'),
    'depth': ('16UC1', '32FC1'),
}
#: OpenCV conversions of the packed YUV 4:2:2 encodings to RGB (imported when a frame needs them).
_YUV422 = {'yuv422': 'COLOR_YUV2RGB_UYVY', 'yuv422_yuy2': 'COLOR_YUV2RGB_YUY2'}
_FROM_RGB_YUV422 = {'yuv422': 'COLOR_RGB2YUV_UYVY', 'yuv422_yuy2': 'COLOR_RGB2YUV_YUY2'}
#: Size of compressed_depth_image_transport's ConfigHeader: int32 format + float32 depthParam[2].
DEPTH_HEADER_BYTES = 12
MM_PER_M = 1000.0
#: The file encoding whose decoder scales 16-bit thermal by the model's thermal_scaling.
RADIOMETRIC = 'u16_radiometric'


def image_to_array(msg: Any, source: str = 'image') -> np.ndarray:
    """Pixels of an Image as a fresh native-endian array: (H, W) for one channel, else (H, W, C).

    ``source`` names the sensor/topic in error messages.
    """
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise SensorError(source, 'encoding', f'one of {", ".join(ENCODINGS)}', repr(enc))
    dtype, channels = ENCODINGS[enc]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise SensorError(source, 'height/width', 'both > 0', f'{height}x{width}')
    if msg.is_bigendian not in (0, 1, False, True):
        raise SensorError(source, 'is_bigendian', '0 or 1', msg.is_bigendian)
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise SensorError(source, 'step', f'>= {row_bytes} (width {width} x {channels} channel(s) x '
                          f'{dtype.itemsize} byte(s) for {enc})', step)
    data = msg.data
    buf = data if isinstance(data, np.ndarray) else np.frombuffer(data, np.uint8)
    if buf.size != step * height:
        raise SensorError(source, 'data', f'step x height = {step} x {height} = {step * height} bytes',
                          f'{buf.size} bytes')
    # Cut the row padding off, then reinterpret the bytes; the copy also detaches us from the buffer.
    rows = np.ascontiguousarray(buf.reshape(height, step)[:, :row_bytes])
    wire = dtype.newbyteorder('>' if msg.is_bigendian else '<') if dtype.itemsize > 1 else dtype
    pixels = rows.view(wire).astype(dtype, copy=False).reshape(height, width, channels)
    return pixels[..., 0] if channels == 1 else pixels


def array_to_image(array: np.ndarray, encoding: str, header: Any, *, step: Optional[int] = None,
                   is_bigendian: bool = False) -> Any:
    """Build an Image; ``step`` > minimal pads each row with zeros, ``is_bigendian`` swaps bytes."""
    if encoding not in ENCODINGS:
        raise ValueError(f'encoding {encoding!r} not supported; expected one of {", ".join(ENCODINGS)}')
    dtype, channels = ENCODINGS[encoding]
    arr = np.asarray(array)
    want_ndim = 2 if channels == 1 else 3
    if arr.ndim != want_ndim or (channels > 1 and arr.shape[2] != channels):
        raise ValueError(f'{encoding} needs an array of shape '
                         f'{"(H, W)" if channels == 1 else f"(H, W, {channels})"}, got {arr.shape}')
    if arr.dtype != dtype:
        raise ValueError(f'{encoding} needs dtype {dtype}, got {arr.dtype}')
    height, width = arr.shape[:2]
    row_bytes = width * channels * dtype.itemsize
    step = row_bytes if step is None else int(step)
    if step < row_bytes:
        raise ValueError(f'step {step} < {row_bytes} bytes per row for {encoding} at width {width}')
    wire = arr.astype(dtype.newbyteorder('>' if is_bigendian else '<'), copy=False)
    rows = np.zeros((height, step), np.uint8)
    rows[:, :row_bytes] = np.ascontiguousarray(wire).view(np.uint8).reshape(height, row_bytes)
    return msg_class(IMAGE)(header=header, height=height, width=width, encoding=encoding,
                            is_bigendian=int(bool(is_bigendian)), step=step, data=rows.reshape(-1))


def is_compressed(msg: Any) -> bool:
    """Whether ``msg`` is a ``sensor_msgs/CompressedImage`` (it has ``format``, not ``encoding``)."""
    return hasattr(msg, 'format') and not hasattr(msg, 'encoding')


def decode_sensor(msg: Any, sensor: str, source: Optional[str] = None,
                  thermal_scaling: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """An Image or CompressedImage of ``sensor`` ('rgb' | 'thermal' | 'depth') in the decoded
    representation.

    Args:
        msg: a ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` (rosbags message object).
        sensor: which sensor of the contract it is.
        source: names the sensor and topic in error messages (default: ``sensor``).
        thermal_scaling: the model's recorded 16-bit thermal scaling (``ModelSpec.thermal_scaling``,
            ``perception.sensors.thermal.ThermalScaling`` fields); applied to 16-bit thermal.

    Returns:
        The decoded array (module docstring). Raises ``SensorError`` for a malformed image.
    """
    where = source or sensor
    if sensor not in SENSOR_ENCODINGS:
        raise ValueError(f'unknown sensor {sensor!r}; expected one of {", ".join(SENSOR_ENCODINGS)}')
    if is_compressed(msg):
        pixels, encoding = compressed_to_array(msg, where)
        _check_sensor_encoding(encoding, sensor, where)
    else:
        _check_sensor_encoding(msg.encoding, sensor, where)
        pixels, encoding = image_to_array(msg, where), msg.encoding
    return decode_pixels(pixels, encoding, sensor, where, thermal_scaling)


def _check_sensor_encoding(encoding: str, sensor: str, where: str) -> None:
    if encoding not in SENSOR_ENCODINGS[sensor]:
        raise SensorError(where, 'encoding', f'one of {", ".join(SENSOR_ENCODINGS[sensor])} for the '
                          f'{sensor} sensor', repr(encoding))


def decode_pixels(pixels: np.ndarray, encoding: str, sensor: str, where: str,
                  thermal_scaling: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """Pixels of a raw ``encoding`` (``image_to_array``'s layout) in the decoded representation of
    ``sensor``."""
    if encoding == 'rgb8':
        return pixels
    if encoding == 'bgr8':
        return np.ascontiguousarray(pixels[..., ::-1])
    if encoding == 'rgba8':
        return np.ascontiguousarray(pixels[..., :3])
    if encoding == 'bgra8':
        return np.ascontiguousarray(pixels[..., 2::-1])
    if encoding in _YUV422:
        import cv2
        return cv2.cvtColor(np.ascontiguousarray(pixels), getattr(cv2, _YUV422[encoding]))
    if encoding == 'mono8':
        return pixels.astype(np.float32) / np.float32(255.0)
    if sensor == 'thermal' and encoding in ('mono16', '16UC1'):   # radiometric counts
        if thermal_scaling is None:
            return pixels.astype(np.float32) / np.float32(65535.0)
        from perception.sensors import get_encoding     # the package registers u16_radiometric
        from perception.sensors.encodings import Site
        return get_encoding(RADIOMETRIC, where, 'thermal').from_raw(
            pixels, Site(where, f'sensor_msgs/Image {encoding}'), thermal_scaling=thermal_scaling)
    if encoding == '16UC1':
        return pixels.astype(np.float32) / np.float32(MM_PER_M)
    # 32FC1 metres, REP 117: NaN / -inf / +inf are "no reading" (0 in the contract); negative values
    # are not depth: SensorError with the count of bad pixels, as perception infer reports them.
    from perception.sensors.encodings import float_depth
    return float_depth(pixels, where)


def encode_pixels(value: np.ndarray, sensor: str, encoding: str) -> np.ndarray:
    """The raw pixels of ``encoding`` for a decoded ``sensor`` array (rounded to the encoding)."""
    if encoding not in SENSOR_ENCODINGS.get(sensor, ()):
        raise ValueError(f'{sensor} cannot be written as {encoding!r}; expected one of '
                         f'{", ".join(SENSOR_ENCODINGS.get(sensor, ()))}')
    value = np.asarray(value)
    if encoding == 'rgb8':
        return value.astype(np.uint8)
    if encoding == 'bgr8':
        return np.ascontiguousarray(value.astype(np.uint8)[..., ::-1])
    if encoding in ('rgba8', 'bgra8'):
        rgb = value.astype(np.uint8)
        rgb = rgb if encoding == 'rgba8' else rgb[..., ::-1]
        return np.ascontiguousarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]))
    if encoding in _FROM_RGB_YUV422:
        import cv2
        return cv2.cvtColor(np.ascontiguousarray(value.astype(np.uint8)),
                            getattr(cv2, _FROM_RGB_YUV422[encoding]))
    if encoding == 'mono8':
        return np.clip(np.rint(value * 255.0), 0, 255).astype(np.uint8)
    if sensor == 'thermal' and encoding in ('mono16', '16UC1'):
        return np.clip(np.rint(value * 65535.0), 0, 65535).astype(np.uint16)
    if encoding == '16UC1':
        return np.clip(np.rint(np.nan_to_num(value) * MM_PER_M), 0, 65535).astype(np.uint16)
    return value.astype(np.float32)


def encode_sensor(value: np.ndarray, sensor: str, encoding: str, header: Any, **kwargs: Any) -> Any:
    """Inverse of :func:`decode_sensor` (used to write bags and test inputs); rounds to the encoding.
    16-bit thermal is written as / 65535 counts (``u16_unit``)."""
    return array_to_image(encode_pixels(value, sensor, encoding), encoding, header, **kwargs)


# --- sensor_msgs/CompressedImage (image_transport's compressed and compressedDepth) ---------------
def _parse_format(fmt: str) -> Tuple[str, str, str]:
    """``(raw encoding, codec, target)`` of a CompressedImage ``format`` (module docstring):
    ``'bgr8; jpeg compressed bgr8'`` -> ``('bgr8', 'jpeg', 'bgr8')``, ``'16UC1; compressedDepth png'``
    -> ``('16UC1', 'compressedDepth', 'png')``, ``'jpeg'`` -> ``('', 'jpeg', '')``."""
    raw, sep, rest = (part.strip() for part in fmt.partition(';'))
    if not sep:      # ROS 1 style: the codec alone
        return '', raw.lower(), ''
    words = rest.split()
    if words and words[0] == 'compressedDepth':
        return raw, 'compressedDepth', words[1] if len(words) > 1 else 'png'
    codec = words[0].lower() if words else ''
    target = words[2] if len(words) > 2 and words[1] == 'compressed' else ''
    return raw, codec, target


def compressed_to_array(msg: Any, source: str = 'image') -> Tuple[np.ndarray, str]:
    """A CompressedImage's pixels and the raw encoding they are in (``image_to_array``'s layout).

    Raises:
        SensorError: an unknown or unsupported ``format`` (RVL depth), an empty or undecodable
            payload, or pixels that do not fit what the format says.
    """
    import cv2
    fmt = str(msg.format)
    raw, codec, target = _parse_format(fmt)
    data = msg.data
    buf = np.ascontiguousarray(data if isinstance(data, np.ndarray)
                               else np.frombuffer(bytes(data), np.uint8), dtype=np.uint8)
    if codec == 'compressedDepth':
        return _compressed_depth(buf, raw, target, fmt, source), raw
    if codec not in ('jpeg', 'jpg', 'png'):
        raise SensorError(source, 'format', "image_transport's '<encoding>; jpeg compressed "
                          "<target>', '<encoding>; png compressed <target>' or '<encoding>; "
                          "compressedDepth png'", repr(fmt))
    pixels = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if pixels is None:
        raise SensorError(source, 'data', f'a {codec} payload OpenCV can decode', f'{buf.size} bytes '
                          'that are not one')
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if not target:    # a bare 'jpeg' / 'png': OpenCV's own channel order
        target = {(1, 'uint8'): 'mono8', (1, 'uint16'): 'mono16', (3, 'uint8'): 'bgr8',
                  (4, 'uint8'): 'bgra8'}.get((channels, pixels.dtype.name), '')
    # imdecode hands back the array that was encoded: the pixels are in the target's order
    # (compressed_image_transport converts colour to bgr8 before encoding)
    expected = {'mono8': (np.uint8, 1), 'mono16': (np.uint16, 1), 'bgr8': (np.uint8, 3),
                'rgb8': (np.uint8, 3), 'bgra8': (np.uint8, 4), 'rgba8': (np.uint8, 4)}
    if target not in expected:
        raise SensorError(source, 'format', f'a compressed target of {", ".join(expected)}',
                          repr(fmt))
    dtype, want = expected[target]
    if pixels.dtype != dtype or channels != want:
        raise SensorError(source, 'data', f'{want}-channel {np.dtype(dtype).name} pixels '
                          f'({target}, as the format says)',
                          f'{channels}-channel {pixels.dtype.name}')
    return np.ascontiguousarray(pixels), target


def _compressed_depth(buf: np.ndarray, raw: str, codec: str, fmt: str, source: str) -> np.ndarray:
    """compressed_depth_image_transport's payload: a 12-byte ConfigHeader, then a PNG of the depth
    in millimetres (16UC1) or of its quantised inverse (32FC1: depth = A / (q - B), q = 0 none)."""
    import cv2
    if codec != 'png':
        raise SensorError(source, 'format', "compressedDepth png (the RVL codec is not supported: "
                          "set the publisher's format parameter to png)", repr(fmt))
    if raw not in ('16UC1', '32FC1'):
        raise SensorError(source, 'format', 'compressedDepth of 16UC1 or 32FC1 depth', repr(fmt))
    if buf.size <= DEPTH_HEADER_BYTES:
        raise SensorError(source, 'data', f'a {DEPTH_HEADER_BYTES}-byte compressedDepth header and '
                          'a PNG', f'{buf.size} bytes')
    quant_a, quant_b = (float(v) for v in buf[4:DEPTH_HEADER_BYTES].view('<f4'))
    pixels = cv2.imdecode(buf[DEPTH_HEADER_BYTES:], cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.ndim != 2 or pixels.dtype != np.uint16:
        raise SensorError(source, 'data', 'a 16-bit single-channel PNG after the compressedDepth '
                          'header', 'no such image' if pixels is None else
                          f'{pixels.dtype.name} of shape {pixels.shape}')
    if raw == '16UC1':
        return pixels
    q = pixels.astype(np.float32)
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(quant_a) / (q - np.float32(quant_b))
    return np.where(pixels > 0, depth, np.float32(np.nan)).astype(np.float32)


def compress_sensor(value: np.ndarray, sensor: str, encoding: str, header: Any,
                    codec: str = 'png', depth_max: float = 10.0,
                    depth_quantization: float = 100.0) -> Any:
    """A CompressedImage of a decoded ``sensor`` array as image_transport's publishers write it
    (``compressed`` for rgb and thermal: ``codec`` jpeg or png; ``compressedDepth`` png for depth,
    with its ``depth_max`` and ``depth_quantization`` parameters); to write bags and test inputs."""
    import cv2
    pixels = encode_pixels(value, sensor, encoding)
    if sensor == 'depth':
        config = np.zeros(3, '<f4')
        config[:1].view('<i4')[0] = 0   # INV_DEPTH, the one format the transport writes
        if encoding == '32FC1':
            d = np.asarray(pixels, np.float32)
            quant_a = np.float32(depth_quantization * (depth_quantization + 1.0))
            quant_b = np.float32(1.0 - quant_a / np.float32(depth_max))
            with np.errstate(divide='ignore', invalid='ignore'):
                inv = np.where((d < depth_max) & (d > 0), quant_a / d + quant_b, 0)
            pixels = np.clip(inv, 0, 65535).astype(np.uint16)
            config[1], config[2] = quant_a, quant_b
        ok, data = cv2.imencode('.png', pixels)
        fmt = f'{encoding}; compressedDepth png'
        payload = np.concatenate([config.view(np.uint8), data.reshape(-1)])
    else:
        target = 'mono8'
        if sensor == 'rgb':     # compressed_image_transport converts colour to bgr8 first
            pixels, target = np.ascontiguousarray(np.asarray(value, np.uint8)[..., ::-1]), 'bgr8'
        elif pixels.dtype == np.uint16:
            target = 'mono16'
            if codec != 'png':
                raise ValueError('16-bit thermal is compressed as png (jpeg has 8 bits)')
        ok, data = cv2.imencode('.jpg' if codec == 'jpeg' else '.png',
                                np.ascontiguousarray(pixels))
        fmt = f'{encoding}; {codec} compressed {target}'
        payload = data.reshape(-1)
    if not ok:
        raise ValueError(f'OpenCV could not encode {sensor} as {fmt}')
    return msg_class(COMPRESSED_IMAGE)(header=header, format=fmt,
                                       data=np.ascontiguousarray(payload, dtype=np.uint8))
