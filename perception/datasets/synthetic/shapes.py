"""Silhouettes of things and vegetation as billboards, with colours and temperatures.

Each maker draws its size, colours and temperatures from ``rng`` and the climate, and returns a
:class:`Billboard` standing on the ground at ``(x, z)``. Polygons are in metres: ``a`` to the right
of the centre line, ``b`` up from the ground. Temperatures are apparent surface temperatures: people
and animals sit between the air and body temperature (clothing/fur insulate), running engines are
hot, glass reflects the cold sky, passive objects follow the air plus sunshine absorbed by dark
colours.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import numpy as np

from .classes import ANIMAL, OBSTACLE, PERSON, VEGETATION, VEHICLE
from .noise import noisy_ellipse
from .scene import LAMP, RGB, SHINY, Billboard, Climate, Part

Maker = Callable[[np.random.Generator, float, float, Climate], Billboard]


# --- polygon helpers (metres) ---------------------------------------------------------------------
def rect(a0: float, b0: float, a1: float, b1: float) -> np.ndarray:
    return np.array([(a0, b0), (a1, b0), (a1, b1), (a0, b1)], dtype=np.float64)


def ellipse(ca: float, cb: float, ra: float, rb: float, n: int = 14) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([ca + ra * np.cos(t), cb + rb * np.sin(t)], axis=1)


def limb(p0: Sequence[float], p1: Sequence[float], width: float) -> np.ndarray:
    """Quad of a thick segment from p0 to p1 (arms, legs, necks)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9) * width / 2
    return np.array([p0 + n, p1 + n, p1 - n, p0 - n])


def mirror(parts: List[Part]) -> List[Part]:
    """Face the other way."""
    for p in parts:
        p.polygon = p.polygon * np.array([-1.0, 1.0])
    return parts


def jitter(rng: np.random.Generator, colour: RGB, amount: float = 0.15) -> RGB:
    f = rng.uniform(1 - amount, 1 + amount, 3)
    return tuple(min(max(float(c * k), 0.005), 0.95) for c, k in zip(colour, f))


def pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def sun_warmed(climate: Climate, albedo: RGB, share: float = 1.0) -> float:
    """Passive surface: air temperature plus absorbed sunshine (dark surfaces heat more); ``share``
    < 1 for bodies that lag behind (rocks, tree trunks)."""
    return climate.ambient + climate.solar * share * (1.0 - float(np.mean(albedo)))


def body_surface(rng: np.random.Generator, climate: Climate, core: float,
                 insulation: tuple) -> float:
    """Surface of an insulated warm body: between the air and the core temperature."""
    k = rng.uniform(*insulation)
    return climate.ambient + (core - climate.ambient) * k


# --- colour tables (linear albedo) ----------------------------------------------------------------
SKIN = [(0.55, 0.38, 0.28), (0.7, 0.52, 0.4), (0.35, 0.23, 0.16), (0.2, 0.13, 0.09)]
CLOTHES = [(0.03, 0.03, 0.03), (0.6, 0.6, 0.6), (0.5, 0.06, 0.05), (0.06, 0.12, 0.4),
           (0.08, 0.25, 0.08), (0.75, 0.7, 0.08), (0.35, 0.3, 0.22), (0.2, 0.2, 0.22),
           (0.55, 0.25, 0.05), (0.3, 0.1, 0.35)]
TROUSERS = [(0.06, 0.09, 0.2), (0.03, 0.03, 0.03), (0.35, 0.3, 0.2), (0.18, 0.18, 0.18)]
PAINT = [(0.65, 0.65, 0.65), (0.03, 0.03, 0.035), (0.4, 0.41, 0.43), (0.18, 0.18, 0.19),
         (0.45, 0.04, 0.03), (0.04, 0.1, 0.35), (0.05, 0.18, 0.08), (0.7, 0.55, 0.05)]
FUR = [(0.3, 0.18, 0.09), (0.05, 0.04, 0.035), (0.6, 0.57, 0.5), (0.5, 0.38, 0.24),
       (0.3, 0.29, 0.27)]
GLASS: RGB = (0.04, 0.05, 0.06)
HEADLIGHT: RGB = (0.85, 0.85, 0.75)
TAILLIGHT: RGB = (0.5, 0.03, 0.02)
HUBCAP: RGB = (0.3, 0.3, 0.3)
RUBBER: RGB = (0.025, 0.025, 0.025)


