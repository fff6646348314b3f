"""Rasterise a scene into per-pixel geometry and materials (a G-buffer) with one z-buffer.

Every output -- RGB, thermal, depth, labels, instance ids, boxes -- is derived from this one buffer,
so occlusion is consistent across all of them by construction.

Speed: primitives are rasterised only inside their screen rectangle, using per-row ray terms from
the camera (no roll: the ground and fronto-parallel planes have one depth per row); they write small
per-pixel values (depth, label, instance, material id, sun shading) and the colour/temperature
images are gathered from a material table once at the end. Colour images are planar (3, H, W): numpy
broadcasting over a trailing axis of 3 is several times slower. That keeps a frame at milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from .camera import Camera
from .classes import BUILDING, GROUND, SEG_CLASSES, SKY
from .noise import periodic_tile, smooth_noise
from .scene import LIT, SHINY, Billboard, Scene, WallStrip

Roi = Tuple[int, int, int, int]   # v0, v1, u0, u1 (half-open)

#: Relative albedo texture and temperature variation (K) per class (ground has its own texture).
ALBEDO_TEXTURE = np.array([0, 0, 0.12, 0.4, 0.08, 0.04, 0.15, 0.12], np.float32)
THERMAL_TEXTURE = np.array([0, 0, 0.6, 0.8, 0.4, 0.3, 0.4, 0.3], np.float32)
assert len(ALBEDO_TEXTURE) == len(THERMAL_TEXTURE) == len(SEG_CLASSES)
SHADOW_SUN = np.float32(0.12)   # share of direct sun left in a cast shadow
NEAR = 0.3                       # m: nothing closer to the camera is drawn
WALL_BIN = 0.25                  # m: facade lookup step along a wall (shorter than any facade)


@dataclass(frozen=True)
class InstanceInfo:
    id: int                      # value in GBuffer.instance
    label: int                   # segmentation class
    roi: Roi                     # screen rectangle the instance was rasterised in
    depth_range: Tuple[float, float]
    kind: str
    billboard: int               # index of the thing in Scene.billboards


class _Materials:
    """Growing table of (albedo, temperature, flags); pixels store an index into it."""

    def __init__(self):
        # (r, g, b, temperature, flags); row 0 is the sky
        self.rows: List[Tuple[float, float, float, float, int]] = [(0.0, 0.0, 0.0, 0.0, 0)]

    def add(self, albedo, temperature: float, flags: int = 0) -> int:
        self.rows.append((*albedo, temperature, flags))
        return len(self.rows) - 1

    def arrays(self):
        t = np.array(self.rows, np.float64)
        return t[:, :3].astype(np.float32), t[:, 3].astype(np.float32), t[:, 4].astype(np.uint8)


@dataclass
class GBuffer:
    depth: np.ndarray            # float32 (H, W) camera depth, inf for sky
    label: np.ndarray            # uint8 (H, W)
    instance: np.ndarray         # int32 (H, W), 0 = stuff
    albedo: np.ndarray           # float32 (3, H, W) linear reflectance, planar (R, G, B)
    temperature: np.ndarray      # float32 (H, W) apparent temperature, deg C
    shade: np.ndarray            # float32 (H, W) share of direct sunlight reaching the surface
    flags: np.ndarray            # uint8 (H, W) material bits (scene.SHINY, LAMP, LIT)
    cloud: np.ndarray            # float32 (H, W) cloud density 0..1 (used on sky pixels)
    instances: List[InstanceInfo] = field(default_factory=list)
    # What each pixel showed before the things were drawn (albedo, temperature, shade), for
    # conditions that make things blend into their background; computed on first use.
    _background: Optional[tuple] = field(default=None, repr=False)
    _background_fn: Optional[Callable[[], tuple]] = field(default=None, repr=False)

    def background(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._background is None:
            self._background = self._background_fn()
        return self._background

    def copy(self) -> 'GBuffer':
        out = GBuffer(**{k: (v.copy() if isinstance(v, np.ndarray) else v)
                         for k, v in vars(self).items()})
        out.instances = list(self.instances)
        return out


class _Raster:
    """The per-pixel values primitives write, before materials are resolved."""

    def __init__(self, h: int, w: int):
        self.depth = np.full((h, w), np.inf, np.float32)
        self.label = np.full((h, w), SKY, np.uint8)
        self.instance = np.zeros((h, w), np.int32)
        self.material = np.zeros((h, w), np.int32)
        self.shade = np.zeros((h, w), np.float32)

    def write(self, roi: Roi, m: np.ndarray, depth: np.ndarray, label, material, shade,
              instance: int = 0) -> None:
        """Z-tested write: ``m`` is the primitive's coverage over ``roi``; values are arrays over
        the ROI or scalars."""
        v0, v1, u0, u1 = roi
        zb = self.depth[v0:v1, u0:u1]
        front = m & (depth < zb)
        np.copyto(zb, depth, where=front)
        np.copyto(self.label[v0:v1, u0:u1], label, where=front, casting='unsafe')
        np.copyto(self.material[v0:v1, u0:u1], material, where=front, casting='unsafe')
        np.copyto(self.shade[v0:v1, u0:u1], shade, where=front, casting='unsafe')
        if instance:
            np.copyto(self.instance[v0:v1, u0:u1], instance, where=front)


def _roi(u: np.ndarray, v: np.ndarray, cam: Camera) -> Optional[Roi]:
    u0, u1 = max(0, int(np.floor(u.min()))), min(cam.width, int(np.ceil(u.max())) + 1)
    v0, v1 = max(0, int(np.floor(v.min()))), min(cam.height, int(np.ceil(v.max())) + 1)
    return (v0, v1, u0, u1) if u0 < u1 and v0 < v1 else None


def _sky(scene: Scene, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Cloud density and apparent sky temperature for every pixel."""
    cam, cl = scene.camera, scene.climate
    shape = (cam.height, cam.width)
    n = smooth_noise(rng, shape, cam.width / 3) + 0.3 * smooth_noise(rng, shape, cam.width / 12)
    cloud = np.clip((n + 2.4 * scene.cloud_cover - 1.0) * 0.9, 0, 1)
    # Coldest at the zenith, near the air at the horizon.
    elev = np.arctan2(cam.ray_world_y, cam.ray_world_z)
    k = np.sin(np.clip(elev, 0, None)) ** 0.4
    clear = (cl.ambient - 2 + (cl.sky - cl.ambient + 2) * k).astype(np.float32)[:, None]
    return cloud, clear + (np.float32(cl.cloud) - clear) * cloud


