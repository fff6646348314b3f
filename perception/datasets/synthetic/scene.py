"""What a synthetic scene is: plain data, no randomness and no rendering.

A scene is a camera, the lighting (what RGB sees), the climate (what thermal sees), a textured
ground, building walls, and billboards -- vertical silhouettes facing the camera with a depth
relief, used for things (people, vehicles, animals, obstacles) and vegetation. Every surface carries
an albedo (RGB), an apparent temperature (thermal) and material flags (depth-sensor behaviour), so
the three sensors are rendered from physical properties, never from one another.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from .camera import Camera

RGB = Tuple[float, float, float]

# Material flags (bit mask per pixel).
SHINY = 1   # specular: glass, glossy paint -- active depth sensors lose the return
LAMP = 2    # light source that is on at night (vehicle lights)
LIT = 4     # lit window at night


@dataclass
class Part:
    """One flat piece of a silhouette, painted in order (later parts cover earlier ones)."""
    polygon: np.ndarray      # (K, 2) metres: (a, b) = (offset right of the centre line, height)
    label: int               # segmentation class
    albedo: RGB              # linear reflectance 0..1
    temperature: float       # apparent temperature, deg C
    flags: int = 0


@dataclass
class Billboard:
    """A thing or a piece of vegetation: silhouette on the vertical plane ``Z = z`` plus relief.

    The visible surface lies ``relief * profile`` behind the plane: 'round' bulges like a vertical
    cylinder (people, animals, barrels), 'dome' like an ellipsoid centred ``dome_centre`` m up with
    vertical radius ``dome_radius`` (tree crowns, bushes: two crowns meet along a curve, not a
    vertical line), 'slant' recedes linearly across the width (a box seen at an angle), 'flat' stays
    on the plane. ``extent`` is the depth of the object's 3D box, which bounds
    the relief and defines :meth:`depth_range`.
    """
    x: float
    z: float
    half_width: float
    height: float
    extent: float
    parts: List[Part]
    label: int
    profile: str = 'round'
    relief: float = 0.0
    slant: float = 1.0             # 'slant': +1 right side farther, -1 left side farther
    is_thing: bool = False
    casts_shadow: bool = False     # throws a sun shadow on the ground
    kind: str = ''                 # e.g. 'person', 'car', 'tree' (for docs and debugging)
    dome_centre: float = 0.0
    dome_radius: float = 1.0

    def corners(self) -> np.ndarray:
        """(8, 3) world corners of the object's 3D box (bounding its silhouette and its extent)."""
        poly = np.concatenate([p.polygon for p in self.parts])
        xs = (self.x + poly[:, 0].min(), self.x + poly[:, 0].max())
        ys = (min(0.0, poly[:, 1].min()), poly[:, 1].max())
        zs = (self.z, self.z + self.extent)
        return np.array([(x, y, z) for x in xs for y in ys for z in zs])

    def depth_range(self, camera: Camera) -> Tuple[float, float]:
        """Camera depths between which every visible pixel of this object must lie."""
        zc = camera.camera_z(self.corners())
        return float(zc.min()), float(zc.max())


@dataclass
class Facade:
    """One building face: a stretch ``[s0, s1]`` metres along a wall strip, with a window grid."""
    s0: float
    s1: float
    height: float
    albedo: RGB
    temperature: float
    window_albedo: RGB
    window_temperature: float
    window_pitch: Tuple[float, float]   # (horizontal spacing, storey height) metres
    window_size: Tuple[float, float]    # (width, height) metres
    lit_fraction: float                 # share of windows lit at night


@dataclass
class WallStrip:
    """A vertical plane through two ground points, carrying consecutive facades."""
    start: Tuple[float, float]          # (X, Z)
    end: Tuple[float, float]
    facades: List[Facade]

    @property
    def length(self) -> float:
        return float(np.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]))


@dataclass
class GroundBand:
    """Ground material within ``max_offset`` metres of the path centre line (bands nest outward)."""
    max_offset: float
    albedo: RGB
    temperature: float
    texture: float              # relative albedo variation
    texture_scale: float        # texture cells per metre
    flags: int = 0


@dataclass
class Ground:
    """Flat ground, banded around a gently curving centre line ``X = x0 + curve * Z**2``."""
    bands: List[GroundBand]     # sorted by max_offset; the last one extends to infinity
    x0: float = 0.0
    curve: float = 0.0
    centre_marking: bool = False


@dataclass(frozen=True)
class Lighting:
    """Illumination seen by the RGB camera (linear units; 1 = a white surface in full sun)."""
    sun_dir: Tuple[float, float, float]     # unit vector towards the sun, world frame
    sun_rgb: RGB
    ambient_rgb: RGB
    sky_zenith: RGB
    sky_horizon: RGB
    lamp_level: float = 0.0                  # 0 by day, 1 when lamps and windows are lit
    max_gain: float = 4.0                    # auto-exposure limit: at night the image stays dark


@dataclass(frozen=True)
class Climate:
    """Temperatures seen by the thermal camera."""
    ambient: float                  # air, deg C
    sky: float                      # apparent clear-sky temperature at the zenith
    cloud: float                    # apparent temperature of clouds
    solar: float = 0.0              # K a black surface gains in the sun (0 at night)


@dataclass
class Scene:
    camera: Camera
    lighting: Lighting
    climate: Climate
    ground: Ground
    walls: List[WallStrip] = field(default_factory=list)
    billboards: List[Billboard] = field(default_factory=list)
    cloud_cover: float = 0.0
    texture_seed: int = 0
    layout: str = ''
    time_of_day: str = 'day'

    @property
    def things(self) -> List[Billboard]:
        return [b for b in self.billboards if b.is_thing]
