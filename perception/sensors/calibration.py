"""Rig calibration for registration: from a YAML file (the CLI) or CameraInfo fields (the ROS node).

The file holds one section per sensor; each camera is written as ROS ``camera_info`` YAML
(``camera_calibration_parsers``) or OpenCV calibration output writes it, inline or in its own file::

    rgb:                                   # the colour camera: everything is registered to it
      camera_info: rgb.yaml                # a ROS/OpenCV camera file, relative to this one, or:
      # image_width: 640, image_height: 480,
      # camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]},
      # distortion_model: plumb_bob, distortion_coefficients: {rows: 1, cols: 5, data: [...]}
    thermal:
      camera_info: thermal.yaml
      transform_to_rgb:                    # pose of the thermal optical frame in the rgb one
        translation: [0.05, 0.0, 0.0]      # metres          (static_transform_publisher --x --y --z)
        rotation: [0.0, 0.0, 0.0, 1.0]     # qx, qy, qz, qw  (--qx --qy --qz --qw)
        # or matrix: {rows: 4, cols: 4, data: [...]}   (p_rgb = M p_thermal)
      plane_distance: .inf                 # metres, for pixels without depth (default: distant)
      # or, without intrinsics: homography: {rows: 3, cols: 3, data: [...]}  (thermal px -> rgb px)
      #                         image_width: 640, image_height: 512
    depth:
      camera_info: depth.yaml
      transform_to_rgb: {translation: [...], rotation: [...]}

OpenCV's own YAML (``%YAML:1.0`` header, ``!!opencv-matrix`` tags) is read too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import yaml

from perception.contract import SENSORS, ConfigError

from .cameras import CameraModel, Rigid, matrix_values
from .registration import Registration, ThermalCalibration

#: one section per sensor, in the contract's order
SECTIONS = SENSORS
_SENSOR_KEYS = ('camera_info', 'transform_to_rgb', 'plane_distance', 'homography')
_CAMERA_KEYS = ('image_width', 'image_height', 'width', 'height', 'camera_name', 'camera_matrix',
                'k', 'K', 'distortion_model', 'distortion_coefficients', 'd', 'D',
                'rectification_matrix', 'projection_matrix', 'r', 'p', 'binning_x', 'binning_y',
                'roi')


class _Loader(yaml.SafeLoader):
    """Safe YAML plus OpenCV's ``!!opencv-matrix`` (a mapping with rows, cols, dt, data)."""


_Loader.add_constructor('tag:yaml.org,2002:opencv-matrix',
                        lambda loader, node: loader.construct_mapping(node, deep=True))


def read_yaml(path: Union[str, Path]) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'calibration file not found: {path}')
    text = path.read_text(errors='replace')
    if text.startswith('%YAML:'):   # OpenCV FileStorage header, not valid YAML 1.1
        text = text.split('\n', 1)[1] if '\n' in text else ''
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark is not None else ''
        what = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
        raise ConfigError(f'{path}: not valid YAML{where} ({what})') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a mapping of sections {SECTIONS}, got '
                          f'{type(data).__name__}')
    return data


def _camera(section: Mapping, name: str, folder: Path) -> CameraModel:
    fields = {k: v for k, v in section.items() if k in _CAMERA_KEYS}
    ref = section.get('camera_info')
    if ref is not None:
        fields = {**read_yaml(folder / str(ref)), **fields}
        name = f'{name} ({folder / str(ref)})'
    return CameraModel.from_camera_info(fields, name)


def _transform(value: Any, what: str) -> Rigid:
    if isinstance(value, Mapping) and 'matrix' in value:
        return Rigid.from_matrix(matrix_values(value['matrix'], f'{what}.matrix', (4, 4)))
    if isinstance(value, Mapping) and {'translation', 'rotation'} <= set(value):
        return Rigid.from_quaternion(matrix_values(value['translation'], f'{what}.translation'),
                                     matrix_values(value['rotation'], f'{what}.rotation'))
    if isinstance(value, (list, tuple)) and len(value) == 7:
        return Rigid.from_static_transform(value)
    raise ConfigError(f'{what}: expected {{translation: [x, y, z], rotation: [qx, qy, qz, qw]}}, '
                      f'{{matrix: 4x4}} or [x, y, z, qx, qy, qz, qw], got {value!r}')