def _ground(r: _Raster, scene: Scene, mats: _Materials, tile: np.ndarray,
            tex: np.ndarray, ttex: np.ndarray) -> None:
    """Draw the ground (first, onto an empty buffer) and its world-space texture into tex/ttex."""
    cam, gr = scene.camera, scene.ground
    rows = np.flatnonzero(np.isfinite(cam.ground_depth_rows))
    if rows.size == 0:
        return
    v0 = int(rows[0])
    t = cam.ground_depth_rows[v0:, None].astype(np.float32)
    x = t * cam.col_x[None, :].astype(np.float32)
    z = t * cam.ray_world_z[v0:, None].astype(np.float32)
    off = np.abs(x - np.float32(gr.x0) - np.float32(gr.curve) * z * z)
    band = np.searchsorted(np.array([b.max_offset for b in gr.bands], np.float32), off)
    band = np.minimum(band, len(gr.bands) - 1)
    ids = np.array([mats.add(b.albedo, b.temperature, b.flags) for b in gr.bands])
    material = ids[band]
    if gr.centre_marking:   # dashed centre line on the road
        paint = (off < 0.07) & (band == 0) & ((z % 6.0) < 3.0)
        material[paint] = mats.add((0.6, 0.6, 0.58), gr.bands[0].temperature - 1.0)
    scale = 40 * np.array([b.texture_scale for b in gr.bands], np.float32)[band]
    amp = np.array([b.texture for b in gr.bands], np.float32)[band]
    n = tile.shape[0]
    # World-space texture (it shrinks with distance like real ground); the nearest-texel lookup is
    # blurred so that magnified texels near the camera do not show as blocks.
    wrap = np.float32(n * 4096)   # keeps indices positive: truncation would mirror at X = 0
    fine = tile[(z * scale).astype(np.int32) % n, (x * scale + wrap).astype(np.int32) % n]
    coarse = tile[(z * 0.6).astype(np.int32) % n, (x * 0.6 + wrap).astype(np.int32) % n]
    fine = cv2.GaussianBlur(fine, (5, 5), 1.5)
    fade = np.clip(8.0 / t, 0.25, 1.0)   # fine texture averages out with distance
    tex[v0:] = amp * (fade * fine + 0.25 * coarse)
    ttex[v0:] = 0.8 * coarse + 0.3 * fine
    r.depth[v0:] = t
    r.label[v0:] = GROUND
    r.material[v0:] = material
    r.shade[v0:] = max(scene.lighting.sun_dir[1], 0.0)