# --- things ---------------------------------------------------------------------------------------
def person(rng: np.random.Generator, x: float, z: float, climate: Climate) -> Billboard:
    h = rng.uniform(1.55, 1.95) if rng.random() > 0.15 else rng.uniform(1.0, 1.4)   # 15 % children
    s = h / 1.75
    skin, shirt, legs = pick(rng, SKIN), pick(rng, CLOTHES), pick(rng, TROUSERS)
    t_skin = body_surface(rng, climate, 36.5, (0.75, 0.9))
    t_shirt = body_surface(rng, climate, 35.0, (0.6, 0.8))
    t_legs = t_shirt - rng.uniform(0.5, 2.0)
    sw, hip = 0.44 * s, 0.17 * s                  # shoulder and hip widths
    stride = rng.uniform(-0.25, 0.25) * s         # walking pose
    swing = rng.uniform(-0.15, 0.15) * s
    torso = np.array([(-sw / 2, 0.79 * h), (-sw / 2 + 0.06 * s, 0.83 * h),
                      (sw / 2 - 0.06 * s, 0.83 * h), (sw / 2, 0.79 * h), (hip, 0.47 * h),
                      (-hip, 0.47 * h)])
    parts = []
    for side in (-1, 1):
        hip_pt, foot = (side * 0.08 * s, 0.5 * h), (side * (0.09 * s + stride), 0.03 * h)
        parts.append(Part(limb(hip_pt, foot, 0.14 * s), PERSON, legs, t_legs))
        shoe = rect(side * stride, 0, side * (0.16 * s + stride), 0.04 * h)
        parts.append(Part(shoe, PERSON, RUBBER, t_legs - 2))
    for side in (-1, 1):
        shoulder = (side * (sw / 2 - 0.04 * s), 0.8 * h)
        hand = (side * (sw / 2 + 0.02 * s - swing), 0.45 * h)
        parts.append(Part(limb(shoulder, hand, 0.1 * s), PERSON, shirt, t_shirt))
    parts += [Part(torso, PERSON, shirt, t_shirt),
              Part(rect(-0.05 * s, 0.8 * h, 0.05 * s, 0.88 * h), PERSON, skin, t_skin),
              Part(ellipse(0.0, h - 0.12 * s, 0.1 * s, 0.12 * s), PERSON, skin, t_skin + 0.5)]
    return Billboard(x, z, half_width=max(sw / 2 + 0.05, 0.18 + abs(stride)), height=h,
                     extent=0.3 * s, parts=parts, label=PERSON, profile='round', relief=0.25 * s,
                     is_thing=True, casts_shadow=True, kind='person')


def _car_side(L: float, top: float, van: bool, paint: RGB, flags: int, t: Dict[str, float],
              r: float) -> List[Part]:
    """Side view facing +a: body, cabin, two windows, warm hood, lights, exhaust, wheels."""
    hood = 0.38 * L if van else 0.25 * L                   # where the windscreen starts
    rear = -L / 2 + 0.05 if van else -0.32 * L             # where the roof ends
    screen = hood - 0.22 * L + (0.12 * L if van else 0)    # top of the windscreen
    body = [(-L / 2, 0.28), (L / 2, 0.28), (L / 2, 0.7), (L / 2 - 0.12, 0.88), (hood, 0.96),
            (-L / 2 + 0.05, 0.98), (-L / 2, 0.85)]
    cabin = [(hood, 0.94), (screen, top), (rear, top), (-L / 2 if van else -0.45 * L, 0.96)]
    front_window = [(hood - 0.05, 0.99), (screen + 0.02 * L, top - 0.07), (-0.02 * L, top - 0.07),
                    (-0.02 * L, 0.99)]
    back = -0.2 * L if van else -0.3 * L
    back_window = [(-0.06 * L, 0.99), (-0.06 * L, top - 0.07), (back, top - 0.07),
                   (-0.2 * L if van else -0.42 * L, 0.99)]
    parts = [Part(np.array(body), VEHICLE, paint, t['body'], flags),
             Part(np.array(cabin), VEHICLE, paint, t['body'], flags),
             Part(np.array(front_window), VEHICLE, GLASS, t['glass'], SHINY),
             Part(np.array(back_window), VEHICLE, GLASS, t['glass'], SHINY),
             Part(rect(hood + 0.05 * L, 0.72, L / 2 - 0.02, 0.92), VEHICLE, paint, t['engine'],
                  flags),                                                         # warm hood
             Part(rect(L / 2 - 0.1, 0.62, L / 2, 0.74), VEHICLE, HEADLIGHT, t['body'], LAMP),
             Part(rect(-L / 2, 0.66, -L / 2 + 0.08, 0.8), VEHICLE, TAILLIGHT, t['body'], LAMP),
             Part(rect(-L / 2 + 0.1, 0.2, -L / 2 + 0.35, 0.28), VEHICLE, RUBBER, t['exhaust'])]
    for wa in (0.31 * L, -0.3 * L):
        parts.append(Part(ellipse(wa, r, r, r, 16), VEHICLE, RUBBER, t['tyre']))
        parts.append(Part(ellipse(wa, r, 0.55 * r, 0.55 * r, 10), VEHICLE, HUBCAP, t['tyre']))
    return parts


