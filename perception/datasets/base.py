"""``MultiSensorDataset``: the mmengine dataset every source builds on.

A subclass only builds its ``data_list`` (one :func:`sample_info` per frame: file names and the
encoding of each). Decoding is ``LoadMultiSensorSample`` (perception.datasets.loading), the first
step of every pipeline; :meth:`MultiSensorDataset.load_sample` runs it alone for tools and tests.
"""
from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.registry import DefaultScope

from perception.contract import SENSORS, SensorError

from ..sensors.encodings import IMAGE_SUFFIXES
from .loading import TARGET_MODALITIES, decode_sample


def source(path, encoding: str, **params) -> Dict[str, Any]:
    """One file of a sample and its encoding (``params`` for encodings that need more, e.g. a
    calibration file)."""
    return dict(path=str(path), encoding=encoding, **params)


def sample_info(img_id: str, sensors: Mapping[str, Optional[dict]],
                targets: Optional[Mapping[str, Optional[dict]]] = None,
                boxes: Optional[dict] = None, extra: Optional[Mapping[str, Any]] = None) -> dict:
    """A ``data_info`` entry (the layout is documented in perception.datasets.loading).

    ``sensors``/``targets`` map a name to :func:`source` or ``None`` (missing); ``boxes`` is
    :func:`box_annotation` or ``None`` (not annotated).
    """
    bad = set(sensors) - set(SENSORS) or set(targets or {}) - set(TARGET_MODALITIES)
    if bad:
        raise ValueError(f'sample {img_id!r}: unknown sensors/targets {sorted(bad)}')
    info = dict(img_id=str(img_id), sensors={k: v for k, v in sensors.items() if v},
                targets={k: v for k, v in (targets or {}).items() if v}, extra=dict(extra or {}))
    if boxes is not None:
        info['boxes'] = boxes
    return info


def box_annotation(bboxes: Sequence[Sequence[float]], labels: Sequence[int], source_file,
                   shape: Optional[Tuple[int, int]] = None) -> dict:
    """Boxes xyxy in pixels with label indices into ``det_classes``; ``shape`` = (H, W) the
    annotation was made on, checked against the decoded image when given."""
    return dict(bboxes=[[float(v) for v in b] for b in bboxes], labels=[int(v) for v in labels],
                source=str(source_file), shape=None if shape is None else tuple(shape))


#: Suffixes of per-sample files; anything else in a folder (README, thumbs.db) is not a sample.
SAMPLE_SUFFIXES = IMAGE_SUFFIXES + ('.npy', )


def index_folder(folder, sensor: str) -> Dict[str, Path]:
    """``{stem: file}`` of one folder of per-sample files; two files with one stem are ambiguous."""
    folder = Path(folder)
    files: Dict[str, Path] = {}
    if not folder.is_dir():
        return files
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in SAMPLE_SUFFIXES and not f.name.startswith('.'):
            if f.stem in files:
                raise SensorError(sensor, 'file', f'one file per sample id in {folder}',
                                  f'{files[f.stem].name} and {f.name}', str(f))
            files[f.stem] = f
    return files


def sort_ids(ids) -> List[str]:
    """Numeric ids in numeric order (RoadScene's 3, 4, 9, 14), others after, by text."""
    return sorted(ids, key=lambda i: (0, int(i), i) if i.isdigit() else (1, 0, i))


def default_palette(num_classes: int) -> List[List[int]]:
    """Fixed, well-separated colours (hue steps by the golden ratio), same on every machine."""
    colours = []
    for i in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65 + 0.35 * (i % 2),
                                      0.95 - 0.3 * ((i // 2) % 2))
        colours.append([int(round(255 * c)) for c in (r, g, b)])
    return colours


class MultiSensorDataset(BaseDataset):
    """Base of every multi-sensor dataset.

    Metainfo: ``seg_classes`` (label id = index), ``det_classes`` (box label = index) and
    ``palette`` (one RGB colour per seg class; a fixed default when not given).
    """

    METAINFO: dict = dict(seg_classes=(), det_classes=(), palette=())

    def __init__(self, data_root: str = '', pipeline: Sequence = (),
                 metainfo: Optional[Mapping] = None, **kwargs):
        kwargs.setdefault('ann_file', '')
        # Pipelines name this package's transforms without a prefix; outside a Runner (tools,
        # tests) no default scope is set, so build them in ours. A scope set by a config wins.
        scope = None if DefaultScope.get_current_instance() is not None else 'perception'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(data_root=str(data_root), pipeline=list(pipeline),
                             metainfo=metainfo, **kwargs)
        if not self._metainfo.get('palette') and self._metainfo.get('seg_classes'):
            self._metainfo['palette'] = default_palette(len(self._metainfo['seg_classes']))

    @property
    def root(self) -> Path:
        return Path(self.data_root)

    def load_sample(self, idx: int) -> dict:
        """The decoded sample ``idx`` (contract section 1) without the rest of the pipeline."""
        return decode_sample(self.get_data_info(idx))

    def load_data_list(self) -> List[dict]:  # pragma: no cover - each source implements it
        raise NotImplementedError(f'{type(self).__name__} must build its data_list')