def _wall(r: _Raster, scene: Scene, mats: _Materials, wall: WallStrip) -> None:
    cam = scene.camera
    (x0, z0), (x1, z1) = wall.start, wall.end
    length = wall.length
    ux, uz = (x1 - x0) / length, (z1 - z0) / length
    nx, nz = -uz, ux
    if nx * -x0 + nz * -z0 < 0:   # face the camera
        nx, nz = -nx, -nz
    # Clip the strip to the part in front of the camera before projecting its corners.
    s_lo, s_hi = 0.0, length
    if abs(uz) > 1e-9:
        s_cut = (NEAR - z0) / uz
        s_lo, s_hi = (max(s_lo, s_cut), s_hi) if uz > 0 else (s_lo, min(s_hi, s_cut))
    elif z0 < NEAR:
        return
    if s_hi <= s_lo:
        return
    fac = wall.facades
    top = max(f.height for f in fac)
    pts = np.array([(x0 + ux * s, y, z0 + uz * s) for s in (s_lo, s_hi) for y in (0.0, top)])
    u, v, _ = cam.project(pts)
    roi = _roi(u, v, cam)
    if roi is None:
        return
    rv0, rv1, ru0, ru1 = roi
    xc = cam.col_x[None, ru0:ru1].astype(np.float32)
    dy = cam.ray_world_y[rv0:rv1, None].astype(np.float32)
    dz = cam.ray_world_z[rv0:rv1, None].astype(np.float32)
    # Ray-plane intersection; the camera is on the plane's front side, so hits have num/den > 0.
    # Rays that miss get t = -1 (not inf), so that nothing below meets NaN.
    num = -(x0 * nx + z0 * nz)
    den = -(xc * nx + dz * nz)
    t = np.float32(num) / np.where(den > 1e-6, den, np.float32(-num))
    s = t * (xc * ux + dz * uz) - np.float32(x0 * ux + z0 * uz)
    y = cam.mount_height + t * dy
    table = np.array([(f.s0, f.s1, f.height, *f.window_pitch, *f.window_size, f.lit_fraction)
                      for f in fac], np.float32)
    # Facade index per pixel. np.searchsorted per pixel is slow, so look the facade up in 0.25 m
    # bins of s and step to the next facade where a pixel lies past the end of its bin's one
    # (facades are longer than a bin, so one step is enough).
    nf, last_bin = len(fac), int(np.ceil(length / WALL_BIN))
    bins = np.searchsorted(table[:, 1], np.arange(last_bin + 1, dtype=np.float32) * WALL_BIN)
    cell = (np.clip(s, 0, length) * np.float32(1 / WALL_BIN)).astype(np.intp)
    idx = np.take(np.minimum(bins, nf - 1), cell)
    idx = np.minimum(idx + (s > np.take(table[:, 1], idx)), nf - 1)
    # Per-pixel facade attributes in one gather (intp indices: np.take converts anything else).
    attrs = np.take(np.ascontiguousarray(table.T), idx, axis=1)
    f_s0, f_s1, f_h, px, storey, ww, wh, lit_frac = attrs
    m = (t > 0) & (s >= f_s0) & (s <= f_s1) & (y >= 0) & (y <= f_h)
    if not m.any():
        return
    # Window grid in facade coordinates; glass is dark and specular, some windows lit at night.
    sf = s - f_s0
    col, row = np.floor(sf / px), np.floor(y / storey)
    win = ((np.abs(sf - (col + 0.5) * px) < ww / 2) & (np.abs(y - (row + 0.55) * storey) < wh / 2)
           & (row >= 1) & (sf > 0.5) & (f_s1 - s > 0.5) & (y < f_h - 0.6))
    # Which windows are lit: an integer hash of (facade, column, row), stable across frames.
    key = ((col.astype(np.int32) * 73856093) ^ (row.astype(np.int32) * 19349663)
           ^ (idx.astype(np.int32) * 83492791))
    lit = win & ((key & 1023) < lit_frac * 1024)
    # Three materials per facade: wall, dark window, window lit at night.
    base = len(mats.rows)
    for f in fac:
        mats.add(f.albedo, f.temperature)
        mats.add(f.window_albedo, f.window_temperature, SHINY)
        mats.add(f.window_albedo, f.window_temperature, SHINY | LIT)
    material = base + 3 * idx + win + lit
    sun = scene.lighting.sun_dir
    r.write(roi, m, t, BUILDING, material, max(0.0, nx * sun[0] + nz * sun[2]))