def _car_end(w: float, top: float, front: bool, paint: RGB, flags: int, t: Dict[str, float]
             ) -> List[Part]:
    """Front or rear view: wheels, body, cabin, windscreen, lights; grille or exhaust."""
    lamp = HEADLIGHT if front else TAILLIGHT
    body = [(-w / 2, 0.3), (w / 2, 0.3), (w / 2, 0.9), (w / 2 - 0.08, 1.0), (-w / 2 + 0.08, 1.0),
            (-w / 2, 0.9)]
    cabin = [(-0.42 * w, 0.98), (0.42 * w, 0.98), (0.34 * w, top), (-0.34 * w, top)]
    screen = [(-0.38 * w, 1.02), (0.38 * w, 1.02), (0.31 * w, top - 0.07), (-0.31 * w, top - 0.07)]
    parts = [Part(rect(-w / 2 + 0.05, 0.0, -w / 2 + 0.3, 0.4), VEHICLE, RUBBER, t['tyre']),
             Part(rect(w / 2 - 0.3, 0.0, w / 2 - 0.05, 0.4), VEHICLE, RUBBER, t['tyre']),
             Part(np.array(body), VEHICLE, paint, t['body'], flags),
             Part(np.array(cabin), VEHICLE, paint, t['body'], flags),
             Part(np.array(screen), VEHICLE, GLASS, t['glass'], SHINY),
             Part(rect(-w / 2 + 0.08, 0.62, -w / 2 + 0.35, 0.75), VEHICLE, lamp, t['body'], LAMP),
             Part(rect(w / 2 - 0.35, 0.62, w / 2 - 0.08, 0.75), VEHICLE, lamp, t['body'], LAMP)]
    if front:   # the grille shows the engine's heat
        parts.append(Part(rect(-0.25 * w, 0.42, 0.25 * w, 0.65), VEHICLE, (0.08, 0.08, 0.08),
                          t['engine']))
    else:
        parts.append(Part(rect(0.2 * w, 0.2, 0.32 * w, 0.3), VEHICLE, RUBBER, t['exhaust']))
    return parts


def vehicle(rng: np.random.Generator, x: float, z: float, climate: Climate) -> Billboard:
    van = rng.random() < 0.25
    length = rng.uniform(4.6, 5.4) if van else rng.uniform(3.8, 4.8)
    width = rng.uniform(1.7, 2.0)
    top = rng.uniform(1.9, 2.3) if van else rng.uniform(1.4, 1.6)
    paint = jitter(rng, pick(rng, PAINT), 0.1)
    flags = SHINY if rng.random() < 0.5 else 0               # glossy paint
    engine_on = rng.random() < 0.6
    t = dict(body=sun_warmed(climate, paint) - (1.0 if climate.solar == 0 else 0.0),
             glass=climate.ambient - rng.uniform(4, 8))      # glass mirrors the cold sky in LWIR
    t.update(engine=rng.uniform(45, 70) if engine_on else t['body'],
             exhaust=rng.uniform(45, 70) if engine_on else t['body'],
             tyre=climate.ambient + (rng.uniform(8, 15) if engine_on else 0.0))
    wheel_r = rng.uniform(0.3, 0.36)
    view = pick(rng, ('side', 'side', 'front', 'rear', 'oblique'))
    if view in ('side', 'oblique'):
        parts = _car_side(length, top, van, paint, flags, t, wheel_r)
        half, extent, relief, profile = length / 2, width, 0.3, 'round'
        if view == 'oblique':   # squeeze the side silhouette; the far end recedes
            squeeze = rng.uniform(0.6, 0.85)
            for p in parts:
                p.polygon = p.polygon * np.array([squeeze, 1.0])
            half = length / 2 * squeeze
            extent = length * np.sqrt(1 - squeeze ** 2) + width * squeeze
            relief, profile = extent, 'slant'
        if rng.random() < 0.5:
            parts = mirror(parts)
    else:
        parts = _car_end(width, top, view == 'front', paint, flags, t)
        half, extent, relief, profile = width / 2, length, 0.5, 'round'
    return Billboard(x, z, half_width=half, height=top, extent=extent, parts=parts, label=VEHICLE,
                     profile=profile, relief=relief, slant=float(pick(rng, (-1, 1))),
                     is_thing=True, casts_shadow=True, kind='van' if van else 'car')