def _distance(value: Any, what: str) -> float:
    try:
        d = float(np.inf if value is None else value)
    except (TypeError, ValueError):
        raise ConfigError(f'{what}: expected metres (> 0, .inf = distant scene), got {value!r}') \
            from None
    if not d > 0:
        raise ConfigError(f'{what}: expected metres (> 0, .inf = distant scene), got {value!r}')
    return d


def load_calibration(path: Union[str, Path]) -> Registration:
    """Read a calibration YAML (format in the module docstring) into a :class:`Registration`."""
    path = Path(path)
    data = read_yaml(path)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown or 'rgb' not in data:
        raise ConfigError(f'{path}: expected sections {SECTIONS} with rgb required; '
                          f'unknown {unknown}, found {sorted(data)}')
    sections = {}
    for name in SECTIONS:
        section = data.get(name)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise ConfigError(f'{path}: section {name!r} must be a mapping')
        bad = sorted(set(section) - set(_SENSOR_KEYS) - set(_CAMERA_KEYS))
        if bad:
            raise ConfigError(f'{path}: section {name!r}: unknown keys {bad}; expected camera '
                              f'fields or {_SENSOR_KEYS}')
        sections[name] = section
    folder = path.parent
    color = _camera(sections['rgb'], 'rgb', folder)
    thermal = depth = None
    if 'thermal' in sections:
        s = sections['thermal']
        dist = _distance(s.get('plane_distance'), f'{path}: thermal.plane_distance')
        if 'homography' in s and 'transform_to_rgb' not in s:
            size = None
            if s.get('image_width') is not None and s.get('image_height') is not None:
                size = (int(s['image_height']), int(s['image_width']))
            thermal = ThermalCalibration(
                homography=matrix_values(s['homography'], f'{path}: thermal.homography', (3, 3)),
                size=size)
        else:
            if 'transform_to_rgb' not in s:
                raise ConfigError(f'{path}: thermal needs transform_to_rgb (with its camera) or '
                                  'a homography')
            thermal = ThermalCalibration(
                camera=_camera(s, 'thermal', folder), plane_distance=dist,
                transform=_transform(s['transform_to_rgb'], f'{path}: thermal.transform_to_rgb'))
    if 'depth' in sections:
        s = sections['depth']
        if 'transform_to_rgb' not in s:
            raise ConfigError(f'{path}: depth needs transform_to_rgb and its camera')
        depth = (_camera(s, 'depth', folder),
                 _transform(s['transform_to_rgb'], f'{path}: depth.transform_to_rgb'))
    return Registration(color, thermal, depth, source=str(path))


def registration_from_camera_info(rgb: Any, thermal: Any = None, depth: Any = None,
                                  thermal_transform: Optional[Sequence[float]] = None,
                                  depth_transform: Optional[Sequence[float]] = None,
                                  plane_distance: float = np.inf) -> Registration:
    """For the ROS node (no ROS import here): ``rgb``/``thermal``/``depth`` are
    ``sensor_msgs/CameraInfo`` messages (or mappings with ``k``, ``d``, ``width``, ``height``,
    ``distortion_model``) of the topics the images come from; the transforms are static transform
    parameters ``[x, y, z, qx, qy, qz, qw]``: the pose of that camera's optical frame in the colour
    camera's optical frame (what ``tf2`` returns for ``lookup_transform(rgb_frame, thermal_frame)``)."""
    color = CameraModel.from_camera_info(rgb, 'rgb camera_info')
    therm = dep = None
    if thermal is not None:
        if thermal_transform is None:
            raise ConfigError('thermal camera_info given without the thermal -> rgb transform')
        therm = ThermalCalibration(camera=CameraModel.from_camera_info(thermal, 'thermal '
                                                                                'camera_info'),
                                   transform=Rigid.from_static_transform(thermal_transform),
                                   plane_distance=_distance(plane_distance, 'plane_distance'))
    if depth is not None:
        if depth_transform is None:
            raise ConfigError('depth camera_info given without the depth -> rgb transform')
        dep = (CameraModel.from_camera_info(depth, 'depth camera_info'),
               Rigid.from_static_transform(depth_transform))
    return Registration(color, therm, dep, source='camera_info')