def _billboard(r: _Raster, scene: Scene, mats: _Materials, b: Billboard, instance: int
               ) -> Optional[Roi]:
    cam = scene.camera
    if cam.camera_z(np.array([b.x, b.height, b.z])) < NEAR:
        return None
    poly = np.concatenate([p.polygon for p in b.parts])
    u, v, _ = cam.project(np.column_stack([b.x + poly[:, 0], poly[:, 1], np.full(len(poly), b.z)]))
    roi = _roi(u, v, cam)
    if roi is None:
        return None
    v0, v1, u0, u1 = roi
    pts = np.round(np.column_stack([u - u0 - 0.5, v - v0 - 0.5]) * 16).astype(np.int32)
    parts = np.zeros((v1 - v0, u1 - u0), np.uint8)
    start = 0
    for i, p in enumerate(b.parts):   # painter's order within the object
        cv2.fillPoly(parts, [pts[start:start + len(p.polygon)]], i + 1, cv2.LINE_8, shift=4)
        start += len(p.polygon)
    m = parts > 0
    if not m.any():
        return None
    t = (b.z / cam.ray_world_z[v0:v1])[:, None]
    a = np.clip((t * cam.col_x[None, u0:u1] - b.x) / b.half_width, -1, 1)
    # Depth of the plane point each row's ray meets, with its height clamped to the silhouette's:
    # edge pixels that the polygon fill covers but whose centre ray passes just above or below it
    # get the depth of the nearest silhouette point, so depth never leaves the object's 3D box.
    y_lo, y_hi = float(poly[:, 1].min()), float(poly[:, 1].max())
    y = np.clip(cam.mount_height + t * cam.ray_world_y[v0:v1, None], y_lo, y_hi)
    plane = (y - cam.mount_height) * -np.sin(cam.pitch) + b.z * np.cos(cam.pitch)
    sun = scene.lighting.sun_dir
    if b.profile == 'round':
        c = np.sqrt(1 - a * a)
        dz = b.relief * (1 - c)
        shade = np.clip(a * sun[0] - c * sun[2], 0, 1)
    elif b.profile == 'dome':
        yn = np.clip((y - b.dome_centre) / b.dome_radius, -1, 1)
        c = np.sqrt(np.clip(1 - a * a - yn * yn, 0, 1))
        dz = b.relief * (1 - c)
        shade = np.clip(a * sun[0] + yn * sun[1] - c * sun[2], 0, 1)
    elif b.profile == 'slant':
        dz = b.relief * (a * b.slant + 1) / 2
        n = np.array([b.slant * b.relief / (2 * b.half_width), -1.0])
        n /= np.linalg.norm(n)
        shade = max(0.0, n[0] * sun[0] + n[1] * sun[2])
    else:
        dz = b.relief
        shade = max(0.0, -sun[2])
    depth = (plane + dz * np.cos(cam.pitch)).astype(np.float32)
    # Tops of objects catch some sun even when their camera-facing side does not.
    shade = 0.75 * shade + 0.25 * max(sun[1], 0.0)
    base = len(mats.rows) - 1
    for p in b.parts:
        mats.add(p.albedo, p.temperature, p.flags)
    labels = np.array([0] + [p.label for p in b.parts], np.uint8)[parts]
    r.write(roi, m, np.broadcast_to(depth, m.shape), labels, base + parts, shade, instance)
    return roi


