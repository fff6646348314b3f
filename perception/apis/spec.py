"""``ModelSpec``: what a deployed network needs besides its weights (numpy-free, torch-free).

Every backend of the :class:`~perception.apis.predictor.Predictor` carries one: the ONNX file stores it
in ``metadata_props`` (one ``perception.<field>`` key per field, JSON values, readable in Netron), a
TensorRT engine in a JSON sidecar next to the engine (engines have no metadata), and the PyTorch backend
derives it from the config. Pre- and post-processing read only this, so they are the same for all.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from perception.contract import NORMALIZATION, SENSORS, check_sensors, input_names

#: Detection post-processing modes: NMS in the graph (ONNX NonMaxSuppression / TensorRT
#: EfficientNMS_TRT plugin), on the host (graph returns top-K pre-NMS candidates), or no detection.
NMS_MODES: Tuple[str, ...] = ('onnx', 'trt', 'host', 'none')
METADATA_PREFIX = 'perception.'
#: 2: ``sensors``, ``trained_sensors``, ``display_thr`` and ``fp32_layers`` (a version-1 spec is a
#: model of all three sensors that draws every kept detection, FP16 plan not analysed).
SPEC_VERSION = 2


@dataclass(frozen=True)
class ModelSpec:
    """What a deployed network needs besides its weights (module docstring); immutable, JSON
    serialisable (``to_dict``/``from_dict``, ``to_metadata``/``from_metadata``, ``write_json``/
    ``read_json``). ``replace(**changes)`` returns a modified copy."""
    input_size: Tuple[int, int]                     # (H, W) the network runs at (static per engine)
    seg_classes: Tuple[str, ...] = ()
    det_classes: Tuple[str, ...] = ()
    normalization: Dict[str, Dict[str, Tuple[float, ...]]] = field(
        default_factory=lambda: {s: dict(v) for s, v in NORMALIZATION.items()})
    nms: str = 'host'
    outputs: Tuple[str, ...] = ()                  # graph output names, in order
    score_thr: float = 0.05                        # in-graph NMS score threshold / host default
    iou_thr: float = 0.5
    max_det: int = 100                             # K of det_boxes (B, K, 4) after NMS
    pre_nms_topk: int = 1000                       # candidates kept before NMS
    precision: str = 'fp32'                        # fp32 | fp16 | int8
    dynamic_batch: bool = False
    opset: Optional[int] = None
    source: str = ''                               # config / checkpoint the graph came from
    #: How 16-bit radiometric thermal became [0, 1] in training (perception/sensors/thermal.py).
    thermal_scaling: Optional[Dict[str, Any]] = None
    #: The sensors the network is built for (its graph inputs, the columns of ``modality_mask``),
    #: in ``contract.SENSORS`` order.
    sensors: Tuple[str, ...] = SENSORS
    #: The sensors it saw in training (a subset of ``sensors``); frames of others are not used.
    trained_sensors: Optional[Tuple[str, ...]] = None
    #: Overlays draw the detections scored this or more (chosen on validation frames; the config's
    #: ``display_thr``); None: every detection kept by ``score_thr``. Drawing only: what is
    #: returned and published is decided by ``score_thr``.
    display_thr: Optional[float] = None
    #: Layers (ONNX node names) a TensorRT FP16 engine must keep FP32 (``perception export
    #: --fp16-plan``: perception/deploy/fp16.py); None: not analysed, (): analysed, none needed.
    fp32_layers: Optional[Tuple[str, ...]] = None

    def __post_init__(self):
        if self.nms not in NMS_MODES:
            raise ValueError(f'nms must be one of {NMS_MODES}, got {self.nms!r}')
        h, w = (int(v) for v in self.input_size)
        if h <= 0 or w <= 0:
            raise ValueError(f'input_size must be positive (H, W), got {self.input_size}')
        object.__setattr__(self, 'input_size', (h, w))
        object.__setattr__(self, 'seg_classes', tuple(self.seg_classes))
        object.__setattr__(self, 'det_classes', tuple(self.det_classes))
        object.__setattr__(self, 'outputs', tuple(self.outputs))
        sensors = check_sensors(self.sensors, 'model spec sensors')
        trained = sensors if self.trained_sensors is None else check_sensors(
            self.trained_sensors, 'model spec trained_sensors')
        if not set(trained) <= set(sensors):
            raise ValueError(f'trained_sensors {trained} must be among the sensors {sensors}')
        object.__setattr__(self, 'sensors', sensors)
        object.__setattr__(self, 'trained_sensors', trained)
        if self.fp32_layers is not None:
            object.__setattr__(self, 'fp32_layers', tuple(str(n) for n in self.fp32_layers))
        if self.display_thr is not None and not 0.0 <= float(self.display_thr) <= 1.0:
            raise ValueError(f'display_thr must be a score in [0, 1], got {self.display_thr}')
        object.__setattr__(self, 'normalization', {
            s: {k: tuple(float(x) for x in v) for k, v in d.items()}
            for s, d in self.normalization.items()})

    @property
    def input_names(self) -> Tuple[str, ...]:
        """The graph's input names: ``sensors``, then ``modality_mask``."""
        return input_names(self.sensors)

    @property
    def has_det(self) -> bool:
        """Whether the graph has a detection output (``det_scores``)."""
        return 'det_scores' in self.outputs

    def replace(self, **changes) -> 'ModelSpec':
        """A copy with ``changes`` (field -> value) applied and validated again.

        Returns:
            A new ``ModelSpec``; this one is unchanged.
        """
        data = asdict(self)
        data.update(changes)
        return ModelSpec(**data)

    # --- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every field plus ``spec_version``, as plain JSON-ready values."""
        data = asdict(self)
        data['spec_version'] = SPEC_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> 'ModelSpec':
        """Read ``to_dict``'s output back; unknown keys (from a newer minor layout) are ignored.

        Args:
            data: field -> value, with ``input_size`` required and optional ``spec_version``.

        Returns:
            The ``ModelSpec``.

        Raises:
            ValueError: ``spec_version`` newer than this package, ``input_size`` missing, or a
                field out of range.
        """
        known = {f.name for f in fields(cls)}
        version = data.get('spec_version', SPEC_VERSION)
        if int(version) > SPEC_VERSION:
            raise ValueError(f'model spec version {version} is newer than this package understands '
                             f'({SPEC_VERSION}); upgrade perception')
        missing = [k for k in ('input_size', ) if k not in data]
        if missing:
            raise ValueError(f'model spec lacks {missing}')
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_metadata(self) -> Dict[str, str]:
        """The spec as ONNX ``metadata_props``.

        Returns:
            ``{'perception.<field>': JSON text}`` for every field and ``spec_version``.
        """
        return {METADATA_PREFIX + k: json.dumps(v) for k, v in self.to_dict().items()}

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], where: str = 'model') -> 'ModelSpec':
        """Read the spec from an ONNX file's ``metadata_props`` (``to_metadata``'s entries).

        Args:
            props: the file's custom metadata map; keys without the ``perception.`` prefix are
                ignored.
            where: the file, named in the error.

        Returns:
            The ``ModelSpec``.

        Raises:
            ValueError: the file has no ``perception.`` entries (not exported by this package),
                or as ``from_dict``.
        """
        data = {k[len(METADATA_PREFIX):]: json.loads(v) for k, v in props.items()
                if k.startswith(METADATA_PREFIX)}
        if not data:
            raise ValueError(f'{where} has no perception metadata (export it with '
                             '`perception export`, which writes the input size, classes, '
                             'normalisation and NMS mode into the file)')
        return cls.from_dict(data)

    def write_json(self, path: Union[str, Path]) -> None:
        """Write ``to_dict`` as indented JSON to ``path`` (a TensorRT engine's sidecar)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + '\n')

    @classmethod
    def read_json(cls, path: Union[str, Path]) -> 'ModelSpec':
        """Read a spec written by ``write_json``.

        Args:
            path: the JSON file.

        Returns:
            The ``ModelSpec`` (errors as ``from_dict``).
        """
        return cls.from_dict(json.loads(Path(path).read_text()))


def sidecar_path(engine_path: Union[str, Path]) -> Path:
    """Where the spec of a TensorRT engine lives: ``model.engine`` -> ``model.engine.json``."""
    p = Path(engine_path)
    return p.with_name(p.name + '.json')
