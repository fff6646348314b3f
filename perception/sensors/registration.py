"""Registration: bring the thermal and depth images onto the colour camera's pixel grid.

Depth -> colour (as ``depth_image_proc/register`` does it): every valid depth pixel is lifted to 3D
with the depth camera's intrinsics, moved by the rigid transform and projected into the colour
camera; it covers the target pixels its footprint (its four corners, projected at its depth) spans,
and a z-buffer keeps the nearest surface. Depth pixels without a reading produce nothing, so
holes stay holes (0): no depth is ever interpolated or invented.

Thermal -> colour, a backward warp (every colour pixel looks its temperature up, bilinear):
* where registered depth exists and the thermal camera has intrinsics and a transform: through the
  depth (exact for any scene), with an occlusion test -- a colour pixel hidden from the thermal
  camera by a nearer surface gets no thermal value;
* elsewhere: the homography of a plane (``plane_distance`` metres in front of the thermal camera;
  infinite = a distant scene, only the rotation and intrinsics count), or an explicit homography.
Colour pixels outside the thermal image (or occluded) have no thermal value; ``apply`` fills them
with ``thermal_fill`` (the Predictor passes the thermal normalisation mean, which the network sees
as 0 -- the same as an absent sensor).

How it is fast (docs/registration.md, "Cost"): what depends only on the calibration is computed once
per (source camera, target camera, transform) in a :class:`Projection` -- each pixel's rotated rays,
the plane's remap, and, for the footprints, a per-pixel quadratic in inverse depth of where the
footprint's edges lie around its centre, with that fit's error measured on the whole depth range.
Per frame, a float32 pass computes each footprint from the centre's projection and that quadratic;
a footprint edge that lies within the measured error of a pixel boundary (and every pixel outside
the fitted range) is redone exactly, in float64, as the pre-optimisation code did -- so the
footprints, and hence which depth the z-buffer keeps, are those of the exact computation. The
z-buffer is a deterministic scatter: write, read back, rewrite the candidates nearer than what won,
until none is (no ``ufunc.at``: numpy before 1.25, as on ROS 2 Humble, runs it per element).
The thermal lookup (float64, cast to the float32 map cv2.remap takes) is the exact projection.
Where numba is installed, the per-frame passes run as compiled loops of the same arithmetic
(:mod:`perception.sensors.registration_kernels`: same bits, several times faster); else as the
vectorised numpy passes below (``PERCEPTION_REGISTRATION_KERNELS=numpy`` forces them).

numpy + OpenCV (+ numba, optional). Calibration files: perception/sensors/calibration.py;
docs/registration.md.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from perception.contract import SensorError

from .cameras import CameraModel, Rigid
from .encodings import float_depth

#: A source pixel covers at most this many target pixels per axis (upsampling beyond this factor
#: leaves gaps between footprints rather than smearing one reading over a large area).
MAX_FOOTPRINT = 8
#: Footprints are widened by this much (pixels): neighbouring depth pixels project their shared
#: corner from slightly different (noisy) depths, which would otherwise open pinholes between them
#: (on the synthetic rig of docs/registration.md: 113 pinholes per frame at 0, none at 0.1).
FOOTPRINT_MARGIN = 0.1
#: Occlusion test of the depth-based thermal warp: a colour pixel is hidden from the thermal camera
#: when its point lies farther (along the thermal axis) than the thermal view's z-buffer by more than
#: this share of the depth plus 5 cm.
OCCLUSION_MARGIN = 0.03
#: The float32 footprint pass is fitted for points at least this far (metres, along the target's
#: axis); nearer points are registered by the exact float64 path (same result, slower).
FAST_MIN_DEPTH = 0.2
#: Footprints of at most this many extra pixels per axis (3 x 3) take the float32 pass.
_FAST_SPAN = 2
#: Thermal lookup of a colour pixel hidden from the thermal camera: this far outside its image.
_HIDDEN = 1e6
#: Pixels per vectorised step: the temporaries of one step stay in a core's L2 cache.
_CHUNK = 16384
#: Inverse depths at which the footprint fit is made (even ones) and checked (all).
_FIT_SAMPLES = 17
#: Floor of the per-pixel tolerance of the float32 pass (pixels): float32 rounding of coordinates
#: up to a few thousand pixels, with margin.
_F32_TOLERANCE = 3e-4
#: How the per-frame passes run: 'numba' (compiled loops, registration_kernels.py), 'numpy'
#: (vectorised passes) or 'auto' (numba where it can be imported). The environment variable
#: overrides the default of every Projection built after it is set.
KERNELS = ('auto', 'numba', 'numpy')
KERNELS_ENV = 'PERCEPTION_REGISTRATION_KERNELS'


def kernels_choice(kernels: Optional[str] = None) -> str:
    """``kernels``, else the environment's ``PERCEPTION_REGISTRATION_KERNELS``, else 'auto';
    checked against ``KERNELS`` (nothing is imported)."""
    choice = kernels or os.environ.get(KERNELS_ENV) or 'auto'
    if choice not in KERNELS:
        raise ValueError(f'registration kernels must be one of {", ".join(KERNELS)}, got '
                         f'{choice!r}' + (f' (from {KERNELS_ENV})' if not kernels else ''))
    return choice


def compiled_kernels(kernels: Optional[str] = None):
    """The compiled kernels module for ``kernels`` ('auto', 'numba', 'numpy'; None: the
    environment's ``PERCEPTION_REGISTRATION_KERNELS``, else 'auto'), or None for the numpy
    passes. 'numba' without numba installed is an error naming the install."""
    choice = kernels_choice(kernels)
    if choice == 'numpy':
        return None
    try:
        from . import registration_kernels
    except ImportError as error:       # numba absent (or broken): the numpy passes
        if choice == 'numba':
            raise ImportError('registration kernels=numba needs numba: pip install numba '
                              f'(or perception[fast]); {error}') from error
        return None
    return registration_kernels


def _project_normalised(camera: CameraModel, x: np.ndarray, y: np.ndarray
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised image coordinates (x/z, y/z) -> pixel coordinates: the arithmetic of
    ``CameraModel.project`` after its division, bit for bit (terms of distortion coefficients
    that are 0 are left out, which changes no value), NaN beyond ``max_ray_r2``."""
    K = camera.K
    if not camera.distorted:
        return K[0, 0] * x + K[0, 2], K[1, 1] * y + K[1, 2]
    r2 = x * x + y * y
    outside = r2 > camera.max_ray_r2     # a distortion polynomial can fold back inside
    D = camera.D
    if D.size > 8:                       # thin prism / tilted sensor terms: OpenCV's own model
        x, y = np.where(outside, np.nan, x), np.where(outside, np.nan, y)
        if x.size == 0:
            return x, y
        rays = np.stack([x.ravel(), y.ravel(), np.ones(x.size)], -1)
        uv, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, D)
        return uv[:, 0, 0].reshape(x.shape), uv[:, 0, 1].reshape(x.shape)
    k = np.zeros(8)
    k[:D.size] = D
    k1, k2, p1, p2, k3, k4, k5, k6 = k
    radial = r2 * k3 if k3 else None                 # cameras._radial, zero terms left out
    radial = k2 if radial is None else radial + k2
    radial = r2 * radial + k1
    radial = 1 + r2 * radial
    if k4 or k5 or k6:
        radial = radial / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd, yd = x * radial, y * radial                  # cameras._distort
    if p1 or p2:
        xy = x * y
        xd = xd + 2 * p1 * xy + p2 * (r2 + 2 * x * x)
        yd = yd + p1 * (r2 + 2 * y * y) + 2 * p2 * xy
    u = xd * K[0, 0]
    u += K[0, 2]
    v = yd * K[1, 1]
    v += K[1, 2]
    if outside.any():
        np.copyto(u, np.nan, where=outside)
        np.copyto(v, np.nan, where=outside)
    return u, v


