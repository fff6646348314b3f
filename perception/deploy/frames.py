"""Frames for deployment checks: real sensor files, synthetic scenes, and samples of any dataset config.

A ``Frame`` is the decoded representation of docs/contract.md section 1 (what the Predictor takes) plus
optional ground truth, so parity runs, INT8 calibration and the INT8 accuracy check all feed the graphs
through the Predictor's own pre-processing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from perception.contract import SENSORS

#: Real samples used by the parity check: (name, {sensor: (relative path, encoding)}).
REAL_PARITY_SAMPLES: Tuple[Tuple[str, Dict[str, Tuple[str, str]]], ...] = (
    ('mfnet_day_rgbt', {'rgb': ('mfnet_rgbt/01477D.png', 'mfnet_rgb'),
                        'thermal': ('mfnet_rgbt/01477D.png', 'mfnet_rgba')}),
    ('mfnet_night_rgbt', {'rgb': ('mfnet_rgbt/01234N.png', 'mfnet_rgb'),
                          'thermal': ('mfnet_rgbt/01234N.png', 'mfnet_rgba')}),
    ('nyu_rgbd', {'rgb': ('nyu_demo/images.png', 'rgb8'),
                  'depth': ('nyu_demo/rawdepth.png', 'uint16_mm')}),
)


@dataclass
class Frame:
    name: str
    rgb: Optional[np.ndarray] = None
    thermal: Optional[np.ndarray] = None
    depth: Optional[np.ndarray] = None
    targets: Dict[str, np.ndarray] = field(default_factory=dict)  # gt_sem_seg/gt_bboxes/...

    def sensors(self) -> Dict[str, Optional[np.ndarray]]:
        return {'rgb': self.rgb, 'thermal': self.thermal, 'depth': self.depth}

    def keep(self, sensors: Sequence[str]) -> 'Frame':
        """The same frame with only ``sensors`` present."""
        return replace(self, name=f'{self.name}:{"+".join(sensors)}',
                       **{s: (getattr(self, s) if s in sensors else None) for s in SENSORS})


def real_frames(root: Optional[Path] = None) -> List[Frame]:
    """The real parity samples found under ``root`` (``PERCEPTION_REAL_DATA``); [] when absent."""
    from perception.sensors.encodings import decode_file
    from perception.paths import real_data_root
    root = Path(root) if root is not None else real_data_root()
    frames = []
    for name, files in REAL_PARITY_SAMPLES:
        if not all((root / rel).is_file() for rel, _ in files.values()):
            continue
        arrays = {s: decode_file(root / rel, enc, s) for s, (rel, enc) in files.items()}
        frames.append(Frame(name, **arrays))
    return frames


def procedural_frame(rng: np.random.Generator, size: Tuple[int, int], name: str) -> Frame:
    """A cheap structured scene (sky/ground, boxes with colour, heat and distance) when no synthetic
    dataset is registered: parity needs edges and object-like blobs, not photorealism."""
    h, w = size
    rows = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    rgb = np.empty((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.3, 0.5))
    rgb[:horizon] = [110, 160, 220]
    rgb[horizon:] = [90, 90, 80]
    thermal = np.where(np.arange(h)[:, None] < horizon, 0.2, 0.45).astype(np.float32) * np.ones(
        (1, w), np.float32)
    depth = np.where(np.arange(h)[:, None] < horizon, 0.0,
                     2.0 + 30.0 * (1 - rows) ** 2).astype(np.float32) * np.ones((1, w), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        bh, bw = int(rng.integers(h // 8, h // 2)), int(rng.integers(w // 10, w // 3))
        y0, x0 = int(rng.integers(horizon // 2, h - bh)), int(rng.integers(0, w - bw))
        rgb[y0:y0 + bh, x0:x0 + bw] = rng.uniform(0, 255, 3)
        thermal[y0:y0 + bh, x0:x0 + bw] = rng.uniform(0.3, 0.95)
        depth[y0:y0 + bh, x0:x0 + bw] = rng.uniform(1.5, 20.0)
    rgb = np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
    thermal = np.clip(thermal + rng.normal(0, 0.01, thermal.shape), 0, 1).astype(np.float32)
    return Frame(name, rgb=rgb, thermal=thermal, depth=depth.astype(np.float32))


# --- dataset configs -------------------------------------------------------------------------------
def build_dataset(config, split: str = 'test'):
    """``{split}_dataloader.dataset`` of a config (``calib`` also accepts ``calib_dataloader``)."""
    import perception.registry  # noqa: F401
    from mmengine.registry import DefaultScope

    from perception.models.builder import load_config
    from perception.registry import DATASETS
    cfg = load_config(config)
    keys = [f'{split}_dataloader'] + (['train_dataloader'] if split == 'calib' else [])
    for key in keys:
        loader = cfg.get(key)
        if loader and loader.get('dataset'):
            with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'perception')):
                return DATASETS.build(loader['dataset'])
    raise KeyError(f'config has none of {keys} with a dataset')


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def frame_from_item(item, name: str) -> Frame:
    """A dataset item (packed ``inputs``/``data_samples``, or a decoded dict) -> Frame."""
    if 'inputs' in item:   # after PackMultiSensorInputs: tensors (C, H, W), rgb in 0..255
        inputs, sample = item['inputs'], item.get('data_samples')
        mask = _np(inputs['modality_mask']).astype(bool)
        rgb = np.clip(np.rint(_np(inputs['rgb']).transpose(1, 2, 0)), 0, 255).astype(np.uint8)
        thermal = np.clip(_np(inputs['thermal'])[0], 0, 1).astype(np.float32)
        depth = np.nan_to_num(_np(inputs['depth'])[0], nan=0.0, posinf=0.0).astype(np.float32)
        frame = Frame(name, rgb if mask[0] else None, thermal if mask[1] else None,
                      np.maximum(depth, 0) if mask[2] else None)
        if sample is not None:
            frame.targets = _targets_of_sample(sample)
        return frame
    mask = item.get('modality_mask')
    present = [True] * len(SENSORS) if mask is None else [bool(m) for m in mask]
    frame = Frame(name, *(item.get(s) if p else None for s, p in zip(SENSORS, present)))
    for key in ('gt_sem_seg', 'gt_bboxes', 'gt_bboxes_labels', 'gt_depth'):
        if item.get(key) is not None:
            frame.targets[key] = np.asarray(item[key])
    return frame


def _targets_of_sample(sample) -> Dict[str, np.ndarray]:
    out = {}
    if 'gt_sem_seg' in sample:
        out['gt_sem_seg'] = _np(sample.gt_sem_seg.data)[0]
    if 'gt_instances' in sample:
        out['gt_bboxes'] = _np(sample.gt_instances.bboxes).reshape(-1, 4)
        out['gt_bboxes_labels'] = _np(sample.gt_instances.labels).reshape(-1)
    if 'gt_depth' in sample:
        out['gt_depth'] = _np(sample.gt_depth.data)[0]
    return out


def dataset_frames(config, split: str, num: int, start: int = 0) -> Iterator[Frame]:
    """Up to ``num`` frames of a dataset config's split, evenly spaced over the split."""
    dataset = build_dataset(config, split)
    total = len(dataset)
    if total == 0:
        raise ValueError(f'the {split} split of {config} is empty')
    count = min(num, total - start)
    for i in np.linspace(start, total - 1, count).round().astype(int) if count > 0 else []:
        yield frame_from_item(dataset[int(i)], f'{split}[{int(i)}]')


def synthetic_frames(num: int, size: Tuple[int, int], seed: int = 0) -> List[Frame]:
    """``num`` frames of the package's synthetic scene generator (val split), or procedural frames
    where the generator is not installed (the deployment extra without the training stack)."""
    try:
        import perception.datasets  # noqa: F401  (registers SyntheticRGBTDDataset)
        from mmengine.registry import DefaultScope

        from perception.registry import DATASETS
    except ImportError:
        DATASETS = None
    if DATASETS is None or DATASETS.get('SyntheticRGBTDDataset') is None:
        rng = np.random.default_rng(seed)
        return [procedural_frame(rng, size, f'procedural[{i}]') for i in range(num)]
    with DefaultScope.overwrite_default_scope('perception'):
        dataset = DATASETS.build(dict(type='SyntheticRGBTDDataset', split='val', num_samples=num,
                                      img_size=tuple(size), seed=seed, pipeline=[]))
    return [frame_from_item(dataset[i], f'synthetic[{i}]') for i in range(num)]