def animal(rng: np.random.Generator, x: float, z: float, climate: Climate) -> Billboard:
    big = rng.random() < 0.45                                           # deer/cow/horse vs dog/fox
    h = rng.uniform(1.1, 1.5) if big else rng.uniform(0.45, 0.8)        # shoulder height
    L = h * rng.uniform(1.2, 1.5)                                       # body length
    fur = jitter(rng, pick(rng, FUR))
    t_body = body_surface(rng, climate, 38.5, (0.55, 0.75))
    t_head = t_body + rng.uniform(1, 3)              # thin fur, eyes and nose
    body_b, body_r = 0.68 * h, 0.22 * h             # body centre height and half thickness
    leg_w = 0.09 * h
    parts = []
    for la in (0.3 * L, -0.3 * L):                  # a near and a far leg at each end
        for off, swing in ((0.0, 1.0), (0.06 * L, -1.0)):
            foot = la - off + swing * rng.uniform(0, 0.08) * L
            leg = limb((la - off, body_b), (foot, 0.0), leg_w)
            parts.append(Part(leg, ANIMAL, fur, t_body - 1))
    head_a, head_b = 0.55 * L, body_b + (0.35 if big else 0.3) * h
    parts += [
        Part(ellipse(0, body_b, 0.42 * L, body_r, 18), ANIMAL, fur, t_body),
        Part(limb((0.32 * L, body_b + 0.05 * h), (head_a - 0.03 * L, head_b), 0.2 * h), ANIMAL, fur,
             t_body),
        Part(ellipse(head_a, head_b, 0.13 * h + 0.04, 0.09 * h + 0.03, 12), ANIMAL, fur, t_head),
        Part(np.array([(head_a - 0.06 * h, head_b + 0.05 * h),
                       (head_a - 0.02 * h, head_b + 0.2 * h),
                       (head_a + 0.02 * h, head_b + 0.06 * h)]), ANIMAL, fur, t_head - 1),   # ear
        Part(limb((-0.4 * L, body_b + 0.1 * h), (-0.5 * L, body_b - 0.2 * h), 0.05 * h + 0.02),
             ANIMAL, fur, t_body - 2),                                                       # tail
    ]
    if rng.random() < 0.5:
        parts = mirror(parts)
    return Billboard(x, z, half_width=0.6 * L + 0.15 * h, height=head_b + 0.2 * h, extent=0.35 * h,
                     parts=parts, label=ANIMAL, profile='round', relief=0.3 * h, is_thing=True,
                     casts_shadow=True, kind='animal')


