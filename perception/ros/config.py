"""Node parameters: one flat set shared by the rclpy node, the DDS runner and bag replay.

The names are the ROS 2 parameter names (nested YAML keys joined with '.', as rclpy does), so
``ros_nodes/config/params.yaml`` is the single place where defaults live for a deployment.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import warnings

import yaml

from perception.contract import SENSORS, renamed_settings

from .outputs import OUTPUTS, OutputOptions

QOS_PRESETS = ('sensor_data', 'default')


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


@dataclass(frozen=True)
class NodeConfig:
    node_name: str = 'perception_node'
    # predictor (predictor_factory.py)
    model_path: str = ''
    backend: str = 'onnxruntime'
    score_thr: float = 0.3               # detections below are not published
    iou_thr: float = 0.5                 # class-aware NMS IoU, passed to the predictor
    # inputs: '' disables a sensor
    topics: Dict[str, str] = field(default_factory=lambda: {
        'rgb': '/camera/color/image_raw', 'thermal': '/thermal/image_raw',
        'depth': '/camera/depth/image_rect_raw'})
    camera_info_topic: str = ''
    # outputs
    output_topics: Dict[str, str] = field(default_factory=lambda: {
        'labels': 'perception/labels', 'overlay': 'perception/overlay',
        'detections': 'perception/detections', 'depth': 'perception/depth',
        'camera_info': 'perception/camera_info', 'diagnostics': '/diagnostics'})
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
        QosSpec.preset(self.input_qos)
        QosSpec.preset(self.output_qos)
        self.output_options()   # validates publish / labels_encoding / class_id

    @property
    def sensors(self) -> Tuple[str, ...]:
        """Enabled sensors in contract order."""
        return tuple(s for s in SENSORS if self.topics.get(s))

    def output_options(self) -> OutputOptions:
        return OutputOptions(frozenset(self.publish), self.labels_encoding, self.score_thr,
                             self.class_id, self.overlay_alpha)

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
        outputs = dict(cls().output_topics)
        names = {n for n in cls.parameter_names() if '.' not in n}
        for key, value in flat.items():
            if key.startswith('topics.'):
                sensor = key.split('.', 1)[1]
                if sensor == 'camera_info':
                    kwargs['camera_info_topic'] = str(value)
                else:
                    topics[sensor] = str(value)
            elif key.startswith('output_topics.'):
                name = key.split('.', 1)[1]
                if name not in outputs:
                    raise ValueError(f'parameter {key!r}: unknown output; expected one of '
                                     f'{sorted(outputs)}')
                outputs[name] = str(value)
            elif key.startswith('sync.') and key[5:] in ('slop', 'queue_size'):
                kwargs[key[5:]] = value
            elif key in names:
                kwargs[key] = tuple(value) if key == 'publish' else value
            else:
                raise ValueError(f'unknown parameter {key!r}; known: {sorted(cls.parameter_names())}')
        if node_name:
            kwargs['node_name'] = node_name
        return cls(topics=topics, output_topics=outputs, **kwargs)

    @classmethod
    def parameter_names(cls) -> Tuple[str, ...]:
        base = cls()
        plain = [f.name for f in fields(cls)
                 if f.name not in ('topics', 'output_topics', 'node_name', 'slop', 'queue_size',
                                   'camera_info_topic')]
        return tuple(plain + [f'topics.{s}' for s in base.topics] + ['topics.camera_info']
                     + [f'output_topics.{o}' for o in base.output_topics]
                     + ['sync.slop', 'sync.queue_size'])

    def to_params(self) -> Dict[str, Any]:
        """Flat ROS parameter dict (what ``declare_parameters`` gets in the rclpy layer)."""
        out: Dict[str, Any] = {}
        for name in self.parameter_names():
            if name.startswith('topics.'):
                key = name.split('.', 1)[1]
                out[name] = self.camera_info_topic if key == 'camera_info' else self.topics.get(key, '')
            elif name.startswith('output_topics.'):
                out[name] = self.output_topics[name.split('.', 1)[1]]
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


def _flatten(params: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in params.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + '.'))
        else:
            out[name] = value
    return out
