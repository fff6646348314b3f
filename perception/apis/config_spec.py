"""The ``ModelSpec`` of a config's model: classes, normalisation, input size and detection settings
as the config and the model declare them. Shared by the PyTorch backend and the exporter
(``perception.deploy``), so both see the same classes, normalisation and size.

Reads configs duck-typed (``cfg.get``); torch is imported only to probe a model's outputs.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple

from perception.contract import DETECTION_SETTINGS, NORMALIZATION, SENSORS, renamed_settings
from perception.sensors.thermal import thermal_scaling_of

from .spec import ModelSpec

#: Network size when neither the caller nor the config (``input_size = (H, W)``) gives one.
DEFAULT_INPUT_SIZE = (256, 320)


def input_size_of(cfg, input_size: Optional[Sequence[int]] = None) -> Tuple[int, int]:
    """The (H, W) a config's model runs at.

    Args:
        cfg: mmengine ``Config`` (its top-level ``input_size`` is read).
        input_size: an explicit (H, W) that wins over the config.

    Returns:
        ``(H, W)`` as ints: ``input_size``, else the config's, else ``DEFAULT_INPUT_SIZE``.
    """
    return input_size_and_origin(cfg, input_size)[0]


def input_size_and_origin(cfg, input_size: Optional[Sequence[int]] = None
                          ) -> Tuple[Tuple[int, int], str]:
    """``input_size_of`` and where the size came from.

    Returns:
        ``((H, W), origin)`` with ``origin`` ``'explicit'`` (``input_size`` given, e.g. ``--shape``),
        ``'config'`` (the config's ``input_size``) or ``'default'`` (``DEFAULT_INPUT_SIZE``: the
        config sets none).
    """
    if input_size:
        size, origin = input_size, 'explicit'
    elif cfg.get('input_size'):
        size, origin = cfg.get('input_size'), 'config'
    else:
        size, origin = DEFAULT_INPUT_SIZE, 'default'
    h, w = (int(v) for v in size)
    return (h, w), origin


def normalization_of(cfg) -> Dict[str, Dict[str, Tuple[float, ...]]]:
    """The data preprocessor's normalisation (contract defaults for what it does not override)."""
    norm = {s: dict(NORMALIZATION[s]) for s in SENSORS}
    pre = cfg.model.get('data_preprocessor') or {}
    for s, v in (pre.get('normalization') or {}).items():
        norm[s].update(v)
    return norm


def nms_defaults(cfg) -> Dict[str, Any]:
    """Detection settings of the config's det head (``heads.det.nms``, ``DETECTION_SETTINGS`` names,
    former names renamed with a warning); {} without a det head."""
    heads = cfg.model.get('heads') or {}
    nms = renamed_settings((heads.get('det') or {}).get('nms') or {}, 'heads.det.nms')
    return {k: v for k, v in nms.items() if k in DETECTION_SETTINGS}


def _metainfo_candidates(model, cfg) -> Iterator[Dict[str, Any]]:
    yield getattr(model, 'dataset_meta', None) or {}   # from the checkpoint (build_model)
    yield cfg.get('metainfo') or {}
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        yield dataset.get('metainfo') or {}
    try:  # a dataset type that carries its METAINFO as a class attribute (mmengine convention)
        from perception.registry import DATASETS
        for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
            dataset_type = ((cfg.get(loader) or {}).get('dataset') or {}).get('type')
            if dataset_type:
                cls = DATASETS.get(dataset_type)
                yield getattr(cls, 'METAINFO', None) or {}
    except Exception:  # noqa: BLE001 -- datasets are optional for export
        return


def class_names(model, cfg, num_seg: Optional[int], num_det: Optional[int]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """Class names whose counts match the outputs; generic names when no source has them."""
    seg, det = None, None
    for info in _metainfo_candidates(model, cfg):
        seg_c = info.get('seg_classes') or info.get('classes')
        det_c = info.get('det_classes')
        if seg is None and seg_c is not None and num_seg is not None and len(seg_c) == num_seg:
            seg = tuple(seg_c)
        if det is None and det_c is not None and num_det is not None and len(det_c) == num_det:
            det = tuple(det_c)
    seg = seg or tuple(f'class_{i}' for i in range(num_seg or 0))
    det = det or tuple(f'object_{i}' for i in range(num_det or 0))
    return seg, det


def probe_output_shapes(model, input_size: Tuple[int, int]) -> Dict[str, tuple]:
    """Shapes of ``forward_export`` outputs on a zero batch."""
    import torch

    from perception.models.export import model_sensors, zero_inputs
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model.forward_export(*zero_inputs(*input_size, model_sensors(model), device))
    return {k: tuple(v.shape) for k, v in out.items()}


def class_counts(model, input_size: Tuple[int, int]) -> Dict[str, int]:
    """Classes of the model's ``seg`` / ``det`` outputs (only the tasks it has).

    Read from the model's declaration (``num_classes``, a task -> count mapping: MultiTaskPerceptor);
    a model without one (another ``forward_export`` model) is run once on a zero batch instead.
    """
    declared = getattr(model, 'num_classes', None)
    if isinstance(declared, Mapping):
        return {t: int(n) for t, n in declared.items() if t in ('seg', 'det')}
    shapes = probe_output_shapes(model, input_size)
    counts = {}
    if 'seg_logits' in shapes:
        counts['seg'] = shapes['seg_logits'][1]
    if 'det_scores' in shapes:
        counts['det'] = shapes['det_scores'][2]
    return counts


def make_spec(model, cfg, input_size: Tuple[int, int], *, nms: str = 'host',
              outputs: Sequence[str] = (), source: str = '', **options) -> ModelSpec:
    """The spec of ``model`` built from ``cfg`` (``build_model``), run at ``input_size``.

    Args:
        model: the built model (its ``dataset_meta``, from the checkpoint, names the classes first).
        cfg: its config (normalisation, det-head NMS settings, dataset metainfo).
        input_size: (H, W) the network runs at.
        nms: detection post-processing mode (``'none'`` when the model has no detection head).
        outputs: graph output names, when known.
        source: where the weights came from (config and checkpoint paths), for the record.
        **options: detection settings overriding the config's (``None`` values are ignored).

    Returns:
        The ``ModelSpec``, with the model's ``sensors`` and ``trained_sensors`` (the sensors seen in
        training, counted into the checkpoint) and the config's ``display_thr`` (the overlays'
        threshold, a top-level key like ``input_size``).
    """
    counts = class_counts(model, input_size)
    num_seg, num_det = counts.get('seg'), counts.get('det')
    seg, det = class_names(model, cfg, num_seg, num_det)
    if num_det is None:
        nms = 'none'
    settings = nms_defaults(cfg)
    settings.update({k: v for k, v in options.items() if v is not None})
    sensors = tuple(getattr(model, 'sensors', SENSORS))
    display = cfg.get('display_thr')
    return ModelSpec(input_size=input_size, seg_classes=seg, det_classes=det,
                     normalization=normalization_of(cfg), nms=nms, outputs=tuple(outputs),
                     source=source, thermal_scaling=thermal_scaling_of(cfg), sensors=sensors,
                     trained_sensors=getattr(model, 'trained_sensors', sensors),
                     display_thr=None if display is None or num_det is None else float(display),
                     **settings)
