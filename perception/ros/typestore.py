"""The one ROS 2 message codec of the package: rosbags' Humble typestore plus vision_msgs.

Every path that turns messages into bytes or back (the DDS transport, bag replay, the rclpy layer via
raw CDR) goes through this typestore, so a payload written by one is byte-identical to what the others
write and to what a ROS 2 node using the same definitions puts on the wire.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, Tuple

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MSG_DIR = Path(__file__).with_name('msg')
#: vision_msgs types registered from ``msg/*.msg`` (order is irrelevant: rosbags resolves names).
VISION_MSGS: Tuple[str, ...] = ('Point2D', 'Pose2D', 'BoundingBox2D', 'ObjectHypothesis',
                                'ObjectHypothesisWithPose', 'Detection2D', 'Detection2DArray',
                                'VisionClass', 'LabelInfo')

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
DETECTION2D_ARRAY = 'vision_msgs/msg/Detection2DArray'
LABEL_INFO = 'vision_msgs/msg/LabelInfo'
DIAGNOSTIC_ARRAY = 'diagnostic_msgs/msg/DiagnosticArray'


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """ROS 2 Humble types (sensor_msgs, diagnostic_msgs, ...) with vision_msgs 4.x registered."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    types: Dict[str, Any] = {}
    for name in VISION_MSGS:
        text = (MSG_DIR / f'{name}.msg').read_text()
        types.update(get_types_from_msg(text, f'vision_msgs/msg/{name}'))
    store.register(types)
    return store


def msg_class(msgtype: str) -> Any:
    """The message dataclass of ``msgtype`` (e.g. ``'sensor_msgs/msg/Image'``)."""
    try:
        return typestore().types[msgtype]
    except KeyError:
        raise KeyError(f'message type {msgtype!r} is not in the typestore (ROS 2 Humble + '
                       'vision_msgs); register its .msg definition first') from None


def serialize(msg: Any, msgtype: str) -> bytes:
    """CDR (little endian, with the 4-byte encapsulation header) as ROS 2 puts it on the wire."""
    return bytes(typestore().serialize_cdr(msg, msgtype))


def deserialize(raw: bytes | memoryview, msgtype: str) -> Any:
    return typestore().deserialize_cdr(raw, msgtype)


def header(stamp_ns: int, frame_id: str = '') -> Any:
    """``std_msgs/Header`` from integer nanoseconds (ints, so stamps survive round trips exactly)."""
    store = typestore().types
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return store['std_msgs/msg/Header'](
        stamp=store['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id=frame_id)


def stamp_ns(hdr: Any) -> int:
    """Header stamp as integer nanoseconds: exact, and orderable for the synchroniser."""
    return int(hdr.stamp.sec) * 1_000_000_000 + int(hdr.stamp.nanosec)


def pinhole_camera_info(width: int, height: int, focal: float, frame_id: str = 'camera',
                        stamp_ns: int = 0) -> Any:
    """A pinhole ``sensor_msgs/CameraInfo``: focal length ``focal`` px, principal point at the
    image centre, no distortion (rigs in tests and tools; a driver sends its own calibration)."""
    import numpy as np
    k = np.array([focal, 0, width / 2, 0, focal, height / 2, 0, 0, 1], np.float64)
    p = np.array([focal, 0, width / 2, 0, 0, focal, height / 2, 0, 0, 0, 1, 0], np.float64)
    roi = msg_class('sensor_msgs/msg/RegionOfInterest')(x_offset=0, y_offset=0, height=0,
                                                        width=0, do_rectify=False)
    return msg_class(CAMERA_INFO)(
        header=header(stamp_ns, frame_id), height=height, width=width,
        distortion_model='plumb_bob', d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=p,
        binning_x=0, binning_y=0, roi=roi)