def obstacle(rng: np.random.Generator, x: float, z: float, climate: Climate) -> Billboard:
    kind = pick(rng, ('crate', 'crate', 'cone', 'barrel', 'barrier', 'rock', 'bin'))
    profile, slant = 'round', 1.0
    if kind == 'crate':
        w, h = rng.uniform(0.5, 1.3), rng.uniform(0.4, 1.1)
        col = jitter(rng, pick(rng, [(0.5, 0.36, 0.2), (0.55, 0.42, 0.25), (0.08, 0.15, 0.4),
                                     (0.3, 0.3, 0.3), (0.1, 0.3, 0.1)]))
        t = sun_warmed(climate, col)
        dark = tuple(c * 0.7 for c in col)
        parts = [Part(rect(-w / 2, 0, w / 2, h), OBSTACLE, col, t)]
        parts += [Part(rect(-w / 2, b, w / 2, b + 0.04), OBSTACLE, dark, t)   # slats
                  for b in (0.3 * h, 0.65 * h)]
        extent, relief, profile = rng.uniform(0.5, 1.2), 0.0, pick(rng, ('flat', 'slant'))
        relief = extent if profile == 'slant' else 0.02
        slant = float(pick(rng, (-1, 1)))
    elif kind == 'cone':
        w, h = rng.uniform(0.3, 0.4), rng.uniform(0.5, 0.8)
        col, t = (0.8, 0.22, 0.03), sun_warmed(climate, (0.8, 0.22, 0.03))
        parts = [Part(np.array([(-w / 2, 0), (w / 2, 0), (0.05, h), (-0.05, h)]), OBSTACLE, col, t),
                 Part(rect(-0.2 * w, 0.55 * h, 0.2 * w, 0.7 * h), OBSTACLE, (0.8, 0.8, 0.8), t,
                      SHINY),                                                 # reflective band
                 Part(rect(-w / 2 - 0.04, 0, w / 2 + 0.04, 0.05), OBSTACLE, (0.05, 0.05, 0.05), t)]
        extent, relief = w, w / 2
    elif kind == 'barrel':
        w, h = rng.uniform(0.55, 0.65), rng.uniform(0.85, 0.95)
        col = jitter(rng, pick(rng, [(0.05, 0.12, 0.45), (0.5, 0.05, 0.03), (0.7, 0.5, 0.03),
                                     (0.04, 0.04, 0.04)]))
        t = sun_warmed(climate, col)
        parts = [Part(rect(-w / 2, 0, w / 2, h), OBSTACLE, col, t)]
        parts += [Part(rect(-w / 2, b, w / 2, b + 0.03), OBSTACLE, tuple(c * 0.6 for c in col), t)
                  for b in (0.33 * h, 0.66 * h)]
        extent, relief = w, w / 2
    elif kind == 'barrier':
        w, h = rng.uniform(1.5, 3.0), rng.uniform(0.8, 1.0)
        concrete = rng.random() < 0.5
        col = (0.45, 0.44, 0.42) if concrete else (0.75, 0.05, 0.03)
        t = sun_warmed(climate, col)
        if concrete:
            parts = [Part(np.array([(-w / 2, 0), (w / 2, 0), (w / 2 - 0.1, 0.25), (w / 2 - 0.2, h),
                                    (-w / 2 + 0.2, h), (-w / 2 + 0.1, 0.25)]), OBSTACLE, col, t)]
        else:
            parts = [Part(rect(-w / 2 + 0.1, 0, -w / 2 + 0.18, h), OBSTACLE, (0.3, 0.3, 0.3), t),
                     Part(rect(w / 2 - 0.18, 0, w / 2 - 0.1, h), OBSTACLE, (0.3, 0.3, 0.3), t),
                     Part(rect(-w / 2, h - 0.3, w / 2, h), OBSTACLE, col, t)]
            parts += [Part(rect(a, h - 0.3, a + 0.2, h), OBSTACLE, (0.8, 0.8, 0.8), t, SHINY)
                      for a in np.arange(-w / 2 + 0.2, w / 2 - 0.2, 0.4)]
        extent, relief, profile = 0.5, 0.05, 'flat'
    elif kind == 'rock':
        w, h = rng.uniform(0.5, 1.6), rng.uniform(0.4, 1.0)
        col = jitter(rng, (0.32, 0.3, 0.27), 0.25)
        t = sun_warmed(climate, col, 0.7)   # heavy: lags behind the air
        poly = noisy_ellipse(rng, 0, 0.45 * h, w / 2, 0.55 * h, 14, 0.12)
        poly[:, 1] = np.clip(poly[:, 1], 0, None)
        parts = [Part(poly, OBSTACLE, col, t)]
        extent, relief, w = w * 0.8, w * 0.4, w * 1.15
    else:  # bin
        w, h = rng.uniform(0.5, 0.75), rng.uniform(0.9, 1.2)
        col = jitter(rng, pick(rng, [(0.05, 0.2, 0.08), (0.15, 0.15, 0.15), (0.05, 0.1, 0.3)]))
        t = sun_warmed(climate, col)
        parts = [Part(rect(-w / 2 + 0.03, 0, w / 2 - 0.03, h - 0.08), OBSTACLE, col, t),
                 Part(rect(-w / 2, h - 0.1, w / 2, h), OBSTACLE, tuple(c * 0.7 for c in col), t)]
        extent, relief = w, 0.1
    return Billboard(x, z, half_width=w / 2 + 0.05, height=h, extent=extent, parts=parts,
                     label=OBSTACLE, profile=profile, relief=relief, slant=slant, is_thing=True,
                     casts_shadow=True, kind=kind)


