"""ROS 2 message types as CycloneDDS topic types, generated from the rosbags typestore.

ROS 2 maps a message ``pkg/msg/Name`` to the DDS type ``pkg::msg::dds_::Name_`` and a topic ``/a/b``
to the DDS topic ``rt/a/b`` (rmw naming conventions); struct members carry a trailing underscore as in
rosidl_generator_dds_idl. The classes built here carry exactly that name and structure, so DDS
discovery announces what a ROS 2 node announces.

Payloads: the *encoding* stays with rosbags (typestore.py, the package's one codec). A generated class
gets codec hooks: ``serialize`` returns the rosbags CDR held by a sample made with :meth:`wire_sample`,
and ``deserialize`` (what cyclonedds' DataReader calls) returns a :class:`RawSample` holding the CDR
bytes untouched. This avoids a per-field Python conversion on the hot path (cyclonedds-python packs a
``sequence<uint8>`` element by element: ~70 ms for one VGA RGB frame). cyclonedds' own serializer
stays reachable through :meth:`to_idl` + ``IdlStruct.serialize``; tests use it to prove that the
generated structure produces byte-identical CDR to rosbags' serializer.
"""
from __future__ import annotations

import functools
from typing import Any, Dict

import numpy as np
from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as T
from rosbags.typesys.base import Nodetype

from .typestore import typestore

_BASE = {
    'bool': bool, 'byte': T.byte, 'char': T.uint8, 'int8': T.int8, 'uint8': T.uint8,
    'int16': T.int16, 'uint16': T.uint16, 'int32': T.int32, 'uint32': T.uint32,
    'int64': T.int64, 'uint64': T.uint64, 'float32': T.float32, 'float64': T.float64,
}
_NUMPY_SEQ = ('byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64',
              'uint64', 'float32', 'float64', 'bool')


def dds_type_name(msgtype: str) -> str:
    """``sensor_msgs/msg/Image`` -> ``sensor_msgs::msg::dds_::Image_``."""
    pkg, kind, name = msgtype.split('/')
    return f'{pkg}::{kind}::dds_::{name}_'


def dds_topic_name(topic: str, namespace: str = '/') -> str:
    """ROS 2 topic name -> DDS topic name (``/camera/rgb`` -> ``rt/camera/rgb``).

    Relative names are resolved against ``namespace`` like rclpy does (no ``~`` support)."""
    if not topic:
        raise ValueError('empty topic name')
    if topic.startswith('~'):
        raise ValueError(f'private topic names ({topic!r}) need a node name; use an absolute name')
    if not topic.startswith('/'):
        topic = '/'.join((namespace.rstrip('/'), topic)) if namespace.strip('/') else '/' + topic
    return 'rt' + topic


class RawSample:
    """What a DataReader of a generated type returns: the CDR payload, decoded later by rosbags."""
    __slots__ = ('cdr', 'sample_info')

    def __init__(self, cdr: bytes):
        self.cdr = cdr
        self.sample_info = None


def _serialize(self, buffer=None, endianness=None, use_version_2=None) -> bytes:
    raw = self.__dict__.get('_rosbags_cdr')
    if raw is not None:
        return raw
    return IdlStruct.serialize(self, buffer=buffer, endianness=endianness, use_version_2=use_version_2)


def _deserialize(cls, data, has_header=True, use_version_2=None) -> RawSample:
    return RawSample(bytes(data))


@functools.lru_cache(maxsize=None)
def idl_class(msgtype: str) -> type:
    """The CycloneDDS type of a ROS 2 message type (cached: one class per type per process)."""
    _, fields = typestore().fielddefs[msgtype]
    annotations = {f'{name}_': _field_type(desc) for name, desc in fields}
    if not annotations:   # empty ROS messages get one uint8 member in the DDS IDL
        annotations = {'structure_needs_at_least_one_member': T.uint8}
    cls = make_idl_struct(msgtype.split('/')[-1] + '_', dds_type_name(msgtype), annotations)
    # Codec hooks on our own generated class (see the module docstring for why).
    cls.serialize = _serialize
    cls.deserialize = classmethod(_deserialize)
    return cls


def _field_type(desc) -> Any:
    kind, arg = desc
    if kind == Nodetype.BASE:
        name, bound = arg
        if name == 'string':
            return T.bounded_str[bound] if bound else str
        return _BASE[name]
    if kind == Nodetype.NAME:
        return idl_class(arg)
    sub, size = arg
    inner = _field_type(sub)
    if kind == Nodetype.ARRAY:
        return T.array[inner, size]
    return T.sequence[inner, size] if size else T.sequence[inner]


def wire_sample(cdr: bytes, msgtype: str) -> Any:
    """A sample of the DDS type whose payload is ``cdr`` (rosbags' serialisation) as is."""
    cls = idl_class(msgtype)
    sample = object.__new__(cls)
    sample.__dict__['_rosbags_cdr'] = bytes(cdr)
    return sample


def to_idl(msg: Any, msgtype: str) -> Any:
    """rosbags message -> cyclonedds-native object (field by field; for checks, not the hot path)."""
    cls = idl_class(msgtype)
    _, fields = typestore().fielddefs[msgtype]
    values: Dict[str, Any] = {}
    for name, (kind, arg) in fields:
        value = getattr(msg, name)
        if kind == Nodetype.NAME:
            values[f'{name}_'] = to_idl(value, arg)
        elif kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            sub_kind, sub_arg = arg[0]
            if sub_kind == Nodetype.NAME:
                values[f'{name}_'] = [to_idl(v, sub_arg) for v in value]
            elif sub_kind == Nodetype.BASE and sub_arg[0] in _NUMPY_SEQ:
                values[f'{name}_'] = np.asarray(value).tolist()
            else:
                values[f'{name}_'] = list(value)
        else:
            values[f'{name}_'] = value
    if not fields:
        values['structure_needs_at_least_one_member'] = 0
    return cls(**values)
