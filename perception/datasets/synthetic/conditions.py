"""Scene conditions: what each one changes, in which sensor, and which sensor it makes necessary.

A condition acts through five hooks applied while a scene is rendered (see generator.render_sample):
``lighting`` (what RGB is lit by), ``surfaces`` (albedo/temperature of things), ``radiance`` (light
reaching the RGB camera), ``depth`` (the depth sensor's reading) and ``dropped`` (sensors that
deliver nothing). Ground truth (labels, boxes, clean depth) never depends on the condition.
``affects`` lists the sensors a condition changes, and tests check that it changes exactly those.

Which sensor carries the scene under each condition (things can stand up to 45 m away; the depth
sensor reaches 25 m):

================ ====================================================== ============================
condition        what happens                                           needed sensor(s)
================ ====================================================== ============================
day              clear or overcast daylight                             any (redundant)
night            RGB dark and noisy: people/animals vanish; lamps and   thermal (only one beyond
                 lit windows remain. Thermal and depth unchanged        25 m), depth
glare            low sun / headlights saturate part of the RGB image    thermal, depth (in glare)
fog              RGB loses contrast with distance; depth fails beyond   thermal (only one beyond
                 a few tens of metres and gets spurious near returns    the fogged depth range)
crossover        things take the temperature of their background        RGB (only one beyond 25 m),
                                                                        depth
camouflage       things take the colour and temperature of their       depth (only one)
                 background; all within depth range
depth_holes      no depth on dark (asphalt, tyres, black clothes) and   RGB, thermal
                 shiny (glass, glossy paint) surfaces, plus dropouts
no_rgb / no_thermal / no_depth   that sensor delivers nothing            the other two
================ ====================================================== ============================
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, FrozenSet, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .noise import smooth_noise, white_noise
from .render import GBuffer
from .scene import SHINY, Lighting, Scene
from .sensors import AE_TARGET, MAX_RANGE

Params = Dict[str, object]   # per-sample draws shared by a condition's hooks


class Condition:
    """No-op base: a clear day."""
    name = 'day'
    description = 'clear or overcast daylight; every sensor works'
    affects: FrozenSet[str] = frozenset()
    needs = 'any sensor (redundant)'
    time_of_day = 'day'                    # temperatures the scene is sampled with
    max_thing_depth: Optional[float] = None  # None: the layout's default
    dropped: Tuple[str, ...] = ()

    def params(self, rng: np.random.Generator, scene: Scene, g: GBuffer) -> Params:
        return {}

    def lighting(self, lighting: Lighting, p: Params) -> Lighting:
        return lighting

    def surfaces(self, g: GBuffer, p: Params) -> GBuffer:
        return g

    def radiance(self, rad: np.ndarray, g: GBuffer, p: Params) -> np.ndarray:
        return rad

    def depth(self, depth: np.ndarray, g: GBuffer, p: Params) -> np.ndarray:
        return depth

    def __repr__(self) -> str:
        return f'Condition({self.name!r})'


class Night(Condition):
    name = 'night'
    description = ('no sun; moonlight and sky glow only, so the RGB camera runs at its gain limit: '
                   'dark and noisy, people and animals vanish; lamps and lit windows shine')
    affects = frozenset({'rgb'})
    needs = 'thermal (the only sensor beyond the depth range), depth'
    time_of_day = 'night'

    def params(self, rng, scene, g):
        return dict(moon=float(rng.uniform(0.5, 1.5)), glow=float(rng.uniform(0.5, 1.5)))

    def lighting(self, lighting, p):
        moon = p['moon'] * np.array([0.004, 0.0045, 0.006])
        return replace(lighting, sun_rgb=(0.0, 0.0, 0.0), ambient_rgb=tuple(moon.tolist()),
                       sky_zenith=(0.002, 0.0025, 0.005),
                       sky_horizon=tuple((p['glow'] * np.array([0.025, 0.018, 0.012])).tolist()),
                       lamp_level=1.0, max_gain=8.0)


class Glare(Condition):
    name = 'glare'
    description = 'the low sun or headlights in view: a saturated disc with halo and smear in RGB'
    affects = frozenset({'rgb'})
    needs = 'thermal, depth (inside the glare)'

    def params(self, rng, scene, g):
        h, w = g.label.shape
        if g.instances and rng.random() < 0.7:   # aim at a thing, so that glare hides something
            v0, v1, u0, u1 = g.instances[int(rng.integers(len(g.instances)))].roi
            cu, cv = rng.uniform(u0, u1), rng.uniform(v0, v1)
        else:
            cu, cv = rng.uniform(0, w), rng.uniform(0, 0.6 * h)
        return dict(u=float(cu), v=float(cv), sigma=float(rng.uniform(0.06, 0.15) * w),
                    power=float(rng.uniform(15, 50)))

    def radiance(self, rad, g, p):
        h, w = g.label.shape
        y, x = np.ogrid[0:h, 0:w]
        dy2 = ((y + 0.5 - p['v']) ** 2).astype(np.float32)
        r2 = ((x + 0.5 - p['u']) ** 2).astype(np.float32) + dy2
        s = np.float32(p['sigma'])
        core = np.exp(-r2 / (2 * s * s)) + np.float32(0.08) * np.exp(-np.sqrt(r2) / (3 * s))
        smear = np.float32(0.05) * np.exp(-dy2 / np.float32(8.0))   # sensor bloom along the rows
        glare = np.float32(p['power'] * AE_TARGET) * (core + smear)
        return rad + glare[None] * np.array([1.0, 0.95, 0.85], np.float32)[:, None, None]


class Fog(Condition):
    name = 'fog'
    description = ('RGB contrast decays with distance (Koschmieder); the depth sensor is blinded '
                   'beyond a fraction of the visibility, noisier, with spurious near returns')
    affects = frozenset({'rgb', 'depth'})
    needs = 'thermal (long-wave infrared passes light fog)'

    def params(self, rng, scene, g):
        visibility = float(rng.uniform(30, 110))
        return dict(beta=3.912 / visibility, depth_range=float(min(MAX_RANGE, visibility * 0.3)),
                    seed=int(rng.integers(2 ** 31)))

    def radiance(self, rad, g, p):
        tr = np.exp(-np.float32(p['beta']) * np.minimum(g.depth, np.float32(1e4)))[None]
        airlight = np.float32(np.median(rad[:, ::8, ::8])) * np.float32(1.3)
        return rad * tr + airlight * (1 - tr)

    def depth(self, depth, g, p):
        rng = np.random.default_rng(p['seed'])
        z = np.where(np.isfinite(g.depth), g.depth, np.float32(1e3))
        reach = np.float32(p['depth_range'])
        # Returns thin out towards the fogged range and are noisier (scattered light).
        lost = rng.random(z.shape, dtype=np.float32) < 0.7 * (z / reach) ** 2
        noisy = depth + np.float32(0.01) * z * white_noise(rng, z.shape)
        out = np.where((z <= reach) & ~lost & (depth > 0), noisy, np.float32(0))
        # Backscatter: droplets close to the emitter return light at short range.
        speckle = rng.random(z.shape, dtype=np.float32) < np.float32(p['beta'] * 0.05)
        near = rng.uniform(0.4, 2.5, z.shape).astype(np.float32)
        return np.where(speckle, near, out).astype(np.float32)


class Crossover(Condition):
    name = 'crossover'
    description = ('thermal crossover (warm evening): every thing shows the temperature of the '
                   'background behind it, within +-0.4 K')
    affects = frozenset({'thermal'})
    needs = 'RGB (the only sensor beyond the depth range), depth'
    time_of_day = 'dusk'

    def params(self, rng, scene, g):
        return dict(offsets=rng.uniform(-0.4, 0.4, len(g.instances) + 1))

    def surfaces(self, g, p):
        g = g.copy()
        _, bg_t, _ = g.background()
        things = g.instance > 0
        offsets = np.asarray(p['offsets'], np.float32)
        g.temperature = np.where(things, bg_t + offsets[g.instance], g.temperature)
        return g


class Camouflage(Condition):
    name = 'camouflage'
    description = ('things take the colour, texture, shading and temperature of the background '
                   'behind them; all stand within depth range')
    affects = frozenset({'rgb', 'thermal'})
    needs = 'depth (the only sensor that separates them)'
    max_thing_depth = 0.85 * MAX_RANGE

    def params(self, rng, scene, g):
        n = len(g.instances) + 1
        return dict(offsets=rng.uniform(-0.4, 0.4, n), gains=rng.uniform(0.93, 1.07, n))

    def surfaces(self, g, p):
        g = g.copy()
        bg_albedo, bg_t, bg_shade = g.background()
        things = g.instance > 0
        gains = np.asarray(p['gains'], np.float32)[g.instance]
        g.albedo = np.where(things[None], bg_albedo * gains[None], g.albedo)
        g.shade = np.where(things, bg_shade, g.shade)
        g.temperature = np.where(things, bg_t + np.asarray(p['offsets'], np.float32)[g.instance],
                                 g.temperature)
        return g


class DepthHoles(Condition):
    name = 'depth_holes'
    description = ('no depth return from dark (albedo < 0.08: asphalt, tyres, black clothing) or '
                   'shiny (glass, glossy paint) surfaces, plus random dropout blobs')
    affects = frozenset({'depth'})
    needs = 'RGB, thermal (and depth completion)'
    DARK = 0.08

    def params(self, rng, scene, g):
        return dict(seed=int(rng.integers(2 ** 31)), blobs=int(rng.integers(2, 7)))

    def depth(self, depth, g, p):
        rng = np.random.default_rng(p['seed'])
        h, w = depth.shape
        a = g.albedo
        dark = 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2] < np.float32(self.DARK)
        shiny = (g.flags & SHINY) > 0
        patchy = smooth_noise(rng, (h, w), 6.0) > -0.6   # ~75 % of the risky surface fails
        holes = (dark | shiny) & patchy
        blobs = np.zeros((h, w), np.uint8)
        for _ in range(p['blobs']):
            centre = (int(rng.integers(w)), int(rng.integers(h)))
            axes = (int(rng.integers(3, w // 10)), int(rng.integers(3, h // 10)))
            cv2.ellipse(blobs, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        return np.where(holes | (blobs > 0), np.float32(0), depth)


class Dropout(Condition):
    """One sensor delivers nothing (dead cable, driver crash)."""

    def __init__(self, sensor: str):
        self.sensor = sensor
        self.name = f'no_{sensor}'
        self.description = f'the {sensor} sensor delivers no frame'
        self.affects = frozenset({sensor})
        self.needs = 'the other two sensors'
        self.dropped = (sensor, )


CONDITIONS: Dict[str, Condition] = {c.name: c for c in (
    Condition(), Night(), Glare(), Fog(), Crossover(), Camouflage(), DepthHoles(),
    Dropout('rgb'), Dropout('thermal'), Dropout('depth'))}


def get_condition(condition: Union[str, Condition]) -> Condition:
    if isinstance(condition, Condition):
        return condition
    if condition not in CONDITIONS:
        raise KeyError(f'unknown condition {condition!r}; choose from {sorted(CONDITIONS)}')
    return CONDITIONS[condition]


def condition_weights(conditions: Union[None, Sequence[str], Mapping[str, float]]
                      ) -> Tuple[Tuple[str, ...], np.ndarray]:
    """(names, probabilities) from None (all, uniform), a list (uniform) or a dict of weights."""
    if conditions is None:
        names, weights = tuple(CONDITIONS), np.ones(len(CONDITIONS))
    elif isinstance(conditions, Mapping):
        names, weights = tuple(conditions), np.array([float(v) for v in conditions.values()])
    else:
        names = tuple(conditions)
        weights = np.ones(len(names))
    for n in names:
        get_condition(n)
    if not names or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f'conditions: need at least one non-negative weight, got {conditions!r}')
    return names, weights / weights.sum()