THING_MAKERS: Dict[int, Maker] = {PERSON: person, VEHICLE: vehicle, ANIMAL: animal,
                                  OBSTACLE: obstacle}


# --- vegetation -----------------------------------------------------------------------------------
LEAVES = [(0.08, 0.2, 0.04), (0.12, 0.25, 0.05), (0.05, 0.13, 0.04), (0.2, 0.25, 0.06)]


def leaf_temperature(rng: np.random.Generator, climate: Climate) -> float:
    """Leaves transpire: close to the air by day, a little below it at night (radiative cooling)."""
    by_day = climate.solar > 0
    return climate.ambient + (rng.uniform(-0.5, 2.0) if by_day else rng.uniform(-3.0, -1.0))


def tree(rng: np.random.Generator, x: float, z: float, climate: Climate) -> Billboard:
    trunk_h, trunk_w = rng.uniform(1.5, 3.5), rng.uniform(0.2, 0.5)
    leaves = jitter(rng, pick(rng, LEAVES))
    t_leaf = leaf_temperature(rng, climate)
    bark = jitter(rng, (0.2, 0.14, 0.09))
    parts = [Part(rect(-trunk_w / 2, 0, trunk_w / 2, trunk_h + 0.5), VEGETATION, bark,
                  sun_warmed(climate, bark, 0.5))]
    if rng.random() < 0.3:   # conifer: stacked triangles
        rw, ch = rng.uniform(1.2, 2.5), rng.uniform(4, 9)
        for i in range(3):
            b0 = trunk_h * 0.6 + i * ch * 0.28
            w = rw * (1 - 0.25 * i)
            parts.append(Part(np.array([(-w, b0), (w, b0), (0, b0 + ch * 0.45)]), VEGETATION,
                              leaves, t_leaf))
        top, half = trunk_h * 0.6 + ch * 0.56 + ch * 0.45, rw
    else:
        rw, rh = rng.uniform(1.5, 3.5), rng.uniform(1.5, 3.5)
        for _ in range(3):
            ca, cb = rng.uniform(-0.3, 0.3) * rw, trunk_h + rh * rng.uniform(0.7, 1.1)
            parts.append(Part(noisy_ellipse(rng, ca, cb, rw * rng.uniform(0.7, 1.0),
                                            rh * rng.uniform(0.7, 1.0), 18, 0.15),
                              VEGETATION, leaves, t_leaf))
        top, half = trunk_h + 2.3 * rh, 1.5 * rw
    centre = (trunk_h + top) / 2
    return Billboard(x, z, half_width=half, height=top, extent=half, parts=parts, label=VEGETATION,
                     profile='dome', relief=half * 0.7, casts_shadow=True, kind='tree',
                     dome_centre=centre, dome_radius=(top - trunk_h) / 2)


def bush(rng: np.random.Generator, x: float, z: float, climate: Climate) -> Billboard:
    rw, rh = rng.uniform(0.5, 2.0), rng.uniform(0.4, 1.3)
    poly = noisy_ellipse(rng, 0, 0.6 * rh, rw, rh, 18, 0.2)
    poly[:, 1] = np.clip(poly[:, 1], 0, None)
    parts = [Part(poly, VEGETATION, jitter(rng, pick(rng, LEAVES)), leaf_temperature(rng, climate))]
    return Billboard(x, z, half_width=rw * 1.2, height=1.6 * rh * 1.2, extent=rw, parts=parts,
                     label=VEGETATION, profile='dome', relief=rw * 0.6, casts_shadow=True,
                     kind='bush', dome_centre=0.6 * rh, dome_radius=rh)


def treeline(rng: np.random.Generator, x: float, z: float, climate: Climate,
             half_width: float = 150.0) -> Billboard:
    """Backdrop forest edge: a wide silhouette with a ragged top, hiding the horizon."""
    a = np.linspace(-half_width, half_width, 161)
    top = rng.uniform(7, 16) + np.cumsum(rng.normal(0, 0.8, a.size))
    top = np.clip(top, 5, 22)
    poly = np.concatenate([np.stack([a, top], 1), [(half_width, 0.0), (-half_width, 0.0)]])
    leaves = jitter(rng, (0.05, 0.11, 0.035))
    parts = [Part(poly, VEGETATION, leaves, leaf_temperature(rng, climate))]
    return Billboard(x, z, half_width=half_width, height=float(top.max()), extent=5.0, parts=parts,
                     label=VEGETATION, profile='flat', relief=0.0, kind='treeline')