def _cover(lo: np.ndarray, hi: np.ndarray, centre: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Integer pixels whose centres lie in [lo, hi] (widened by FOOTPRINT_MARGIN); at least the
    pixel nearest ``centre``, at most MAX_FOOTPRINT around it."""
    a = np.ceil(lo - FOOTPRINT_MARGIN).astype(np.int64)
    b = np.floor(hi + FOOTPRINT_MARGIN).astype(np.int64)
    nearest = np.floor(centre + 0.5).astype(np.int64)
    empty = b < a
    a, b = np.where(empty, nearest, a), np.where(empty, nearest, b)
    half = MAX_FOOTPRINT // 2
    a = np.maximum(a, nearest - half)
    b = np.minimum(b, a + MAX_FOOTPRINT - 1)
    return a, b


class Projection:
    """Depth of ``source`` onto ``target``'s grid (``transform``: source frame -> target frame),
    with what depends only on the calibration computed once. Cameras and transforms are immutable,
    so a Projection holds for as long as they are the ones given.

    :meth:`centres` is the float64 projection of every pixel's centre; :meth:`register` the
    z-buffered registration; :meth:`lookup` the thermal lookup through depth (colour camera as
    source). All take depth in metres of the source's (H, W), 0 (or NaN, inf, negative) where
    there is no reading. The first :meth:`register` or :meth:`lookup` fits the footprints
    (:meth:`prepare`: one to two seconds for VGA cameras, ~50 MB of tables); later calls take
    milliseconds. Safe to share between threads (each thread has its own z-buffer).
    """

    def __init__(self, source: CameraModel, target: CameraModel, transform: Rigid,
                 given_centres: bool = False, kernels: Optional[str] = None):
        self.source, self.target, self.transform = source, target, transform
        self.given_centres = given_centres
        # compiled per-frame passes (None: numpy's); they mirror _project_normalised's polynomial
        # path, not OpenCV's model of more than 8 coefficients
        self.environment = os.environ.get(KERNELS_ENV)     # what kernels=None resolved from
        compiled = compiled_kernels(kernels)
        self._kernels = compiled if target.D.size <= 8 else None
        if kernels == 'numba' and compiled is not None and self._kernels is None:
            raise ValueError(f'registration kernels=numba: the {target.name or "target"} camera '
                             f'has {target.D.size} distortion coefficients; the compiled passes '
                             'take at most 8 (use kernels=numpy or auto)')
        self.n = source.height * source.width
        R, t = transform.R, transform.t
        self.t = t
        x, y = (r.reshape(-1) for r in source.pixel_rays)
        # rotated rays R (x, y, 1) of the pixel centres and corners: a point at depth z is z a + t
        self.a = np.stack([R[i, 0] * x + R[i, 1] * y + R[i, 2] for i in range(3)])
        cx, cy = (r.reshape(-1) for r in source.corner_rays)
        self.a_corner = np.stack([R[i, 0] * cx + R[i, 1] * cy + R[i, 2] for i in range(3)])
        self._fitted = False
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def kernels(self) -> str:
        """How the per-frame passes run: 'numba' or 'numpy'."""
        return 'numpy' if self._kernels is None else 'numba'

    def prepare(self) -> 'Projection':
        """Fit the footprints now rather than on the first :meth:`register`, and compile the
        numba passes (returns self)."""
        with self._lock:
            if not self._fitted:
                self._fit()
                if self._kernels is not None:      # its tables; compile (or load numba's cache)
                    self._table, self._rays_table = self._kernels.pixel_tables(
                        self.coef, self.threshold, self.fast_lo, self.fast_hi, self.seen_lo,
                        self.seen_hi, self.m32, self.d32, self.a)
                    self.coef = None               # (the numpy pass's form of the same table)
                    self._register_compiled(np.zeros(0, np.float32))
                    if self.given_centres:
                        self._lookup_compiled(np.zeros(0, np.float32), np.zeros(0, np.float32),
                                              np.zeros(0, np.float32))
                self._fitted = True
        return self

    # --- float64: the exact arithmetic -------------------------------------------------------------
    def _rays(self, index) -> np.ndarray:
        """(3, 5, n) rotated rays of the centre and the four corners of source pixels ``index``
        (flat indices or a slice): corners (i, j), (i, j + 1), (i + 1, j), (i + 1, j + 1)."""
        W = self.source.width
        flat = np.arange(index.start, index.stop) if isinstance(index, slice) else index
        first = flat // W * (W + 1) + flat % W
        corners = np.stack([first, first + 1, first + W + 1, first + W + 2])
        return np.concatenate([self.a[:, None, index], self.a_corner[:, corners]], 1)

    def _points(self, z: np.ndarray, a: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float64 target pixel coordinates u, v (5, n) of the points ``z * a + t`` (rays ``a``
        from :meth:`_rays`, depth ``z`` > 0), NaN behind the target or beyond its ``max_ray_r2``;
        and the centres' target z."""
        t = self.t
        pz = z * a[2] + t[2]
        with np.errstate(invalid='ignore', divide='ignore'):
            x = (z * a[0] + t[0]) / pz
            y = (z * a[1] + t[1]) / pz
        behind = ~(pz > 0)
        if behind.any():
            x[behind] = np.nan
            y[behind] = np.nan
        u, v = _project_normalised(self.target, x, y)
        return u, v, pz[0]

    def centres(self, depth: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each source pixel's centre lands: float64 (u, v, z) of the source's (H, W), NaN
        where the depth is invalid or the point is behind the target (u, v also beyond its
        ``max_ray_r2``)."""
        z = _positive_depth(depth).reshape(-1)
        n, (H, W) = self.n, self.source.size
        u, v, zt = np.empty(n), np.empty(n), np.empty(n)
        for c0 in range(0, n, _CHUNK):
            sl = slice(c0, min(c0 + _CHUNK, n))
            u[sl], v[sl], zt[sl] = self._centre_chunk(z[sl], sl, self.a)
        return u.reshape(H, W), v.reshape(H, W), zt.reshape(H, W)

    def _centre_chunk(self, z: np.ndarray, sl: slice, a: np.ndarray):
        """float64 u, v, z_t of the centres of the pixels ``sl`` of ray table ``a`` (as
        :meth:`centres`; ``z`` >= 0)."""
        t = self.t
        with np.errstate(invalid='ignore', divide='ignore'):
            zn = z / (z > 0)                     # no reading -> NaN, which every value inherits
            pz = zn * a[2, sl]
            pz += t[2]
            x = zn * a[0, sl]
            x += t[0]
            x /= pz
            y = zn * a[1, sl]
            y += t[1]
            y /= pz
        behind = pz <= 0
        if behind.any():
            pz[behind] = x[behind] = y[behind] = np.nan
        u, v = _project_normalised(self.target, x, y)
        return u, v, pz

    def _exact_candidates(self, z: np.ndarray, index: np.ndarray, zt: np.ndarray):
        """The footprints of source pixels ``index`` (flat) at depths ``z`` computed as the
        pre-optimisation code did (float64, all five points projected, :func:`_cover`): the padded
        layer-0 cells they cover and the float32 target z ``zt`` written there."""
        u, v, _ = self._points(z.astype(np.float64), self._rays(index))
        seen = np.isfinite(u).all(0) & np.isfinite(v).all(0)
        u, v, zt = u[:, seen], v[:, seen], zt[seen]
        j0, j1 = _cover(u[1:].min(0), u[1:].max(0), u[0])
        i0, i1 = _cover(v[1:].min(0), v[1:].max(0), v[0])
        h, w = self.target.size
        j0, j1 = np.maximum(j0, 0), np.minimum(j1, w - 1)
        i0, i1 = np.maximum(i0, 0), np.minimum(i1, h - 1)
        keep = (j0 <= j1) & (i0 <= i1)
        j0, j1, i0, i1, val = j0[keep], j1[keep], i0[keep], i1[keep], zt[keep]
        nx, ny = j1 - j0 + 1, i1 - i0 + 1
        base = (i0 + self.pad) * self.wp + j0 + self.pad
        if nx.size and nx.max() == 1 and ny.max() == 1:
            return base, val
        cells, values = [], []
        for dy in range(int(ny.max(initial=0))):
            for dx in range(int(nx.max(initial=0))):
                m = (dy < ny) & (dx < nx)
                cells.append(base[m] + (dy * self.wp + dx))
                values.append(val[m])
        if not cells:
            return np.zeros(0, np.intp), np.zeros(0, np.float32)
        return np.concatenate(cells).astype(np.intp), np.concatenate(values)

    # --- the footprint fit (once) ------------------------------------------------------------------
    def _fit(self) -> None:
        """Per pixel: the inverse target depths s = 1/z_t at which it can be seen (all five points
        in front of the target and, for a distorted target, inside its ``max_ray_r2``); a fit of
        the footprint's edges around its centre as a quadratic in s over that range (up to
        1/FAST_MIN_DEPTH, 9 depths); and the float32 pass measured against the exact edges at 17
        depths (those and the ones between): a pixel's tolerance is twice its largest error plus
        float32 rounding. Pixels whose footprint can exceed 3 x 3, or whose fit is poor, take the
        exact path."""
        n, t, target = self.n, self.t, self.target
        self.s_max = 1.0 / FAST_MIN_DEPTH
        az = self.a[2]
        with np.errstate(invalid='ignore', divide='ignore'):
            m = self.a[:2] / az
        d = t[:2, None] - t[2] * m                         # centre: m + d s (normalised)
        k = np.zeros(8)
        k[:min(target.D.size, 8)] = target.D[:8]
        K = target.K
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        # square pixels and radial distortion only: the tables hold f m, f d and the radial
        # coefficients k / f^2i, so the pass skips the focal length; unless the centre is given
        # (then in pixels), the principal point is in the edges' constant term
        self._scaled = bool(fx == fy and not (k[2] or k[3]))
        scale = np.array([[fx], [fy]]) if self._scaled else 1.0
        self.m32, self.d32 = (m * scale).astype(np.float32), (d * scale).astype(np.float32)
        if self._scaled:
            k = k * fx ** -np.array([2.0, 4, 0, 0, 6, 2, 4, 6])
        self._k32 = [np.float32(c) for c in k]
        self._f32 = [np.float32(c) for c in (fx, fy, cx, cy)]
        self._k32_array, self._f32_array = np.array(self._k32), np.array(self._f32)
        self._centre_offset = np.zeros(2) if self.given_centres else np.array([cx, cy])
        self.coef = np.zeros((4, 3, n), np.float32)       # per edge: c0 (+ rint shift), c1, c2
        self.fast_lo, self.fast_hi = np.full(n, np.inf, np.float32), np.zeros(n, np.float32)
        self.seen_lo, self.seen_hi = np.zeros(n, np.float32), np.full(n, np.inf, np.float32)
        tol_edges, tol_centre = np.full(n, np.inf), np.full(n, np.inf)
        self.empty = True                     # during the fit the pass also rounds the centre
        spans, empties = [0], [False]
        for c0 in range(0, n, _CHUNK):
            sl = slice(c0, min(c0 + _CHUNK, n))
            span, empty = self._fit_chunk(sl, tol_edges, tol_centre)
            spans.append(span)
            empties.append(empty)
        self.span, self.empty = max(spans), any(empties)
        tol = np.maximum(tol_edges, tol_centre) if self.empty else tol_edges
        fast = tol < 0.05
        self.threshold = np.where(fast, 0.5 - tol, -1).astype(np.float32)
        self.fast_lo[~fast] = np.inf
        self.fast_share = float(fast.mean()) if n else 0.0
        S = self.span
        # padding: a footprint clipped to -pad (or to the size) stays outside the image
        self.pad = S + 1
        self.hp, self.wp = target.height + 2 * self.pad, target.width + 2 * self.pad
        layer = self.hp * self.wp
        self.trash = (S + 1) ** 2 * layer     # the spare cell, for the pixels outside the pass
        ftype = np.float32 if self.trash < 2 ** 24 else np.float64
        # a footprint's first cell in its shape's layer: A + L dx + wp C + L (S + 1) dy + offset
        self.cell_weights = np.array([1, layer, self.wp, layer * (S + 1)], ftype)
        self.cell_offset = ftype(self.pad * self.wp + self.pad)
        self._spare_cell = np.full(_CHUNK, self.trash, ftype)
        self._spare_z = np.full(_CHUNK, np.inf, np.float32)
        # z = 0 gives s = 1/t_z: the pass must test z > 0 when that can fall in a fast range
        self.check_z = bool(t[2] > 0 and (self.fast_hi >= 1 / t[2]).any())

    def _seen_range(self, a: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The inverse target depths s in which all five points of rays ``a`` lie inside the
        target's ``max_ray_r2`` (an interval: each point moves along a straight line of normalised
        coordinates, n = m + d sigma with sigma its own 1/z_t, and the disc is convex)."""
        n = a.shape[2]
        lo, hi = np.zeros(n), np.full(n, np.inf)
        if not self.target.distorted:
            return lo, hi
        t, R2 = self.t, self.target.max_ray_r2
        a0z = a[2, 0]
        with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
            for k in range(5):
                az = a[2, k]
                m = a[:2, k] / az
                d = t[:2, None] - t[2] * m
                A, B, C = (d * d).sum(0), 2 * (m * d).sum(0), (m * m).sum(0) - R2
                disc = np.sqrt(B * B - 4 * A * C)
                s1, s2 = (-B - disc) / (2 * A), (-B + disc) / (2 * A)       # sigma range inside
                flat = A <= 1e-30 * (B * B + C * C + 1)                     # no parallax
                s1 = np.where(flat, np.where(C <= 0, 0, np.inf), s1)
                s2 = np.where(flat, np.where(C <= 0, np.inf, -np.inf), s2)
                s1 = np.where(np.isnan(s1), np.inf, np.maximum(s1, 0))      # disc < 0: never
                s2 = np.where(np.isnan(s2), -np.inf, s2)
                # sigma -> s: sigma = s a0z / (az + s t_z (a0z - az))
                c = t[2] * (a0z - az)
                den1, den2 = a0z - s1 * c, a0z - s2 * c
                s1 = np.where(den1 > 0, s1 * az / den1, np.inf)
                s2 = np.where(np.isinf(s2) & (s2 > 0), np.inf,
                              np.where(den2 > 0, s2 * az / den2, np.inf))
                s2 = np.where(az > 0, s2, -np.inf)
                lo = np.maximum(lo, np.nan_to_num(s1, nan=np.inf))
                hi = np.minimum(hi, np.nan_to_num(s2, nan=-np.inf))
        return lo, hi

    def _fit_chunk(self, sl: slice, tol_edges: np.ndarray, tol_centre: np.ndarray):
        """The fit of pixels ``sl`` (see :meth:`_fit`): sets the ranges, the coefficients and the
        two tolerances there (inf: not fast); returns the largest span of a fast pixel and
        whether a fast pixel's footprint can be empty."""
        t, az = self.t, self.a[2, sl]
        n = az.size
        rays = self._rays(sl)
        seen_lo, seen_hi = self._seen_range(rays)
        with np.errstate(over='ignore', invalid='ignore'):
            self.seen_lo[sl] = np.maximum(seen_lo * (1 - 1e-5) - 1e-8, 0)
            self.seen_hi[sl] = seen_hi * (1 + 1e-5) + 1e-8
            lo = seen_lo + 1e-5 * np.maximum(seen_lo, 1e-3)
            hi = np.minimum(seen_hi * (1 - 1e-5), self.s_max)
        fast = (az > 0) & (self.target.D.size <= 8) & (hi - lo > 1e-3)
        lo, hi = np.where(fast, lo, 0), np.where(fast, hi, 1)
        s = lo + (hi - lo) * (np.arange(_FIT_SAMPLES)[:, None] / (_FIT_SAMPLES - 1))   # (k, n)
        with np.errstate(divide='ignore', invalid='ignore'):
            z = (1 / np.maximum(s, 1e-9) - t[2]) / az                      # depths giving s
        z = np.where(fast, np.maximum(z, 1e-6), 1.0).astype(np.float32)
        edges = np.empty((len(s), 4, n))
        centre = np.empty((len(s), 2, n))
        zt32 = np.empty((len(s), n), np.float32)
        for i in range(len(s)):
            u, v, zt = self._points(z[i].astype(np.float64), rays)
            fast &= np.isfinite(u).all(0) & np.isfinite(v).all(0)
            edges[i] = u[1:].min(0), u[1:].max(0), v[1:].min(0), v[1:].max(0)
            centre[i] = u[0], v[0]
            zt32[i] = zt
        fast &= (zt32 > 0).all(0)
        with np.errstate(divide='ignore'):
            sk = 1 / zt32[[0, -1]].astype(np.float64)    # the float32 pass's s at the ends
        width = np.stack([edges[:, 1] - edges[:, 0], edges[:, 3] - edges[:, 2]], 1)
        width[:, :, ~fast] = 1
        # footprint spans over the range: at most _FAST_SPAN extra pixels per axis
        span = np.floor(width.max(0) + 2 * FOOTPRINT_MARGIN + 0.01)
        fast &= (span <= _FAST_SPAN).all(0)
        empty = bool((width.min(0)[:, fast] + 2 * FOOTPRINT_MARGIN - 0.01 < 1).any())
        # least squares on the even samples: edge - centre = c0 + c1 tau + c2 tau^2 with the
        # range's tau = (s - lo) / (hi - lo) at fixed k / 16 (one matrix for every pixel), then
        # written as a quadratic in s
        shift = np.array([0.5 - FOOTPRINT_MARGIN, FOOTPRINT_MARGIN - 0.5] * 2)
        offset = edges - np.repeat(centre, 2, axis=1)
        offset[:, :, ~fast] = 0
        tau = np.arange(0, len(s), 2) / (len(s) - 1)
        P = np.linalg.pinv(np.stack([np.ones_like(tau), tau, tau * tau], 1))     # (3, k)
        c0, c1, c2 = np.einsum('ak,ken->aen', P, offset[::2])                     # (4, n) each
        p = 1 / (hi - lo)
        q = -lo * p
        coef = self.coef[:, :, sl]
        coef[:, 0] = c0 + q * (c1 + q * c2) + (shift + np.repeat(self._centre_offset, 2))[:, None]
        coef[:, 1] = p * (c1 + 2 * q * c2)
        coef[:, 2] = c2 * p * p
        err_edges, err_centre = np.zeros(n), np.zeros(n)
        variants = (None, 'given') if self.given_centres else (None, )
        with np.errstate(invalid='ignore', over='ignore'):
            for i in range(len(s)):          # centre projected in float32, or given in float64
                for given in variants:
                    X, _ = self._fast_edges(zt32[i], sl, given and centre[i])
                    X[:4] -= edges[i]
                    X[:4] -= shift[:, None]
                    X[4:] -= centre[i]
                    np.abs(X, out=X)
                    err_edges = np.maximum(err_edges, X[:4].max(0))
                    err_centre = np.maximum(err_centre, X[4:].max(0))
        tol_edges[sl] = np.where(fast & np.isfinite(err_edges), 2 * err_edges + _F32_TOLERANCE,
                                 np.inf)
        tol_centre[sl] = np.where(fast & np.isfinite(err_centre),
                                  2 * err_centre + _F32_TOLERANCE, np.inf)
        # the float32 s of the range's ends can round outside it: keep the pass inside
        self.fast_lo[sl] = np.where(fast, np.maximum(sk[0] * (1 + 1e-6), lo), np.inf)
        self.fast_hi[sl] = np.where(fast, np.minimum(sk[-1] * (1 - 1e-6), hi), 0)
        return int(span[:, fast].max(initial=0)), empty

    # --- per frame: the float32 pass ---------------------------------------------------------------
    def _fast_edges(self, zt: np.ndarray, sl: slice, centre=None) -> Tuple[np.ndarray, np.ndarray]:
        """float32 footprint edges of pixels ``sl`` from their float32 target z: rows lo_u, hi_u,
        lo_v, hi_v shifted so that rint gives ceil(lo - margin) and floor(hi + margin), and (when
        footprints can be empty) u, v of the centre; and s = 1/z_t. ``centre``: the centres'
        (u, v) when already known (float64 or float32), else projected here in float32."""
        s = np.float32(1) / zt
        if centre is None:
            x = self.d32[0, sl] * s
            x += self.m32[0, sl]
            y = self.d32[1, sl] * s
            y += self.m32[1, sl]
            u, v = self._distort32(x, y)
        else:
            u, v = (np.asarray(c, np.float32) for c in centre)
        X = np.empty((6 if self.empty else 4, s.size), np.float32)
        coef = self.coef[:, :, sl]
        for e in range(4):
            E = X[e]
            np.multiply(coef[e, 2], s, out=E)
            E += coef[e, 1]
            E *= s
            E += coef[e, 0]
            E += u if e < 2 else v
        if self.empty:                        # the centre, in pixels
            np.add(u, np.float32(self._centre_offset[0]), out=X[4])
            np.add(v, np.float32(self._centre_offset[1]), out=X[5])
        return X, s

    def _distort32(self, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """float32 pixel coordinates of the centres from the tables' x, y (in place; no
        ``max_ray_r2`` test: the fit checked the range), less ``_centre_offset``."""
        fx, fy, cx, cy = self._f32
        k1, k2, p1, p2, k3, k4, k5, k6 = self._k32
        if self._scaled:                     # x, y are already f x, f y; k scaled to match
            if self.target.distorted:
                r2 = x * x
                r2 += y * y
                if k3:
                    rad = r2 * k3
                    rad += k2
                    rad *= r2
                else:
                    rad = r2 * k2
                rad += k1
                rad *= r2
                rad += np.float32(1)
                if k4 or k5 or k6:
                    den = r2 * k6
                    den += k5
                    den *= r2
                    den += k4
                    den *= r2
                    den += np.float32(1)
                    rad /= den
                x *= rad
                y *= rad
            if self.given_centres:
                x += cx
                y += cy
            return x, y
        r2 = x * x
        r2 += y * y
        rad = r2 * k3
        rad += k2
        rad *= r2
        rad += k1
        rad *= r2
        rad += np.float32(1)
        if k4 or k5 or k6:
            den = r2 * k6
            den += k5
            den *= r2
            den += k4
            den *= r2
            den += np.float32(1)
            rad /= den
        u = x * rad
        v = y * rad
        if p1 or p2:
            xy = x * y
            xy *= np.float32(2)
            u += p1 * xy + p2 * (r2 + np.float32(2) * x * x)
            v += p1 * (r2 + np.float32(2) * y * y) + p2 * xy
        u *= fx
        v *= fy
        if self.given_centres:
            u += cx
            v += cy
        return u, v

    def _buffers(self):
        """This thread's z-buffer, cells and z arrays (kept: allocating them costs page faults)."""
        local = self._local
        if getattr(local, 'buf', None) is None:
            local.buf = np.empty(self.trash + 1, np.float32)
            local.cells = np.empty(self.n, np.intp)
            local.zt = np.empty(self.n, np.float32)
        return local.buf, local.cells, local.zt

    def register(self, depth: np.ndarray) -> np.ndarray:
        """Depth (metres, source's (H, W); 0/NaN/inf/negative = no reading) -> float32 depth on
        the target's grid: the target-camera z of the nearest surface, 0 where no pixel lands."""
        self.prepare()
        z = _positive_depth(depth).reshape(-1)
        if self._kernels is not None:
            return self._register_compiled(z)
        _, cells, zt = self._buffers()
        exact = []
        t2, a2 = self.t[2], self.a[2]
        with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
            for c0 in range(0, self.n, _CHUNK):
                sl = slice(c0, min(c0 + _CHUNK, self.n))
                zc, ztc = z[sl], zt[sl]
                zt64 = zc.astype(np.float64)      # the float32 of the exact float64 z_t
                zt64 *= a2[sl]
                np.add(zt64, t2, out=ztc, casting='same_kind')
                self._cells(c0, sl, zc, *self._fast_edges(ztc, sl), exact)
        return self._zbuffer(z, exact)

    def _cells(self, c0: int, sl: slice, z: np.ndarray, X: np.ndarray, s: np.ndarray,
               exact: list) -> None:
        """The z-buffer cells of pixels ``sl`` (readings ``z``) from their float32 edges ``X``
        and s (:meth:`_fast_edges`), into this thread's cells; the pixels the exact path must
        take are appended to ``exact``."""
        h, w = self.target.size
        _, cells, _ = self._buffers()
        pad = self.pad
        I = np.rint(X)
        X -= I
        np.abs(X, out=X)
        ok = X.max(0) <= self.threshold[sl]       # no edge within its tolerance of a boundary
        ok &= s >= self.fast_lo[sl]
        ok &= s <= self.fast_hi[sl]
        if self.check_z:
            ok &= z > 0
        I = I.astype(self.cell_weights.dtype, copy=False)
        I[1] -= I[0]                              # rows: A, dx, C, dy
        I[3] -= I[2]
        if self.empty:                            # no pixel centre in the footprint: the nearest
            I[0] += (I[4] - I[0]) * (I[1] < 0)
            I[2] += (I[5] - I[2]) * (I[3] < 0)
            np.maximum(I[1], 0, out=I[1])
            np.maximum(I[3], 0, out=I[3])
        np.clip(I[0], -pad, w, out=I[0])
        np.clip(I[2], -pad, h, out=I[2])
        cell = self.cell_weights @ I[:4]
        cell += self.cell_offset
        # outside the pass: a pixel writes +inf to one spare cell (no z-buffer rounds there); a
        # reading that can be seen goes through the exact path, with its target z
        zt = self._buffers()[2][sl]
        nbad = ok.size - np.count_nonzero(ok)
        if nbad * 16 < ok.size:                   # a few: on their subset
            bad = np.flatnonzero(np.logical_not(ok, out=ok))
            cell[bad] = self.trash
            sb = s[bad]
            need = z[bad] > 0
            need &= sb >= self.seen_lo[c0 + bad]
            need &= sb <= self.seen_hi[c0 + bad]
            if need.any():
                exact.append((bad[need] + c0, zt[bad[need]]))
            zt[bad] = np.inf
        else:                                     # many: branchless over the chunk
            need = np.logical_not(ok)
            need &= z > 0
            need &= s >= self.seen_lo[sl]
            need &= s <= self.seen_hi[sl]
            need = np.flatnonzero(need)
            if need.size:
                exact.append((need + c0, zt[need]))
            n = ok.size
            cell = _select(ok, cell, self._spare_cell[:n])
            zt[...] = _select(ok, zt, self._spare_z[:n])
        cells[sl] = cell

    def _zbuffer(self, z: np.ndarray, exact: list) -> np.ndarray:
        """The registered depth from this thread's cells and target z (:meth:`_cells`) and the
        exact path's pixels."""
        (h, w), hp, wp, pad, S = self.target.size, self.hp, self.wp, self.pad, self.span
        buf, cells, zt = self._buffers()
        buf.fill(np.inf)
        _scatter_min(buf, cells, zt, fresh=True)
        if exact:
            index = np.concatenate([e[0] for e in exact])
            cand, val = self._exact_candidates(z[index], index,
                                               np.concatenate([e[1] for e in exact]))
            _scatter_min(buf, cand, val)
        layers = buf[:self.trash]
        grid = _compose(layers.reshape((S + 1) ** 2, hp, wp), S)[pad:pad + h, pad:pad + w]
        # inf (nothing landed) -> 0, in one pass
        return cv2.threshold(grid, float(np.finfo(np.float32).max), 0, cv2.THRESH_TOZERO_INV)[1]

    def lookup(self, depth: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray]:
        """The thermal lookup through depth (the colour camera as source, the thermal camera as
        target; built with ``given_centres=True``): float32 maps of where each source pixel's
        centre lands, ``map_x``/``map_y`` (copied) where it has no point, and far outside the
        target image where a nearer surface hides it from the target (its target z exceeds the
        target's own z-buffer by OCCLUSION_MARGIN + 5 cm) -- cv2.remap gives those no value.
        The float64 centres, this depth's z-buffer and the maps are made in one pass."""
        self.prepare()
        z = _positive_depth(depth).reshape(-1)
        if self._kernels is not None:
            return self._lookup_compiled(z, map_x, map_y)
        h, w = self.target.size
        _, _, zt32 = self._buffers()
        map_x, map_y = map_x.copy(), map_y.copy()
        mx, my = map_x.reshape(-1), map_y.reshape(-1)
        near_cell = np.empty(self.n, np.intp)             # nearest target pixel
        has_point = np.empty(self.n, bool)
        zt = np.empty(self.n)
        exact = []
        with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
            for c0 in range(0, self.n, _CHUNK):
                sl = slice(c0, min(c0 + _CHUNK, self.n))
                zc = z[sl]
                u, v, ztc = self._centre_chunk(zc, sl, self.a)
                zt[sl] = ztc
                zt32[sl] = ztc
                self._cells(c0, sl, zc, *self._fast_edges(zt32[sl], sl, (u, v)), exact)
                has = has_point[sl]
                np.isfinite(u, out=has)
                has &= np.isfinite(v)
                # nearest target pixel: clip(floor(nan_to_num(u) + 0.5), 0, w - 1), fewer passes
                iu = u + 0.5
                np.fmax(iu, 0, out=iu)
                np.fmin(iu, w - 1, out=iu)
                np.floor(iu, out=iu)
                iv = v + 0.5
                np.fmax(iv, 0, out=iv)
                np.fmin(iv, h - 1, out=iv)
                np.floor(iv, out=iv)
                iv *= w
                iv += iu
                near_cell[sl] = iv
                if has.all():
                    mx[sl] = u
                    my[sl] = v
                elif has.any():
                    mx[sl] = _select(has, u.astype(np.float32), mx[sl])
                    my[sl] = _select(has, v.astype(np.float32), my[sl])
        zbuf = self._zbuffer(z, exact).reshape(-1)
        for c0 in range(0, self.n, _CHUNK):
            sl = slice(c0, min(c0 + _CHUNK, self.n))
            near = zbuf[near_cell[sl]]
            # as before: the margin in float32 (near's type), compared with the float64 z
            hidden = zt[sl] > near * (1 + OCCLUSION_MARGIN) + 0.05
            hidden &= near > 0
            hidden &= has_point[sl]
            if hidden.any():
                off = hidden * np.float32(_HIDDEN)
                mx[sl] -= off
                my[sl] -= off
        return map_x, map_y

    # --- per frame: the compiled passes (registration_kernels.py) ----------------------------------
    def _footprint_args(self) -> tuple:
        """The arguments every compiled pass shares after the per-pixel inputs: the footprint
        flags and the padded z-buffer's geometry."""
        h, w = self.target.size
        co = self._centre_offset
        return (self.empty, self.check_z, np.float32(co[0]), np.float32(co[1]), h, w, self.pad,
                self.wp, self.span)

    def _lens(self) -> Tuple[np.ndarray, np.ndarray]:
        """The target's (fx, fy, cx, cy) and its 8 distortion coefficients (float64), as the
        compiled float64 projection takes them."""
        K, D = self.target.K, self.target.D
        k = np.zeros(8)
        k[:D.size] = D
        return np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]]), k

    def _register_compiled(self, z: np.ndarray) -> np.ndarray:
        """:meth:`register` through the compiled pass: the same grid, bit for bit."""
        grid = np.full(self.hp * self.wp, np.inf, np.float32)
        index, zt = np.empty(z.size, np.intp), np.empty(z.size, np.float32)
        count = self._kernels.register_pass(
            z, self._table, self._rays_table, float(self.t[2]), self._k32_array,
            self._f32_array, self._scaled, self.target.distorted, self.given_centres,
            *self._footprint_args(), grid, index, zt)
        return self._finish(grid, z, index[:count], zt[:count])

    def _lookup_compiled(self, z: np.ndarray, map_x: np.ndarray, map_y: np.ndarray):
        """:meth:`lookup` through the compiled passes: the same maps, bit for bit."""
        target = self.target
        map_x, map_y = np.array(map_x, np.float32), np.array(map_y, np.float32)   # copies
        n = z.size
        zt, near_cell, has_point = np.empty(n), np.empty(n, np.intp), np.empty(n, bool)
        grid = np.full(self.hp * self.wp, np.inf, np.float32)
        index, zt32 = np.empty(n, np.intp), np.empty(n, np.float32)
        count = self._kernels.lookup_pass(
            z, self._table, self._rays_table, self.t, *self._lens(),
            target.distorted, float(target.max_ray_r2), *self._footprint_args(), grid, index,
            zt32, zt, near_cell, has_point, map_x.reshape(-1), map_y.reshape(-1))
        zbuf = self._finish(grid, z, index[:count], zt32[:count])
        # as the numpy pass: the margin in float32 (the z-buffer's type), compared in float64
        self._kernels.occlusion_pass(zt, zbuf.reshape(-1), near_cell, has_point,
                                     map_x.reshape(-1), map_y.reshape(-1),
                                     np.float32(1 + OCCLUSION_MARGIN), np.float32(0.05),
                                     np.float32(_HIDDEN))
        return map_x, map_y

    def _finish(self, grid: np.ndarray, z: np.ndarray, index: np.ndarray, zt: np.ndarray
                ) -> np.ndarray:
        """The compiled pass's padded z-buffer with the exact path's pixels (``index``, float32
        target z ``zt``) -> the registered depth, 0 where nothing landed."""
        (h, w), pad, target = self.target.size, self.pad, self.target
        self._kernels.exact_pass(         # (also with no pixel: prepare() compiles it so)
            index, z, zt, self._rays_table, self.a_corner, self.source.width, self.t,
            *self._lens(), target.distorted, float(target.max_ray_r2), FOOTPRINT_MARGIN,
            MAX_FOOTPRINT, h, w, pad, self.wp, grid)
        view = grid.reshape(self.hp, self.wp)[pad:pad + h, pad:pad + w]
        return cv2.threshold(view, float(np.finfo(np.float32).max), 0, cv2.THRESH_TOZERO_INV)[1]


