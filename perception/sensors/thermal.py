"""16-bit radiometric thermal: one documented scaling from camera counts to the contract's [0, 1].

A radiometric camera stores counts (FLIR "TLinear": kelvin x 100; others a raw sensor signal). The
network sees thermal as relative intensity in [0, 1], so the counts must be scaled -- and the model
only works if inference scales exactly as training did. Hence one ``ThermalScaling``:

* in the config as ``thermal_scaling = dict(mode=..., ...)``, passed to the loader
  (``LoadMultiSensorSample(thermal_scaling=thermal_scaling)``) for training and evaluation;
* recorded in the exported model (``ModelSpec.thermal_scaling``, ONNX metadata key
  ``perception.thermal_scaling``, the TensorRT sidecar), from where ``perception infer``
  (``--thermal-encoding u16_radiometric``) and the ROS node (mono16 thermal images:
  ``perception.ros.image_codec.decode_sensor``, given ``predictor.spec.thermal_scaling`` by the node
  core) take it -- inference never gets to choose another one.

Modes (values outside the range are clipped to 0 / 1):

``counts``     ``(v - low) / (high - low)`` with ``low``/``high`` in counts;
``kelvin``     ``T = v * kelvin_per_count + offset_k``, then ``(T - low) / (high - low)`` with
               ``low``/``high`` in kelvin (FLIR TLinear: ``kelvin_per_count=0.01``, or 0.1 in its
               low-resolution mode);
``percentile`` per frame, like a camera's automatic gain control: ``low``/``high`` are percentiles
               (e.g. 1 and 99) of the frame's own counts; a flat frame gives 0.5 everywhere.

numpy only (this package is on the deployment path).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterator, Mapping, Optional, Union

import numpy as np

from perception.contract import ConfigError

from .encodings import Encoding, Site, check_stored, register_encoding

MODES = ('counts', 'kelvin', 'percentile')
#: Name of the loader argument / config key / ModelSpec field that carries the scaling.
KEY = 'thermal_scaling'


@dataclass(frozen=True)
class ThermalScaling:
    mode: str
    low: float
    high: float
    kelvin_per_count: float = 0.01
    offset_k: float = 0.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError(f'{KEY}.mode: expected one of {MODES}, got {self.mode!r}')
        for name in ('low', 'high', 'kelvin_per_count', 'offset_k'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not np.isfinite(value):
                raise ConfigError(f'{KEY}.{name}: expected a finite number, got {value!r}')
            object.__setattr__(self, name, float(value))
        if not self.low < self.high:
            raise ConfigError(f'{KEY}: expected low < high, got low={self.low}, high={self.high}')
        if self.mode == 'percentile' and not 0 <= self.low < self.high <= 100:
            raise ConfigError(f'{KEY}: percentiles must satisfy 0 <= low < high <= 100, got '
                              f'{self.low}, {self.high}')
        if self.mode == 'kelvin' and self.kelvin_per_count <= 0:
            raise ConfigError(f'{KEY}.kelvin_per_count: expected > 0, got {self.kelvin_per_count}')

    @classmethod
    def from_dict(cls, data: Union['ThermalScaling', Mapping[str, Any]]) -> 'ThermalScaling':
        if isinstance(data, ThermalScaling):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f'{KEY}: expected a dict like dict(mode="kelvin", low=253.15, '
                              f'high=323.15), got {type(data).__name__}')
        known = ('mode', 'low', 'high', 'kelvin_per_count', 'offset_k')
        unknown = sorted(set(data) - set(known))
        missing = [k for k in ('mode', 'low', 'high') if k not in data]
        if unknown or missing:
            raise ConfigError(f'{KEY}: keys {known[:3]} required, {known[3:]} optional; '
                              f'missing {missing}, unknown {unknown}')
        return cls(**dict(data))

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.mode != 'kelvin':
            del data['kelvin_per_count'], data['offset_k']
        return data

    def apply(self, counts: np.ndarray) -> np.ndarray:
        """Counts (any shape) -> float32 in [0, 1]."""
        v = np.asarray(counts, dtype=np.float64)
        if self.mode == 'percentile':
            lo, hi = (float(x) for x in np.percentile(v, (self.low, self.high)))
            if hi <= lo:
                return np.full(v.shape, 0.5, np.float32)
        else:
            lo, hi = self.low, self.high
            if self.mode == 'kelvin':
                v = v * self.kelvin_per_count + self.offset_k
        return np.clip((v - lo) / (hi - lo), 0, 1).astype(np.float32)


def as_scaling(value) -> Optional[ThermalScaling]:
    return None if value is None else ThermalScaling.from_dict(value)


_STORAGE = '16-bit, 1 channel (radiometric counts)'


def _radiometric_from_raw(raw: np.ndarray, site: Site, thermal_scaling=None) -> np.ndarray:
    check_stored(raw, site, np.uint16, (1, ), _STORAGE)
    if thermal_scaling is None:
        raise site.error(KEY, 'the thermal scaling the model was trained with (config key '
                         f'{KEY!r}; exported models record it, see docs/data.md)', 'none')
    return ThermalScaling.from_dict(thermal_scaling).apply(raw)


register_encoding(Encoding(
    'u16_radiometric', 'thermal', _STORAGE,
    'counts scaled by the model\'s thermal_scaling (counts / kelvin range, or per-frame percentiles)',
    'radiometric cameras (FLIR TLinear: K x 100); this project\'s ThermalScaling',
    _radiometric_from_raw, params=(KEY, )))


# --- one scaling per config ----------------------------------------------------------------------
def _loaders(node) -> Iterator[Mapping]:
    """Every ``LoadMultiSensorSample`` entry anywhere in a config (pipelines of any dataloader)."""
    if isinstance(node, Mapping):
        if node.get('type') == 'LoadMultiSensorSample':
            yield node
        for value in node.values():
            yield from _loaders(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _loaders(value)


def thermal_scaling_of(cfg: Mapping) -> Optional[dict]:
    """The config's ``thermal_scaling`` as a plain dict (None: 16-bit radiometric thermal is not
    used). Every loader in the config must use the same one, so the scaling recorded in an export is
    the one the model was trained and evaluated with."""
    top = as_scaling(cfg.get(KEY))
    for loader in _loaders(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg):
        used = as_scaling(loader.get(KEY))
        if used is not None and used != top:
            raise ConfigError(f'a LoadMultiSensorSample in the config uses {KEY}='
                              f'{used.to_dict()}, but the config\'s {KEY} is '
                              f'{None if top is None else top.to_dict()}: set the top-level key and '
                              f'pass it to every loader ({KEY}={KEY})')
    return None if top is None else top.to_dict()
