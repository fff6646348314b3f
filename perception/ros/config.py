"""Node parameters: one flat set shared by the rclpy node, the DDS runner and bag replay.

The names are the ROS 2 parameter names (nested YAML keys joined with '.', as rclpy does), so
``ros_nodes/config/params.yaml`` is the single place where defaults live for a deployment.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import yaml

from perception.contract import SENSORS, ConfigError, renamed_settings

from .outputs import OUTPUTS, OutputOptions
from .typestore import COMPRESSED_IMAGE, IMAGE

QOS_PRESETS = ('sensor_data', 'default')
#: Sensors that can be registered onto the colour camera's grid, and their transform parameter.
REGISTERED_SENSORS = ('thermal', 'depth')
#: The former single CameraInfo topic (re-stamped onto the outputs): read as the CameraInfo of the
#: reference sensor (the first enabled one) for one release, with a warning.
DEPRECATED_CAMERA_INFO = 'topics.camera_info'
_TRANSFORM_HELP = ('[x, y, z, qx, qy, qz, qw]: the pose of the {s} optical frame in the rgb optical '
                   'frame (tf2 lookup_transform(rgb_frame, {s}_frame); metres, unit quaternion)')


@dataclass(frozen=True)
class QosSpec:
    """Transport-neutral QoS: each transport maps it to its own profile type."""
    reliability: str = 'best_effort'   # best_effort | reliable
    depth: int = 5
    durability: str = 'volatile'       # volatile | transient_local

    @classmethod
    def preset(cls, name: str, depth: Optional[int] = None) -> 'QosSpec':
        # The two rclpy presets: qos_profile_sensor_data and the default publisher/subscriber profile.
        if name == 'sensor_data':
            return cls('best_effort', depth or 5, 'volatile')
        if name == 'default':
            return cls('reliable', depth or 10, 'volatile')
        raise ValueError(f'QoS preset {name!r}; expected one of {QOS_PRESETS}')


REGISTRATION_PARAMETERS = ('registration.thermal_to_rgb', 'registration.depth_to_rgb',
                           'registration.plane_distance')
#: Fields written as nested parameters (``topics.*``, ``sync.*``, ``registration.*``...).
NESTED_FIELDS = ('topics', 'camera_info_topics', 'transports', 'output_topics', 'node_name', 'slop',
                 'queue_size', 'thermal_to_rgb', 'depth_to_rgb', 'plane_distance')
#: image_transport transport of an input topic -> the message type it carries; which a sensor may use
TRANSPORTS = {'raw': IMAGE, 'compressed': COMPRESSED_IMAGE, 'compressedDepth': COMPRESSED_IMAGE}
SENSOR_TRANSPORTS = {'rgb': ('raw', 'compressed'), 'thermal': ('raw', 'compressed'),
                     'depth': ('raw', 'compressedDepth')}


@dataclass(frozen=True)
class NodeConfig:
    node_name: str = 'perception_node'
    # predictor (predictor_factory.py)
    model_path: str = ''                 # .onnx / TensorRT engine / config (.py) + checkpoint_path
    checkpoint_path: str = ''            # the weights of a config model_path (required with one)
    backend: str = 'onnxruntime'
    ort_threads: int = 0                 # ONNX Runtime intra-op threads; 0: its default (all cores)
    ort_providers: Tuple[str, ...] = ()  # ONNX Runtime execution providers; (): fastest available
    score_thr: float = 0.3               # detections below are not published
    # the overlay draws detections scored this or more; < 0: the model's display_thr (chosen on
    # validation frames, perception export records it), else every published detection
    display_thr: float = -1.0
    iou_thr: float = 0.5                 # class-aware NMS IoU, passed to the predictor
    # inputs: '' disables a sensor
    topics: Dict[str, str] = field(default_factory=lambda: {
        'rgb': '/camera/color/image_raw', 'thermal': '/thermal/image_raw',
        'depth': '/camera/depth/image_rect_raw'})
    # sensor_msgs/CameraInfo of each camera ('' = none). The output grid's one is re-stamped onto
    # the outputs; with registration the rgb one and those of the registered sensors are required.
    camera_info_topics: Dict[str, str] = field(default_factory=lambda: {s: '' for s in SENSORS})
    # what each input topic carries (image_transport's names): raw sensor_msgs/Image, or
    # sensor_msgs/CompressedImage ('compressed': jpeg/png; 'compressedDepth' for depth)
    transports: Dict[str, str] = field(default_factory=lambda: {s: 'raw' for s in SENSORS})
    # registration onto the colour camera's grid (perception/sensors/registration.py): a sensor is
    # registered when its CameraInfo topic and its static transform are both given
    thermal_to_rgb: Tuple[float, ...] = ()   # [x, y, z, qx, qy, qz, qw], () = not registered
    depth_to_rgb: Tuple[float, ...] = ()
    plane_distance: float = math.inf     # metres: thermal pixels without depth lie on this plane
    # outputs
    output_topics: Dict[str, str] = field(default_factory=lambda: {
        'labels': 'perception/labels', 'overlay': 'perception/overlay',
        'detections': 'perception/detections', 'depth': 'perception/depth',
        'camera_info': 'perception/camera_info', 'diagnostics': '/diagnostics',
        'det_classes': 'perception/det_classes', 'seg_classes': 'perception/seg_classes'})
    publish: Tuple[str, ...] = OUTPUTS
    labels_encoding: str = 'auto'
    class_id: str = 'name'
    overlay_alpha: float = 0.5
    output_frame_id: str = ''            # '' = frame_id of the reference (first present) sensor
    # synchronisation and health
    slop: float = 0.05                   # seconds
    queue_size: int = 10
    stale_timeout: float = 0.5           # seconds
    diagnostics_period: float = 1.0      # seconds
    input_qos: str = 'sensor_data'
    input_qos_depth: int = 5
    output_qos: str = 'default'
    output_qos_depth: int = 10

    def __post_init__(self):
        unknown = set(self.topics) - set(SENSORS)
        if unknown:
            raise ValueError(f'topics: unknown sensors {sorted(unknown)}; expected {SENSORS}')
        if not self.sensors:
            raise ValueError('topics: every sensor topic is empty; configure at least one of '
                             f'{SENSORS}')
        for name in ('slop', 'stale_timeout', 'diagnostics_period'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name}: expected > 0, got {getattr(self, name)}')
        for sensor, transport in self.transports.items():
            allowed = SENSOR_TRANSPORTS.get(sensor, ())
            if transport not in allowed:
                raise ConfigError(f'topics.{sensor}_transport: expected one of {allowed} (raw '
                                  'sensor_msgs/Image or image_transport\'s CompressedImage), got '
                                  f'{transport!r}')
        QosSpec.preset(self.input_qos)
        QosSpec.preset(self.output_qos)
        self.output_options()   # validates publish / labels_encoding / class_id
        self._check_registration()

    def _check_registration(self) -> None:
        unknown = set(self.camera_info_topics) - set(SENSORS)
        if unknown:
            raise ConfigError(f'camera info topics: unknown sensors {sorted(unknown)}; expected '
                              f'topics.<sensor>_camera_info with <sensor> one of {SENSORS}')
        for name in ('thermal_to_rgb', 'depth_to_rgb'):     # lists (YAML, rclpy arrays) -> tuples
            object.__setattr__(self, name, _transform(f'registration.{name}', getattr(self, name)))
        colour = bool(self.topics.get('rgb') or self.camera_info_topics.get('rgb'))
        for sensor in REGISTERED_SENSORS:
            transform = self.transform_to_rgb(sensor)
            name, info = f'registration.{sensor}_to_rgb', f'topics.{sensor}_camera_info'
            if transform and (len(transform) != 7 or not all(map(math.isfinite, transform))):
                raise ConfigError(f'{name}: expected 7 finite numbers '
                                  f'{_TRANSFORM_HELP.format(s=sensor)}, got {list(transform)}')
            if transform and not self.camera_info_topics.get(sensor):
                raise ConfigError(f'{name} is set but {info} is empty: registering {sensor} needs '
                                  f'the CameraInfo topic of the {sensor} camera too')
            if self.camera_info_topics.get(sensor) and not transform and colour:
                raise ConfigError(f'{info} is set but {name} is not: to register {sensor} onto the '
                                  f'colour camera give {name} = {_TRANSFORM_HELP.format(s=sensor)} '
                                  f'(or leave {info} empty when the {sensor} images are already '
                                  'registered to the colour camera)')
        if self.registered_sensors and not self.camera_info_topics.get('rgb'):
            raise ConfigError(f'registration of {", ".join(self.registered_sensors)} needs '
                              'topics.rgb_camera_info: the colour camera is the grid everything is '
                              'registered onto')
        if not self.plane_distance > 0:
            raise ConfigError(f'registration.plane_distance: expected metres > 0 (.inf = a distant '
                              f'scene), got {self.plane_distance}')

    def transform_to_rgb(self, sensor: str) -> Tuple[float, ...]:
        """The static transform parameter of ``sensor`` (() when not given)."""
        return {'thermal': self.thermal_to_rgb, 'depth': self.depth_to_rgb}[sensor]

    @property
    def registered_sensors(self) -> Tuple[str, ...]:
        """Sensors registered onto the colour grid: a transform is given (and hence a CameraInfo)."""
        return tuple(s for s in REGISTERED_SENSORS if self.transform_to_rgb(s))

    @property
    def awaited_camera_infos(self) -> Tuple[str, ...]:
        """Cameras whose first CameraInfo the registration is built from: rgb and every registered
        sensor that is enabled (none without registration)."""
        used = tuple(s for s in self.registered_sensors if s in self.sensors)
        return ('rgb', *used) if used else ()

    @property
    def output_camera_info(self) -> str:
        """The camera whose CameraInfo describes the output grid ('' when none is configured): rgb
        when it has one (always with registration), else the one camera with a CameraInfo topic."""
        return next((s for s in SENSORS if self.camera_info_topics.get(s)), '')

    def input_type(self, sensor: str) -> str:
        """The message type of ``sensor``'s input topic (``transports``)."""
        return TRANSPORTS[self.transports.get(sensor, 'raw')]

    @property
    def sensors(self) -> Tuple[str, ...]:
        """Enabled sensors in contract order."""
        return tuple(s for s in SENSORS if self.topics.get(s))

    def restricted_to(self, sensors: Sequence[str]) -> 'NodeConfig':
        """This config with the inputs of enabled sensors outside ``sensors`` (those the model does
        not use) switched off: their image topics, CameraInfo topics and transforms. The colour
        camera's CameraInfo stays (it is the output grid, and the grid of registration).

        Raises:
            ConfigError: no enabled sensor is among ``sensors``.
        """
        drop = [s for s in self.sensors if s not in sensors]
        if not drop:
            return self
        if len(drop) == len(self.sensors):
            raise ConfigError(f'the topics enable {self.sensors} but the model uses '
                              f'{tuple(sensors)}: give the topic of at least one of them '
                              f'(topics.<sensor>)')
        changes: Dict[str, Any] = dict(
            topics={s: '' if s in drop else t for s, t in self.topics.items()},
            camera_info_topics={s: '' if s in drop and s != 'rgb' else t
                                for s, t in self.camera_info_topics.items()})
        for s in REGISTERED_SENSORS:
            if s in drop:
                changes[f'{s}_to_rgb'] = ()
        return dataclasses.replace(self, **changes)

    def output_options(self, model_display_thr: Optional[float] = None) -> OutputOptions:
        """The outputs' settings; the overlay's display threshold is ``display_thr`` when set
        (>= 0), else ``model_display_thr`` (the model's, ``ModelSpec.display_thr``), else 0."""
        display = self.display_thr if self.display_thr >= 0 else (model_display_thr or 0.0)
        return OutputOptions(frozenset(self.publish), self.labels_encoding, self.score_thr,
                             self.class_id, self.overlay_alpha, float(display))

    @property
    def score_threshold(self) -> float:
        """Deprecated name of ``score_thr`` (until release 0.2)."""
        warnings.warn('NodeConfig.score_threshold is deprecated, use score_thr', DeprecationWarning,
                      stacklevel=2)
        return self.score_thr

    @property
    def nms_threshold(self) -> float:
        """Deprecated name of ``iou_thr`` (until release 0.2)."""
        warnings.warn('NodeConfig.nms_threshold is deprecated, use iou_thr', DeprecationWarning,
                      stacklevel=2)
        return self.iou_thr

    @staticmethod
    def class_qos_spec() -> QosSpec:
        """The class lists' QoS: reliable, transient local, the last one kept (a late subscriber
        still gets it, as with vision_msgs' LabelInfo convention)."""
        return QosSpec('reliable', 1, 'transient_local')

    def input_qos_spec(self) -> QosSpec:
        return QosSpec.preset(self.input_qos, self.input_qos_depth)

    def output_qos_spec(self) -> QosSpec:
        return QosSpec.preset(self.output_qos, self.output_qos_depth)

    # --- ROS parameter names <-> fields ----------------------------------------------------------
    @classmethod
    def from_params(cls, params: Mapping[str, Any], node_name: Optional[str] = None) -> 'NodeConfig':
        """Build from ROS-style parameters: flat ``{'topics.rgb': ...}`` or nested dicts. The former
        ``score_threshold``/``nms_threshold`` are read as ``score_thr``/``iou_thr``, with a warning."""
        flat = renamed_settings(_flatten(params), 'ROS parameters')
        kwargs: Dict[str, Any] = {}
        topics = dict(cls().topics)
        infos = dict(cls().camera_info_topics)
        transports = dict(cls().transports)
        outputs = dict(cls().output_topics)
        names = {n for n in cls.parameter_names() if '.' not in n}
        former_info = flat.pop(DEPRECATED_CAMERA_INFO, None)
        per_sensor = {'_camera_info': (infos, ''), '_transport': (transports, 'raw')}
        for key, value in flat.items():
            suffix = next((x for x in per_sensor if key.startswith('topics.') and key.endswith(x)),
                          None)
            if suffix is not None:   # topics.<sensor>_camera_info, topics.<sensor>_transport
                table, default = per_sensor[suffix]
                sensor = key[len('topics.'):-len(suffix)]
                if sensor not in table:
                    raise ValueError(f'unknown parameter {key!r}; expected topics.<sensor>{suffix} '
                                     f'with <sensor> one of {SENSORS}')
                table[sensor] = str(value or default)
            elif key.startswith('topics.'):
                topics[key.split('.', 1)[1]] = str(value)
            elif key in ('registration.thermal_to_rgb', 'registration.depth_to_rgb'):
                kwargs[key.split('.', 1)[1]] = _transform(key, value)
            elif key == 'registration.plane_distance':
                kwargs['plane_distance'] = float(value)
            elif key.startswith('output_topics.'):
                name = key.split('.', 1)[1]
                if name not in outputs:
                    raise ValueError(f'parameter {key!r}: unknown output; expected one of '
                                     f'{sorted(outputs)}')
                outputs[name] = str(value)
            elif key.startswith('sync.') and key[5:] in ('slop', 'queue_size'):
                kwargs[key[5:]] = value
            elif key in names:
                kwargs[key] = tuple(value or ()) if key in ('publish', 'ort_providers') else value
            else:
                raise ValueError(f'unknown parameter {key!r}; known: {sorted(cls.parameter_names())}')
        if former_info:
            _read_former_camera_info(str(former_info), topics, infos)
        if node_name:
            kwargs['node_name'] = node_name
        return cls(topics=topics, camera_info_topics=infos, transports=transports,
                   output_topics=outputs, **kwargs)

    @classmethod
    def parameter_names(cls) -> Tuple[str, ...]:
        base = cls()
        plain = [f.name for f in fields(cls) if f.name not in NESTED_FIELDS]
        return tuple(plain + [f'topics.{s}' for s in base.topics]
                     + [f'topics.{s}_camera_info' for s in base.camera_info_topics]
                     + [f'topics.{s}_transport' for s in base.transports]
                     + list(REGISTRATION_PARAMETERS)
                     + [f'output_topics.{o}' for o in base.output_topics]
                     + ['sync.slop', 'sync.queue_size'])

    def to_params(self) -> Dict[str, Any]:
        """Flat ROS parameter dict (what ``declare_parameters`` gets in the rclpy layer)."""
        out: Dict[str, Any] = {}
        for name in self.parameter_names():
            if name.endswith('_camera_info'):
                out[name] = self.camera_info_topics.get(name[len('topics.'):-len('_camera_info')], '')
            elif name.endswith('_transport'):
                out[name] = self.transports.get(name[len('topics.'):-len('_transport')], 'raw')
            elif name.startswith('topics.'):
                out[name] = self.topics.get(name.split('.', 1)[1], '')
            elif name.startswith('registration.'):
                value = getattr(self, name.split('.', 1)[1])
                out[name] = list(value) if isinstance(value, tuple) else value
            elif name.startswith('output_topics.'):
                out[name] = self.output_topics.get(name.split('.', 1)[1], '')
            elif name.startswith('sync.'):
                out[name] = getattr(self, name[5:])
            else:
                value = getattr(self, name)
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