def _shadow(mask: np.ndarray, scene: Scene, b: Billboard) -> None:
    """Cast shadow on the ground: the footprint swept away from the sun by the object's height."""
    sun = np.asarray(scene.lighting.sun_dir)
    horiz = np.hypot(sun[0], sun[2])
    if not b.casts_shadow or sun[1] <= 0.05:
        return
    length = min(b.height * horiz / sun[1], 3 * b.height)
    dx, dz = -sun[0] / horiz * length, -sun[2] / horiz * length
    hw, zc = min(b.half_width, 3.0) * 0.8, b.z + b.extent / 2
    top_hw = hw * (0.5 if b.kind in ('person', 'animal', 'tree') else 0.9)
    pts = np.array([(b.x - hw, 0, zc), (b.x + hw, 0, zc), (b.x + dx + top_hw, 0, zc + dz),
                    (b.x + dx - top_hw, 0, zc + dz)])
    cam = scene.camera
    if cam.camera_z(pts).min() < NEAR:
        return
    u, v, _ = cam.project(pts)
    poly = np.round(np.column_stack([u - 0.5, v - 0.5]) * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, poly, 1, lineType=cv2.LINE_8, shift=4)


def render_geometry(scene: Scene) -> GBuffer:
    """The G-buffer of ``scene`` (deterministic: textures come from ``scene.texture_seed``)."""
    cam = scene.camera
    h, w = cam.height, cam.width
    rng = np.random.default_rng(scene.texture_seed)
    r, mats = _Raster(h, w), _Materials()
    cloud, sky_t = _sky(scene, rng)
    tex = (np.float32(0.6) * smooth_noise(rng, (h, w), 6.0)
           + np.float32(0.4) * smooth_noise(rng, (h, w), 1.0))
    ttex = smooth_noise(rng, (h, w), 12.0)
    ground_tex, ground_ttex = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    _ground(r, scene, mats, periodic_tile(rng), ground_tex, ground_ttex)
    for wall in scene.walls:
        _wall(r, scene, mats, wall)
    for b in scene.billboards:
        if not b.is_thing:
            _billboard(r, scene, mats, b, 0)
    bg_label, bg_material, bg_shade = r.label.copy(), r.material.copy(), r.shade.copy()
    instances = []
    for k, b in enumerate(scene.billboards):
        if b.is_thing:
            inst = len(instances) + 1
            roi = _billboard(r, scene, mats, b, inst)
            if roi is not None:
                instances.append(InstanceInfo(inst, b.label, roi, b.depth_range(cam), b.kind, k))

    shadow = np.zeros((h, w), np.uint8)
    for b in scene.billboards:
        _shadow(shadow, scene, b)
    shadow_factor = np.where(shadow > 0, SHADOW_SUN, np.float32(1))
    albedo_lut, temp_lut, flag_lut = mats.arrays()
    albedo_lut = np.ascontiguousarray(albedo_lut.T)

    def surfaces(label, material, shade):
        """Material gather plus texture: albedo, temperature and shading of every pixel."""
        material = material.astype(np.intp)   # np.take converts any other index type per call
        ground = label == GROUND
        factor = np.where(ground, ground_tex, np.take(ALBEDO_TEXTURE, label) * tex)
        np.clip(factor, -0.7, 0.7, out=factor)
        factor += 1
        albedo = np.take(albedo_lut, material, axis=1)   # planar: broadcasting stays fast
        albedo *= factor
        temperature = np.where(ground, ground_ttex, np.take(THERMAL_TEXTURE, label) * ttex)
        temperature += np.take(temp_lut, material)
        np.copyto(temperature, sky_t, where=label == SKY)
        shade = np.where(ground, shade * shadow_factor, shade)
        return albedo, temperature, shade.astype(np.float32)

    albedo, temperature, shade = surfaces(r.label, r.material, r.shade)
    return GBuffer(depth=r.depth, label=r.label, instance=r.instance, albedo=albedo,
                   temperature=temperature, shade=shade, flags=np.take(flag_lut, r.material),
                   cloud=cloud, instances=instances,
                   _background_fn=lambda: surfaces(bg_label, bg_material, bg_shade))
