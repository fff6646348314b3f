"""One synthetic sample: seeding, scene, condition, sensors, targets -> the decoded-sample dict.

Seeding: sample ``index`` of ``split`` with base ``seed`` uses ``SeedSequence(seed,
spawn_key=(SPLIT_KEYS[split], index))``. Spawn keys of different splits differ in their first
element, so the train/val/test streams are distinct SeedSequence inputs for every index and seed
(numpy hashes the whole key into the generator state). Each sample then spawns independent child
streams for the condition choice, the scene, each sensor's noise and the condition's own randomness,
so that changing the condition of a scene changes nothing else.

Outputs are quantised to the precision of the generic layout's encodings (depth in whole
millimetres, thermal in 1/65535 steps), so a sample written to disk reads back bit-identical.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from perception.contract import SENSORS

from ...sensors.encodings import get_encoding
from .classes import det_label
from .conditions import Condition, condition_weights, get_condition
from .layout import MAX_THING_DEPTH, sample_scene
from .render import GBuffer, render_geometry
from .scene import Scene
from .sensors import clean_depth, depth_reading, expose, radiance, thermal_image

SPLIT_KEYS: Dict[str, int] = {'train': 0, 'val': 1, 'test': 2}
MAX_GT_DEPTH = 65.535          # m: the largest value a uint16 millimetre PNG can hold
MIN_BOX_PIXELS = 10            # visible pixels for a thing to get a box (smaller: label map only)
STREAMS = ('condition', 'scene', 'rgb', 'thermal', 'depth', 'effect')
#: Encodings of the generic layout (tools/make_synthetic.py writes with these).
STORAGE = {'thermal': 'u16_unit', 'depth': 'uint16_mm', 'gt_depth': 'uint16_mm'}
ConditionSpec = Union[None, Sequence[str], Mapping[str, float]]


def sample_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    if split not in SPLIT_KEYS:
        raise ValueError(f'split must be one of {tuple(SPLIT_KEYS)}, got {split!r}')
    if seed < 0 or index < 0:
        raise ValueError(f'seed and index must be >= 0, got seed={seed}, index={index}')
    return np.random.SeedSequence(seed, spawn_key=(SPLIT_KEYS[split], index))


def streams(seq: np.random.SeedSequence) -> Dict[str, np.random.SeedSequence]:
    """The named child streams of one sample (fixed order: never reorder STREAMS)."""
    return dict(zip(STREAMS, seq.spawn(len(STREAMS))))


def boxes_from_instances(g: GBuffer) -> Tuple[np.ndarray, np.ndarray]:
    """xyxy boxes (pixel edges) around the visible pixels of each thing, and their det labels."""
    boxes, labels = [], []
    for inst in g.instances:
        v0, v1, u0, u1 = inst.roi
        m = g.instance[v0:v1, u0:u1] == inst.id
        if m.sum() < MIN_BOX_PIXELS:
            continue
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        boxes.append((u0 + cols[0], v0 + rows[0], u0 + cols[-1] + 1, v0 + rows[-1] + 1))
        labels.append(det_label(inst.label))
    return (np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64))


def render_sample(scene: Scene, condition: Union[str, Condition],
                  noise: Mapping[str, np.random.SeedSequence], g: Optional[GBuffer] = None) -> dict:
    """Sensors and targets of ``scene`` under ``condition`` (contract section 1, without ids).

    ``noise`` holds the 'rgb', 'thermal', 'depth' and 'effect' streams; pass a precomputed
    G-buffer ``g`` to render one scene under several conditions.
    """
    cond = get_condition(condition)
    g = render_geometry(scene) if g is None else g
    p = cond.params(np.random.default_rng(noise['effect']), scene, g)
    seen = cond.surfaces(g, p)
    out = dict(rgb=None, thermal=None, depth=None)
    if 'rgb' not in cond.dropped:
        lighting = cond.lighting(scene.lighting, p)
        rad = cond.radiance(radiance(seen, lighting), seen, p)
        out['rgb'] = expose(rad, lighting, np.random.default_rng(noise['rgb']))
    if 'thermal' not in cond.dropped:
        out['thermal'] = thermal_image(seen.temperature, np.random.default_rng(noise['thermal']))
    if 'depth' not in cond.dropped:
        reading = depth_reading(g.depth, np.random.default_rng(noise['depth']))
        out['depth'] = cond.depth(reading, seen, p)
    bboxes, labels = boxes_from_instances(g)
    h, w = g.label.shape
    out.update(gt_sem_seg=g.label.copy(), gt_depth=clean_depth(g.depth, MAX_GT_DEPTH), gt_bboxes=bboxes,
               gt_bboxes_labels=labels,
               modality_mask=np.array([out[s] is not None for s in SENSORS], dtype=bool),
               img_shape=(h, w), ori_shape=(h, w), condition=cond.name)
    return quantize(out)


def quantize(sample: dict) -> dict:
    """Thermal and depth at the precision of their storage encodings (rgb and labels are exact)."""
    for key, encoding in STORAGE.items():
        if sample.get(key) is not None:
            sample[key] = get_encoding(encoding, key, 'thermal' if key == 'thermal' else 'depth'
                                       ).quantize(sample[key], key)
    return sample


def choose_condition(seq: np.random.SeedSequence, conditions: ConditionSpec = None) -> str:
    names, probs = condition_weights(conditions)
    return names[int(np.random.default_rng(seq).choice(len(names), p=probs))]


def make_scene(seq: np.random.SeedSequence, img_size: Tuple[int, int],
               condition: Union[str, Condition]) -> Scene:
    cond = get_condition(condition)
    depth_cap = cond.max_thing_depth if cond.max_thing_depth is not None else MAX_THING_DEPTH
    return sample_scene(np.random.default_rng(seq), img_size, cond.time_of_day, depth_cap)


def generate_sample(index: int, seed: int = 0, split: str = 'train',
                    img_size: Tuple[int, int] = (256, 320), conditions: ConditionSpec = None,
                    condition: Optional[str] = None) -> dict:
    """The decoded sample ``index`` of ``split`` (deterministic in seed, split, index, size and the
    condition set). ``condition`` forces one condition instead of drawing it from ``conditions``."""
    st = streams(sample_seed(seed, split, index))
    name = condition if condition is not None else choose_condition(st['condition'], conditions)
    scene = make_scene(st['scene'], tuple(img_size), name)
    sample = render_sample(scene, name, st)
    sample.update(sample_idx=int(index), img_id=f'{split}_{seed}_{index:07d}', sources={})
    return sample
