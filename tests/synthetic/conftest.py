"""Shared helpers for the synthetic-scene tests: rendered scenes with their G-buffers, contrast
measures around things. Small images keep the whole directory fast.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

import numpy as np
import pytest

from perception.datasets.synthetic import make_scene, render_sample, sample_seed, streams
from perception.datasets.synthetic.classes import THING_IDS
from perception.datasets.synthetic.render import GBuffer, InstanceInfo, render_geometry
from perception.datasets.synthetic.scene import Scene

SIZE = (128, 160)


class Rendered(NamedTuple):
    scene: Scene
    g: GBuffer
    noise: dict
    sample: dict


def render(condition: str, index: int, seed: int = 11, size=SIZE,
           sample_condition: Optional[str] = None) -> Rendered:
    """Scene ``index`` sampled for ``condition`` and rendered under ``sample_condition`` (default:
    the same condition)."""
    st = streams(sample_seed(seed, 'test', index))
    scene = make_scene(st['scene'], size, condition)
    g = render_geometry(scene)
    return Rendered(scene, g, st, render_sample(scene, sample_condition or condition, st, g))


def first_with(condition: str, predicate, start: int = 0, limit: int = 40) -> Rendered:
    """The first scene (deterministic search) whose rendering satisfies ``predicate``."""
    for i in range(start, start + limit):
        r = render(condition, i)
        if predicate(r):
            return r
    raise AssertionError(f'no {condition} scene in {limit} tries satisfies the test precondition')


def ring(box, shape, width: int = 4) -> np.ndarray:
    """Mask of a band ``width`` pixels wide around an xyxy box."""
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = shape
    m = np.zeros(shape, bool)
    m[max(0, y0 - width):min(h, y1 + width), max(0, x0 - width):min(w, x1 + width)] = True
    m[y0:y1, x0:x1] = False
    return m


def separation(image: np.ndarray, g: GBuffer, inst: InstanceInfo, box) -> float:
    """How well this sensor's pixel values tell a thing from the non-thing pixels around its box:
    2 * |AUC - 0.5| of the two value distributions (0 = indistinguishable, 1 = fully separated)."""
    img = image.astype(np.float64)
    if img.ndim == 3:
        img = img.mean(axis=2)
    inside = img[g.instance == inst.id]
    around = np.sort(img[ring(box, g.label.shape) & ~np.isin(g.label, THING_IDS)])
    if inside.size < 20 or around.size < 20:
        return float('nan')
    rank = np.searchsorted(around, inside, 'left') + np.searchsorted(around, inside, 'right')
    return float(abs(rank.mean() / (2 * around.size) - 0.5) * 2)


def instance_boxes(r: Rendered) -> List[tuple]:
    """(instance, box) pairs of the things that got a box."""
    out = []
    for inst in r.g.instances:
        m = r.g.instance == inst.id
        if m.sum() < 10:
            continue
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        out.append((inst, (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)))
    return out


@pytest.fixture(scope='session')
def scenes_all_conditions():
    """Three rendered scenes per condition (30 samples), shared by the target checks."""
    from perception.datasets.synthetic import CONDITIONS
    return [render(c, i) for c in CONDITIONS for i in range(3)]
