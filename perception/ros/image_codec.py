"""``sensor_msgs/Image`` <-> numpy, and ROS images <-> the decoded sensor representation.

Encodings accepted (REP 118 / sensor_msgs/image_encodings.hpp names): ``rgb8``, ``bgr8``, ``mono8``,
``mono16``, ``16UC1``, ``32FC1``. Rows may be padded (``step`` larger than ``width * bytes per pixel``)
and multi-byte pixels may be big-endian (``is_bigendian``); both are honoured on decode and can be
produced on encode, so round trips are testable.

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

from .typestore import IMAGE, msg_class

#: encoding -> (pixel dtype, channels)
ENCODINGS: Dict[str, Tuple[np.dtype, int]] = {
    'rgb8': (np.dtype(np.uint8), 3),
    'bgr8': (np.dtype(np.uint8), 3),
    'mono8': (np.dtype(np.uint8), 1),
    'mono16': (np.dtype(np.uint16), 1),
    '16UC1': (np.dtype(np.uint16), 1),
    '32FC1': (np.dtype(np.float32), 1),
}
#: Which encodings each sensor of the contract accepts (the first one is what replay/tests write).
SENSOR_ENCODINGS: Dict[str, Tuple[str, ...]] = {
    'rgb': ('rgb8', 'bgr8'),
    'thermal': ('mono8', 'mono16'),
    'depth': ('16UC1', '32FC1'),
}
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


def decode_sensor(msg: Any, sensor: str, source: Optional[str] = None,
                  thermal_scaling: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """An Image of ``sensor`` ('rgb' | 'thermal' | 'depth') in the decoded representation.

    Args:
        msg: a ``sensor_msgs/Image`` (rosbags message object).
        sensor: which sensor of the contract it is.
        source: names the sensor and topic in error messages (default: ``sensor``).
        thermal_scaling: the model's recorded 16-bit thermal scaling (``ModelSpec.thermal_scaling``,
            ``perception.sensors.thermal.ThermalScaling`` fields); applied to mono16 thermal.

    Returns:
        The decoded array (module docstring). Raises ``SensorError`` for a malformed image.
    """
    where = source or sensor
    if sensor not in SENSOR_ENCODINGS:
        raise ValueError(f'unknown sensor {sensor!r}; expected one of {", ".join(SENSOR_ENCODINGS)}')
    if msg.encoding not in SENSOR_ENCODINGS[sensor]:
        raise SensorError(where, 'encoding', f'one of {", ".join(SENSOR_ENCODINGS[sensor])} for the '
                          f'{sensor} sensor', repr(msg.encoding))
    pixels = image_to_array(msg, where)
    if msg.encoding == 'rgb8':
        return pixels
    if msg.encoding == 'bgr8':
        return np.ascontiguousarray(pixels[..., ::-1])
    if msg.encoding == 'mono8':
        return pixels.astype(np.float32) / np.float32(255.0)
    if msg.encoding == 'mono16':
        if thermal_scaling is None:
            return pixels.astype(np.float32) / np.float32(65535.0)
        from perception.sensors import get_encoding     # the package registers u16_radiometric
        from perception.sensors.encodings import Site
        return get_encoding(RADIOMETRIC, where, 'thermal').from_raw(
            pixels, Site(where, 'sensor_msgs/Image mono16'), thermal_scaling=thermal_scaling)
    if msg.encoding == '16UC1':
        return pixels.astype(np.float32) / np.float32(MM_PER_M)
    # 32FC1 metres, REP 117: NaN / -inf / +inf are "no reading" (0 in the contract); negative values
    # are not depth: SensorError with the count of bad pixels, as perception infer reports them.
    from perception.sensors.encodings import float_depth
    return float_depth(pixels, where)


def encode_sensor(value: np.ndarray, sensor: str, encoding: str, header: Any, **kwargs: Any) -> Any:
    """Inverse of :func:`decode_sensor` (used to write bags and test inputs); rounds to the encoding."""
    if encoding not in SENSOR_ENCODINGS.get(sensor, ()):
        raise ValueError(f'{sensor} cannot be written as {encoding!r}; expected one of '
                         f'{", ".join(SENSOR_ENCODINGS.get(sensor, ()))}')
    value = np.asarray(value)
    if encoding == 'rgb8':
        pixels = value.astype(np.uint8)
    elif encoding == 'bgr8':
        pixels = np.ascontiguousarray(value.astype(np.uint8)[..., ::-1])
    elif encoding == 'mono8':
        pixels = np.clip(np.rint(value * 255.0), 0, 255).astype(np.uint8)
    elif encoding == 'mono16':
        pixels = np.clip(np.rint(value * 65535.0), 0, 65535).astype(np.uint16)
    elif encoding == '16UC1':
        pixels = np.clip(np.rint(np.nan_to_num(value) * MM_PER_M), 0, 65535).astype(np.uint16)
    else:
        pixels = value.astype(np.float32)
    return array_to_image(pixels, encoding, header, **kwargs)