def load_params_file(path: str | Path, node_name: str = 'perception_node') -> NodeConfig:
    """Read a ROS 2 parameters YAML (``<node>: ros__parameters: {...}``; ``/**/<node>`` and ``/**``
    also match, as they do for the node in any namespace)."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    for key in (node_name, f'/{node_name}', f'/**/{node_name}', '/**'):
        section = doc.get(key)
        if isinstance(section, dict) and 'ros__parameters' in section:
            return NodeConfig.from_params(section['ros__parameters'], node_name)
    raise ValueError(f'{path}: no "{node_name}: ros__parameters:" section (found: {sorted(doc)})')


def parse_topics(items: Optional[Sequence[str]]) -> Dict[str, str]:
    """``SENSOR=TOPIC`` command-line items -> ``{sensor: topic}`` (``SENSOR=`` disables it).

    Raises:
        ConfigError: an item that is not ``SENSOR=TOPIC`` with a sensor of the contract.
    """
    topics = {}
    for item in items or ():
        sensor, sep, topic = item.partition('=')
        if not sep or sensor not in SENSORS:
            raise ConfigError(f'--topics: expected SENSOR=TOPIC with SENSOR in {SENSORS}, '
                              f'got {item!r}')
        topics[sensor] = topic
    return topics


def node_config(params_file: Optional[str | Path] = None,
                topics: Optional[Mapping[str, str]] = None, **overrides: Any) -> NodeConfig:
    """The node's parameters: a ROS 2 parameters YAML (default: the defaults), then ``topics``
    (``{sensor: topic}``, as ``parse_topics`` returns them) and other parameters by their ROS
    names (``model_path=...``) over it."""
    config = load_params_file(params_file) if params_file else NodeConfig()
    params = config.to_params()
    params.update({f'topics.{sensor}': topic for sensor, topic in (topics or {}).items()})
    params.update(overrides)
    return NodeConfig.from_params(params, config.node_name)


def _transform(name: str, value: Any) -> Tuple[float, ...]:
    """A static transform parameter: a list of 7 numbers, or empty / None when not given."""
    if value is None or (isinstance(value, str) and not value):
        return ()
    if isinstance(value, tuple) and all(isinstance(v, float) for v in value):
        return value
    if isinstance(value, str) or not hasattr(value, '__len__'):
        raise ConfigError(f'{name}: expected a list of 7 numbers [x, y, z, qx, qy, qz, qw], got '
                          f'{value!r}')
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f'{name}: expected numbers [x, y, z, qx, qy, qz, qw], got '
                          f'{list(value)!r}') from None


def _read_former_camera_info(topic: str, topics: Mapping[str, str], infos: Dict[str, str]) -> None:
    reference = next((s for s in SENSORS if topics.get(s)), 'rgb')
    new = f'topics.{reference}_camera_info'
    if infos.get(reference) and infos[reference] != topic:
        raise ConfigError(f'both {DEPRECATED_CAMERA_INFO!r} and {new!r} are set; '
                          f'{DEPRECATED_CAMERA_INFO!r} is the former name of the reference '
                          f'sensor\'s CameraInfo topic, keep {new!r} only')
    warnings.warn(f'ROS parameters: {DEPRECATED_CAMERA_INFO!r} is deprecated, use {new!r} (the '
                  f'CameraInfo of the {reference} camera; the old name is accepted until release '
                  '0.2)', DeprecationWarning, stacklevel=3)
    infos[reference] = topic


def _flatten(params: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in params.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + '.'))
        else:
            out[name] = value
    return out
