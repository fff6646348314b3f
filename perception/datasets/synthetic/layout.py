"""Sampling a scene: camera, lighting, climate, ground, buildings, vegetation and things.

Three layouts cover what a ground robot meets: a ``street`` (road, pavements, facades on both sides,
parked and moving vehicles, pedestrians), a ``field`` (grass, a dirt track, trees, a forest edge,
animals) and a ``yard`` (concrete, warehouse walls, crates and barrels). Every layout closes the
view with a backdrop (facades or a forest edge) within 60 m, so all ground-truth depth fits the
16-bit millimetre storage (65.535 m) and the ground never reaches the horizon.

Temperatures are bounded so that, outside thermal crossover, people and animals are warmer than any
background surface: by day the air is 0..16 deg C and sunshine adds at most ``solar`` (<= 8 K).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np

from .camera import Camera
from .classes import ANIMAL, OBSTACLE, PERSON, VEHICLE
from .scene import (Billboard, Climate, Facade, Ground, GroundBand, Lighting, Scene, WallStrip)
from .shapes import THING_MAKERS, bush, jitter, pick, tree, treeline

LAYOUTS = ('street', 'field', 'yard')
THING_MIX = {  # class probabilities per layout
    'street': {PERSON: 0.4, VEHICLE: 0.35, OBSTACLE: 0.2, ANIMAL: 0.05},
    'field': {PERSON: 0.3, VEHICLE: 0.1, OBSTACLE: 0.2, ANIMAL: 0.4},
    'yard': {PERSON: 0.3, VEHICLE: 0.2, OBSTACLE: 0.45, ANIMAL: 0.05},
}
MAX_THING_DEPTH = 45.0   # m; beyond the depth sensor's 25 m only RGB and thermal see things
MAX_BACKDROP_DEPTH = 58.0


def sample_lighting(rng: np.random.Generator) -> Tuple[Lighting, float]:
    """Daylight: a sun somewhere in the sky and some overcast. Returns (lighting, overcast)."""
    el, az = np.deg2rad(rng.uniform(12, 65)), rng.uniform(-np.pi, np.pi)
    overcast = float(rng.uniform(0, 1) ** 1.5)
    sun = 1.0 - 0.85 * overcast
    clear_z, clear_h = np.array([0.16, 0.32, 0.75]), np.array([0.55, 0.68, 0.88])
    grey = np.array([0.55, 0.57, 0.6])
    zen = (1 - overcast) * clear_z + overcast * grey
    hor = (1 - overcast) * clear_h + overcast * grey * 1.1
    return Lighting(
        sun_dir=(float(np.cos(el) * np.sin(az)), float(np.sin(el)), float(np.cos(el) * np.cos(az))),
        sun_rgb=tuple(float(c) for c in sun * np.array([1.0, 0.96, 0.88])),
        ambient_rgb=tuple(float(c) for c in (0.22 + 0.3 * overcast) * np.array([0.85, 0.92, 1.05])),
        sky_zenith=tuple(float(c) for c in zen), sky_horizon=tuple(float(c) for c in hor),
    ), overcast


def sample_climate(rng: np.random.Generator, time_of_day: str, overcast: float) -> Climate:
    if time_of_day == 'night':
        ambient, solar = rng.uniform(-5, 12), 0.0
    elif time_of_day == 'dusk':   # warm evening: passive surfaces near body-surface temperatures
        ambient, solar = rng.uniform(20, 27), rng.uniform(0, 2)
    else:
        ambient, solar = rng.uniform(0, 16), rng.uniform(3, 8) * (1 - 0.8 * overcast)
    sky = ambient - rng.uniform(25, 40) * (1 - 0.6 * overcast)
    cloud = ambient - rng.uniform(3, 10)
    return Climate(ambient=float(ambient), sky=float(sky), cloud=float(cloud), solar=float(solar))


# --- ground ---------------------------------------------------------------------------------------
def _band(rng, max_offset, albedo, t, texture, scale, flags=0) -> GroundBand:
    return GroundBand(float(max_offset), jitter(rng, albedo, 0.15), float(t), texture, scale, flags)


def _surface_t(rng, climate: Climate, absorb: float, night_offset: Tuple[float, float]) -> float:
    """Ground temperature: sun-warmed by day; by night asphalt/concrete keep heat, grass cools."""
    if climate.solar > 0:
        return climate.ambient + climate.solar * absorb
    return climate.ambient + rng.uniform(*night_offset)


def sample_ground(rng, layout: str, climate: Climate) -> Tuple[Ground, float]:
    """Returns the ground and the half width of its open (drivable/walkable) centre."""
    def asphalt(off):
        t = _surface_t(rng, climate, 0.95, (1, 4))
        return _band(rng, off, (0.07, 0.07, 0.075), t, 0.25, 3.0)

    def grass(off):
        colour = pick(rng, [(0.09, 0.17, 0.04), (0.14, 0.2, 0.06), (0.3, 0.26, 0.13)])
        return _band(rng, off, colour, _surface_t(rng, climate, 0.45, (-3, -1)), 0.35, 1.5)

    def pavement(off):
        return _band(rng, off, (0.32, 0.31, 0.29), _surface_t(rng, climate, 0.7, (0, 2)), 0.15, 2.0)

    if layout == 'street':
        road = rng.uniform(3.0, 5.0)
        walk = road + rng.uniform(1.5, 3.5)
        ground = Ground([asphalt(road), pavement(walk), grass(np.inf)],
                        x0=rng.uniform(-0.7, 0.7) * road, centre_marking=True)
        return ground, walk
    if layout == 'field':
        dirt = _band(rng, rng.uniform(0.7, 1.5), (0.3, 0.23, 0.15),
                     _surface_t(rng, climate, 0.7, (-1, 1)), 0.35, 2.5)
        ground = Ground([dirt, grass(np.inf)], x0=rng.uniform(-3, 3),
                        curve=rng.uniform(-0.01, 0.01))
        return ground, 60.0
    t = _surface_t(rng, climate, 0.65, (0, 2))
    concrete = _band(rng, np.inf, (0.34, 0.33, 0.31), t, 0.2, 1.0)
    if rng.random() < 0.5:
        return Ground([asphalt(rng.uniform(3, 8)), concrete], x0=rng.uniform(-4, 4)), 30.0
    return Ground([concrete]), 30.0


# --- buildings ------------------------------------------------------------------------------------
WALL_COLOURS = [(0.5, 0.25, 0.17), (0.55, 0.52, 0.45), (0.35, 0.34, 0.33), (0.6, 0.55, 0.4),
                (0.7, 0.68, 0.62), (0.3, 0.2, 0.15)]


def sample_facades(rng, length: float, climate: Climate, heights: Tuple[float, float],
                   industrial: bool = False, gaps: bool = True) -> List[Facade]:
    """Consecutive facades along a strip; ``gaps`` allows alleys (never in a backdrop, which must
    hide everything behind it)."""
    facades, s = [], 0.0
    while s < length:
        w = rng.uniform(8, 30) if industrial else rng.uniform(6, 20)
        if gaps and s > 0 and rng.random() < 0.15:   # an alley: a gap between buildings
            s += rng.uniform(2, 6)
            continue
        albedo = jitter(rng, pick(rng, WALL_COLOURS), 0.1)
        t_wall = climate.ambient + (climate.solar * rng.uniform(0.3, 0.9) if climate.solar > 0
                                    else rng.uniform(1, 3))   # walls release stored heat at night
        storey = rng.uniform(2.8, 3.4)
        pitch = (rng.uniform(4, 8), storey) if industrial else (rng.uniform(1.8, 3.0), storey)
        facades.append(Facade(
            s0=s, s1=min(s + w, length), height=float(rng.uniform(*heights)), albedo=albedo,
            temperature=float(t_wall),
            window_albedo=jitter(rng, (0.05, 0.06, 0.08), 0.2),
            window_temperature=float(climate.ambient - rng.uniform(3, 7)),   # glass mirrors the sky
            window_pitch=pitch,
            window_size=(pitch[0] * rng.uniform(0.35, 0.6), storey * rng.uniform(0.35, 0.55)),
            lit_fraction=float(rng.uniform(0.1, 0.5))))
        s += w
    return facades


# --- things ---------------------------------------------------------------------------------------
def _footprint(b: Billboard) -> Tuple[float, float, float, float]:
    hw = b.half_width * (0.3 if b.kind == 'tree' else 1.0)   # people may stand under a crown
    return b.x - hw, b.x + hw, b.z, b.z + b.extent


def _overlaps(b: Billboard, others: List[Billboard]) -> bool:
    x0, x1, z0, z1 = _footprint(b)
    for o in others:
        ox0, ox1, oz0, oz1 = _footprint(o)
        if x0 < ox1 and ox0 < x1 and z0 < oz1 and oz0 < z1:
            return True
    return False


def place(rng, maker, camera: Camera, climate: Climate, placed: List[Billboard], z_range,
          x_range_fn, tries: int = 12) -> Optional[Billboard]:
    """Draw a position in view and inside the allowed area until the object overlaps nothing."""
    tan_half = camera.width / 2 / camera.focal
    for _ in range(tries):
        z = z_range[0] + (z_range[1] - z_range[0]) * rng.random() ** 1.3   # more near than far
        lo, hi = x_range_fn(z)
        lo, hi = max(lo, -z * tan_half * 1.1), min(hi, z * tan_half * 1.1)
        if hi <= lo:
            continue
        b = maker(rng, float(rng.uniform(lo, hi)), float(z), climate)
        if not _overlaps(b, placed):
            placed.append(b)
            return b
    return None


def sample_scene(rng: np.random.Generator, img_size: Tuple[int, int], time_of_day: str = 'day',
                 max_thing_depth: float = MAX_THING_DEPTH, layout: Optional[str] = None) -> Scene:
    """A random scene. ``time_of_day`` ('day', 'night', 'dusk') sets temperatures; lighting is
    daylight (the night condition darkens it at render time, so the same scene serves both)."""
    layout = layout or pick(rng, LAYOUTS)
    camera = Camera.from_fov(img_size, hfov_deg=rng.uniform(62, 72),
                             mount_height=rng.uniform(0.5, 1.5), pitch_deg=rng.uniform(0, 8))
    lighting, overcast = sample_lighting(rng)
    climate = sample_climate(rng, time_of_day, overcast)
    ground, open_half = sample_ground(rng, layout, climate)
    centre = lambda z: ground.x0 + ground.curve * z * z   # noqa: E731
    z_back = float(rng.uniform(35, MAX_BACKDROP_DEPTH))
    walls: List[WallStrip] = []
    billboards: List[Billboard] = []

    if layout == 'street':
        for side in (-1, 1):
            x = ground.x0 + side * (open_half + rng.uniform(0, 2))
            facades = sample_facades(rng, z_back, climate, (5, 25))
            walls.append(WallStrip((x, 0.5), (x, z_back), facades))
        walls.append(WallStrip((-150.0, z_back), (150.0, z_back),
                               sample_facades(rng, 300.0, climate, (8, 30), gaps=False)))
        for _ in range(int(rng.integers(0, 6))):   # street trees along the pavement edges
            z = float(rng.uniform(4, z_back - 3))
            x = centre(z) + pick(rng, (-1, 1)) * (open_half - 0.8)
            t = tree(rng, float(x), z, climate)
            if not _overlaps(t, billboards):
                billboards.append(t)
        area = lambda z: (centre(z) - open_half + 0.3, centre(z) + open_half - 0.3)   # noqa: E731
    elif layout == 'field':
        billboards.append(treeline(rng, ground.x0, z_back, climate))
        if rng.random() < 0.4:   # a barn at an angle
            zb, xb = rng.uniform(15, z_back - 8), pick(rng, (-1, 1)) * rng.uniform(8, 25)
            yaw, length = rng.uniform(-0.6, 0.6), rng.uniform(10, 25)
            end = (xb + length * np.cos(yaw), zb + length * np.sin(yaw))
            facades = sample_facades(rng, length, climate, (4, 8), industrial=True)
            walls.append(WallStrip((xb, zb), end, facades))
        for maker, n in ((tree, int(rng.integers(1, 8))), (bush, int(rng.integers(1, 8)))):
            for _ in range(n):
                place(rng, maker, camera, climate, billboards, (6, z_back - 4),
                      lambda z: (centre(z) - 60, centre(z) + 60), tries=3)
        area = lambda z: (-60.0, 60.0)   # noqa: E731
    else:  # yard
        z_wall = float(rng.uniform(18, 40))
        walls.append(WallStrip((-rng.uniform(15, 40), z_wall), (rng.uniform(15, 40), z_wall),
                               sample_facades(rng, 80.0, climate, (5, 12), True)))
        side = pick(rng, (-1, 1))
        x_side = side * rng.uniform(6, 15)
        facades = sample_facades(rng, z_wall, climate, (4, 10), industrial=True)
        walls.append(WallStrip((x_side, 1.0), (x_side, z_wall), facades))
        billboards.append(treeline(rng, 0.0, max(z_back, z_wall + 5), climate))
        lo_x = x_side + 0.5 if side < 0 else -60.0
        hi_x = x_side - 0.5 if side > 0 else 60.0
        area = lambda z: (lo_x, hi_x)   # noqa: E731
        z_back = z_wall
        for _ in range(int(rng.integers(0, 4))):
            place(rng, bush, camera, climate, billboards, (4, z_wall - 2), area, tries=2)

    mix = THING_MIX[layout]
    classes, probs = list(mix), np.array(list(mix.values()))
    z_max = min(max_thing_depth, z_back - 3)
    for _ in range(int(rng.integers(2, 12))):
        cls = classes[int(rng.choice(len(classes), p=probs / probs.sum()))]
        place(rng, THING_MAKERS[cls], camera, climate, billboards, (2.5, z_max), area)
    # Far-to-near order is irrelevant for the z-buffer; sorting only makes debugging dumps readable.
    billboards.sort(key=lambda b: -b.z)
    return Scene(camera=camera, lighting=lighting, climate=climate, ground=ground, walls=walls,
                 billboards=billboards, cloud_cover=float(overcast),
                 texture_seed=int(rng.integers(2 ** 62)),
                 layout=layout, time_of_day=time_of_day)