def _select(mask: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.where(mask, a, b) for arrays of one 4- or 8-byte type, without branches (several times
    faster than np.where when the mask is irregular; NaN and inf pass through as bits)."""
    bits = np.uint32 if a.itemsize == 4 else np.uint64
    m = mask.view(np.uint8).astype(bits)
    np.negative(m, out=m)                     # all ones where mask
    out = a.view(bits) & m
    np.invert(m, out=m)
    m &= b.view(bits)
    out |= m
    return out.view(a.dtype)


def _scatter_min(buf: np.ndarray, cells: np.ndarray, values: np.ndarray, fresh: bool = False):
    """buf[cells] = min(buf[cells], values), repeated cells included, deterministically: write,
    read back, and rewrite the candidates nearer than what was written, until none is (``fresh``:
    buf holds +inf at ``cells``, so the first read is skipped)."""
    if not fresh:
        keep = np.flatnonzero(values < buf[cells])
        cells, values = cells[keep], values[keep]
    while cells.size:
        buf[cells] = values
        keep = np.flatnonzero(values < buf[cells])
        cells, values = cells[keep], values[keep]


def _compose(layers: np.ndarray, span: int) -> np.ndarray:
    """(L, hp, wp) z-buffer layers -> (hp, wp): layer dx + (span + 1) dy holds, at a footprint's
    first cell, the nearest z of the footprints of (dy + 1) x (dx + 1) cells, each of which covers
    the cells to its right and below. Shifts run over the flat array: what wraps lands in the
    padding (``span`` cells on every side)."""
    L, hp, wp = layers.shape
    flat = layers.reshape(span + 1, span + 1, hp * wp)

    def collapse(planes, step):
        # planes[e] reaches e cells further (by ``step``): min over e and over shifts up to e
        acc = [None] * (span + 1)
        acc[span] = planes[span]
        for e in range(span - 1, -1, -1):
            acc[e] = np.minimum(acc[e + 1], planes[e])
        out = acc[0]
        for e in range(1, span + 1):
            np.minimum(out[e * step:], acc[e][:-e * step], out=out[e * step:])
        return out

    rows = [collapse(flat[dy], 1) for dy in range(span + 1)]
    return collapse(rows, wp).reshape(hp, wp)


def _positive_depth(depth: np.ndarray) -> np.ndarray:
    """Float depth with every non-reading (NaN, inf, <= 0) as 0; float32 and float64 kept as they
    are (no copy when nothing is to replace), other types as float64."""
    z = np.asarray(depth)
    if z.dtype != np.float32 and z.dtype != np.float64:
        z = z.astype(np.float64)
    if z.size and not (z.min() >= 0 and z.max() < np.inf):
        z = np.where(np.isfinite(z) & (z > 0), z, z.dtype.type(0))
    return z


#: Projections of the module functions below, newest last (each holds its cameras and ~50 MB at VGA)
_PROJECTIONS: list = []


def _projection(source: CameraModel, target: CameraModel, transform: Rigid) -> Projection:
    """The Projection of these three (identical objects) and the environment's kernels, built on
    first use; the last two kept."""
    kernels = os.environ.get(KERNELS_ENV)
    for p in _PROJECTIONS:
        if p.source is source and p.target is target and p.transform is transform and \
                p.environment == kernels:
            return p
    p = Projection(source, target, transform)
    _PROJECTIONS.append(p)
    del _PROJECTIONS[:-2]
    return p


def reproject(depth: np.ndarray, source: CameraModel, target: CameraModel, transform: Rigid
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each source pixel lands in the target: (u, v, z) arrays of the source's (H, W), NaN
    where the depth is invalid (<= 0 or not finite) or the point is behind the target camera."""
    _check_size('depth', np.asarray(depth), source)
    return _projection(source, target, transform).centres(depth)


def register_depth(depth: np.ndarray, source: CameraModel, target: CameraModel,
                   transform: Rigid) -> np.ndarray:
    """Depth (metres, 0/NaN/inf = invalid) of ``source`` -> float32 depth on ``target``'s grid
    (target-camera z, 0 where no source pixel lands). ``transform``: source frame -> target frame.
    The first call for a (source, target, transform) fits the footprints (:class:`Projection`)."""
    depth = np.asarray(depth)
    _check_size('depth', depth, source)
    return _projection(source, target, transform).register(depth)


def plane_homography(transform: Rigid, plane_distance: float = np.inf) -> np.ndarray:
    """Homography of normalised (undistorted) rays, source -> target, induced by the plane
    ``z = plane_distance`` of the source frame: ``R + t n^T / d`` (``d = inf``: the rotation)."""
    h = transform.R.copy()
    if np.isfinite(plane_distance):
        if plane_distance <= 0:
            raise ValueError(f'plane_distance must be > 0 m, got {plane_distance}')
        h = h + np.outer(transform.t, (0.0, 0.0, 1.0)) / plane_distance
    return h


@dataclass(frozen=True, eq=False)
class ThermalCalibration:
    """How thermal pixels map to colour pixels: a camera + transform (thermal -> colour frame) with
    a plane distance for pixels without depth, or only an explicit pixel homography (thermal pixel
    -> colour pixel, OpenCV convention) for rigs without intrinsics."""
    camera: Optional[CameraModel] = None
    transform: Optional[Rigid] = None
    plane_distance: float = np.inf
    homography: Optional[np.ndarray] = None
    size: Optional[Tuple[int, int]] = None     # (H, W) of the thermal images, when no camera


class Registration:
    """All sensors onto ``color``'s grid. ``depth``: (depth camera, depth -> colour transform).

    What depends only on the calibration (the depth camera's and the colour camera's
    :class:`Projection`, the thermal plane's lookup maps) is built on first use and kept while
    ``color``, ``thermal`` and ``depth`` are the objects it was built from (assigning new ones
    rebuilds it); :meth:`prepare` builds it at once (about a second per projection at VGA).
    """

    def __init__(self, color: CameraModel, thermal: Optional[ThermalCalibration] = None,
                 depth: Optional[Tuple[CameraModel, Rigid]] = None, source: str = '',
                 kernels: Optional[str] = None):
        self.color, self.thermal, self.depth, self.source = color, thermal, depth, source
        kernels_choice(kernels)                # a wrong name: now (numba loads with a Projection)
        self.kernels = kernels                 # of the Projections (None: the environment's)
        self._cache: Dict[str, Tuple[tuple, object]] = {}

    def __repr__(self) -> str:
        parts = [f'rgb {self.color.width}x{self.color.height}']
        if self.thermal is not None:
            parts.append('thermal ' + ('homography' if self.thermal.camera is None else
                                        'camera + transform'))
        if self.depth is not None:
            parts.append(f'depth {self.depth[0].width}x{self.depth[0].height}')
            parts.append(f'{self.passes} passes')
        return f'Registration({", ".join(parts)}{", " + self.source if self.source else ""})'

    @property
    def passes(self) -> str:
        """How the per-frame passes run: 'numba' (compiled) or 'numpy'."""
        return 'numpy' if compiled_kernels(self.kernels) is None else 'numba'

    def _cached(self, name: str, key: tuple, build):
        """``build()`` once per ``key`` (compared by identity: calibration objects are immutable)."""
        hit = self._cache.get(name)
        if hit is None or len(hit[0]) != len(key) or any(a is not b for a, b in zip(hit[0], key)):
            hit = self._cache[name] = (key, build())
        return hit[1]

    def prepare(self) -> 'Registration':
        """Build now what depends only on the calibration (else the first frame does); returns
        self."""
        if self.depth is not None:
            self._depth_projection().prepare()
        cal = self.thermal
        if cal is not None and cal.camera is not None:
            self._plane_map()
            if cal.transform is not None and self.depth is not None:
                self._thermal_projection().prepare()
        return self

    def _depth_projection(self) -> Projection:
        camera, transform = self.depth
        return self._cached('depth', (camera, transform, self.color),
                            lambda: Projection(camera, self.color, transform,
                                               kernels=self.kernels))

    def _thermal_projection(self) -> Projection:
        """The colour camera's registered depth into the thermal camera (the occlusion test)."""
        cal = self.thermal
        return self._cached('thermal', (cal, self.color),
                            lambda: Projection(self.color, cal.camera, cal.transform.inverse(),
                                               given_centres=True, kernels=self.kernels))

    def apply(self, rgb: Optional[np.ndarray] = None, thermal: Optional[np.ndarray] = None,
              depth: Optional[np.ndarray] = None, thermal_fill: float = 0.5
              ) -> Dict[str, Optional[np.ndarray]]:
        """Decoded arrays (any subset) -> the same on the colour grid, plus ``thermal_valid``."""
        out: Dict[str, Optional[np.ndarray]] = dict(rgb=rgb, thermal=None, depth=None,
                                                     thermal_valid=None)
        if rgb is not None:
            _check_size('rgb', rgb, self.color, self.source)
        if depth is not None:
            depth = float_depth(_single('depth', depth))   # REP 117: NaN/inf -> 0; negative: error
            if self.depth is None:
                _check_size('depth', depth, self.color, self.source, 'no depth calibration: ')
                out['depth'] = depth
            else:
                _check_size('depth', depth, self.depth[0], self.source)
                out['depth'] = self._depth_projection().register(depth)
        if thermal is not None:
            if self.thermal is None:
                _check_size('thermal', thermal, self.color, self.source, 'no thermal calibration: ')
                out['thermal'] = thermal
            else:
                warped = self._warp_thermal(_single('thermal', thermal).astype(np.float32),
                                            out['depth'])
                valid = np.isfinite(warped)
                if np.isinf(warped).any():   # only from inf in the thermal image itself
                    out['thermal'] = np.where(valid, warped, np.float32(thermal_fill))
                else:                        # NaN -> fill, in place (warped is ours), in one pass
                    out['thermal'] = cv2.patchNaNs(warped, float(np.float32(thermal_fill)))
                out['thermal_valid'] = valid
        return out

    # --- thermal -------------------------------------------------------------------------------------
    def _warp_thermal(self, thermal: np.ndarray, depth: Optional[np.ndarray]) -> np.ndarray:
        cal = self.thermal
        if cal.camera is None:
            _check_size('thermal', thermal, cal.size, self.source)
            h, w = self.color.size
            return cv2.warpPerspective(thermal, np.asarray(cal.homography, np.float64), (w, h),
                                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                       borderValue=np.nan)
        _check_size('thermal', thermal, cal.camera, self.source)
        map_x, map_y = self._plane_map()
        if depth is not None and cal.transform is not None:
            map_x, map_y = self._depth_map(depth, map_x, map_y)
        return cv2.remap(thermal, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=np.nan)

    def _plane_map(self) -> Tuple[np.ndarray, np.ndarray]:
        """Thermal pixel coordinates of every colour pixel through the plane (computed once)."""
        cal = self.thermal

        def build():
            to_color = cal.transform or Rigid.identity()
            hom = plane_homography(to_color, cal.plane_distance)
            x, y = self.color.pixel_rays
            rays = np.stack([x, y, np.ones_like(x)], -1) @ np.linalg.inv(hom).T
            rays[~(rays[..., 2] > 0)] = np.nan
            u, v = cal.camera.project(rays)
            return u.astype(np.float32), v.astype(np.float32)
        return self._cached('plane', (cal, self.color), build)

    def _depth_map(self, depth: np.ndarray, map_x: np.ndarray, map_y: np.ndarray):
        """Through the registered depth where it exists; occluded pixels: no thermal value.
        ``depth``: float32 on the colour grid, 0 = none; the plane maps are not modified."""
        return self._thermal_projection().lookup(depth, map_x, map_y)


def _single(sensor: str, image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise SensorError(sensor, 'channels', 'a single-channel (H, W) array',
                          f'shape {image.shape}')
    return image


def _check_size(sensor: str, image: np.ndarray, camera, source: str = '', prefix: str = ''):
    size = camera.size if isinstance(camera, CameraModel) else camera
    if size is not None and tuple(np.shape(image)[:2]) != tuple(size):
        where = f' (calibration: {source})' if source else ''
        raise SensorError(sensor, 'size', f'{prefix}{size[1]}x{size[0]} (WxH) as calibrated{where}',
                          f'{np.shape(image)[1]}x{np.shape(image)[0]}')
