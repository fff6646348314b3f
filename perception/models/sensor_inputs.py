"""Validation of the network's sensor tensors, shared by the data preprocessor and the model.

Both call it before any arithmetic so that a wrong tensor fails with a ``SensorError`` that names the
sensor and the field, instead of a shape error deep inside a convolution.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Tuple

from torch import Tensor

from perception.contract import SENSOR_CHANNELS, SENSORS, SensorError

MASK = 'modality_mask'


def check_sensor_tensors(tensors: Mapping[str, Tensor], mask: Tensor, *, batched: bool,
                         sources: Optional[Mapping[str, str]] = None,
                         require_present: bool = True,
                         sensors: Sequence[str] = SENSORS) -> None:
    """Raise ``SensorError`` unless ``tensors``/``mask`` follow the contract.

    ``batched=False``: one sample, sensors (C, H, W) and mask (S,).
    ``batched=True``: sensors (B, C, H, W) and mask (B, S).
    ``sensors``: the sensors checked, in mask order (a model's ``sensors``; S = their count).
    ``require_present`` rejects a sample whose mask has no present sensor; it reads the mask values,
    so the export path (static graph, no data-dependent checks) leaves it off.
    """
    sources = sources or {}
    lead = 1 if batched else 0
    layout = '(B, C, H, W)' if batched else '(C, H, W)'
    sensors = tuple(sensors)
    for name in sensors:
        path = sources.get(name)
        if name not in tensors or tensors[name] is None:
            raise SensorError(name, 'tensor', 'a tensor (zeros when the sensor is absent)',
                              'nothing', path)
        t = tensors[name]
        if t.dim() != 3 + lead:
            raise SensorError(name, 'shape', f'a {3 + lead}-D tensor {layout}', tuple(t.shape), path)
        if t.shape[lead] != SENSOR_CHANNELS[name]:
            raise SensorError(name, 'channels', f'{SENSOR_CHANNELS[name]} channel(s) in {layout}',
                              f'{t.shape[lead]} (shape {tuple(t.shape)})', path)
    ref_name = sensors[0]
    ref = tensors[ref_name].shape
    for name in sensors[1:]:
        shape = tensors[name].shape
        if shape[-2:] != ref[-2:]:
            raise SensorError(name, 'size', f'the same (H, W) as {ref_name} {tuple(ref[-2:])} '
                              '(sensors are registered to one image plane)', tuple(shape[-2:]),
                              sources.get(name))
        if batched and shape[0] != ref[0]:
            raise SensorError(name, 'batch', f'the batch size of {ref_name} ({ref[0]})', shape[0])
    expected = (ref[0], len(sensors)) if batched else (len(sensors), )
    if mask is None or tuple(mask.shape) != expected:
        raise SensorError(MASK, 'shape', f'{expected} (one entry per sensor {sensors})',
                          None if mask is None else tuple(mask.shape))
    if require_present and not bool((mask > 0.5).any(-1).all()):
        raise SensorError(MASK, 'value', 'at least one present sensor per sample',
                          mask.detach().cpu().tolist())


def batch_sensor_args(inputs: Mapping[str, Tensor],
                      sensors: Sequence[str] = SENSORS) -> Tuple[Tensor, ...]:
    """The network's positional inputs from a batch dict, after ``check_sensor_tensors``.

    Args:
        inputs: ``{sensor: (B, C, H, W)}`` for every sensor in ``sensors`` plus ``modality_mask``
            (B, len(sensors)), as the data preprocessor of a model built for ``sensors`` produces
            them.
        sensors: the model's sensors (default: all of ``contract.SENSORS``).

    Returns:
        The sensors' tensors in ``sensors`` order, then the mask as float (``(rgb, thermal, depth,
        modality_mask)`` for a model of all three).

    Raises:
        TypeError: ``inputs`` is not a mapping.
        SensorError: a tensor or the mask breaks the contract (names the sensor and the field).
    """
    if not isinstance(inputs, Mapping):
        raise TypeError(f'inputs must be a dict with keys {(*sensors, MASK)}, '
                        f'got {type(inputs).__name__}')
    check_sensor_tensors(inputs, inputs.get(MASK), batched=True, sensors=sensors)
    return (*(inputs[s] for s in sensors), inputs[MASK].float())
