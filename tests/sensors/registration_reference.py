"""The pre-optimisation registration (perception/sensors/registration.py as of commit 36c2f71), kept
as the oracle that the fast implementation is compared with (tests/sensors/test_registration_parity.py)
and timed against (``tools/registration_figure.py --time``). Do not optimise or "fix" it: it is the
definition of the results the fast path must reproduce -- bit for bit where the z-buffer decides
(which depth wins, and so the registered depth and the thermal occlusion test), within 1e-5 elsewhere.

Per frame it does everything: the rigid transform and the projection of every depth pixel's centre
and four corners, a ``np.minimum.at`` z-buffer per footprint offset, the thermal camera's own
z-buffer for the occlusion test, and the thermal lookup maps (only the plane's lookup was computed
once, and still is).

``apply_reference(registration, rgb, thermal, depth, thermal_fill)`` is ``Registration.apply`` with
the same arguments and the same returned dict. numpy + OpenCV + perception.sensors.cameras only (the
camera models and transforms are shared: they hold the calibration, not the per-frame work).
"""
from __future__ import annotations

import weakref
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from perception.sensors.cameras import CameraModel, Rigid
from perception.sensors.encodings import float_depth

MAX_FOOTPRINT = 8
FOOTPRINT_MARGIN = 0.1
OCCLUSION_MARGIN = 0.03


def reproject(depth: np.ndarray, source: CameraModel, target: CameraModel, transform: Rigid
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each source pixel lands in the target: (u, v, z) arrays of the source's (H, W), NaN
    where the depth is invalid (<= 0 or not finite) or the point is behind the target camera."""
    depth = np.asarray(depth, np.float64)
    x, y = source.pixel_rays
    z = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)
    p = transform.apply(np.stack([x * z, y * z, z], -1))
    p[~(p[..., 2] > 0)] = np.nan
    u, v = target.project(p)
    return u, v, p[..., 2]


def register_depth(depth: np.ndarray, source: CameraModel, target: CameraModel,
                   transform: Rigid) -> np.ndarray:
    """Depth (metres, 0/NaN/inf = invalid) of ``source`` -> float32 depth on ``target``'s grid
    (target-camera z, 0 where no source pixel lands). ``transform``: source frame -> target frame."""
    depth = np.asarray(depth, np.float64)
    assert depth.shape == source.size, (depth.shape, source.size)
    valid = np.isfinite(depth) & (depth > 0)
    rows, cols = np.nonzero(valid)
    z = depth[rows, cols]
    cx, cy = source.corner_rays
    corners = []
    for di, dj in ((0, 0), (0, 1), (1, 0), (1, 1)):
        xr, yr = cx[rows + di, cols + dj], cy[rows + di, cols + dj]
        corners.append(transform.apply(np.stack([xr * z, yr * z, z], -1)))
    x, y = source.pixel_rays
    centre = transform.apply(np.stack([x[rows, cols] * z, y[rows, cols] * z, z], -1))
    front = centre[:, 2] > 0
    for c in corners:
        front &= c[:, 2] > 0
    centre, corners = centre[front], [c[front] for c in corners]
    uc, vc = target.project(centre)
    uvs = [target.project(c) for c in corners]
    us, vs = np.stack([a for a, _ in uvs]), np.stack([b for _, b in uvs])
    seen = np.isfinite(uc) & np.isfinite(vc) & np.isfinite(us).all(0) & np.isfinite(vs).all(0)
    uc, vc, us, vs, centre = uc[seen], vc[seen], us[:, seen], vs[:, seen], centre[seen]
    j0, j1 = _cover(us.min(0), us.max(0), uc)
    i0, i1 = _cover(vs.min(0), vs.max(0), vc)
    h, w = target.size
    j0, j1 = np.maximum(j0, 0), np.minimum(j1, w - 1)
    i0, i1 = np.maximum(i0, 0), np.minimum(i1, h - 1)
    keep = (j0 <= j1) & (i0 <= i1)
    j0, j1, i0, i1, zt = j0[keep], j1[keep], i0[keep], i1[keep], centre[keep, 2]
    nx, ny = j1 - j0 + 1, i1 - i0 + 1
    zbuf = np.full(h * w, np.inf)
    for dy in range(int(ny.max(initial=0))):
        for dx in range(int(nx.max(initial=0))):
            m = (dy < ny) & (dx < nx)
            np.minimum.at(zbuf, (i0[m] + dy) * w + j0[m] + dx, zt[m])
    zbuf[~np.isfinite(zbuf)] = 0
    return zbuf.reshape(h, w).astype(np.float32)


def _cover(lo: np.ndarray, hi: np.ndarray, centre: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    a = np.ceil(lo - FOOTPRINT_MARGIN).astype(np.int64)
    b = np.floor(hi + FOOTPRINT_MARGIN).astype(np.int64)
    nearest = np.floor(centre + 0.5).astype(np.int64)
    empty = b < a
    a, b = np.where(empty, nearest, a), np.where(empty, nearest, b)
    half = MAX_FOOTPRINT // 2
    a = np.maximum(a, nearest - half)
    b = np.minimum(b, a + MAX_FOOTPRINT - 1)
    return a, b


def plane_homography(transform: Rigid, plane_distance: float = np.inf) -> np.ndarray:
    h = transform.R.copy()
    if np.isfinite(plane_distance):
        h = h + np.outer(transform.t, (0.0, 0.0, 1.0)) / plane_distance
    return h


#: As the old ``Registration._plane_map``, computed once per registration (and calibration).
_PLANE_MAPS: 'weakref.WeakKeyDictionary' = weakref.WeakKeyDictionary()


def plane_map(registration) -> Tuple[np.ndarray, np.ndarray]:
    """Thermal pixel coordinates of every colour pixel through the plane (computed once, as the
    old code did)."""
    key = (registration.thermal, registration.color)
    hit = _PLANE_MAPS.get(registration)
    if hit is None or hit[0][0] is not key[0] or hit[0][1] is not key[1]:
        hit = _PLANE_MAPS[registration] = (key, _plane_map(registration))
    return hit[1]


def _plane_map(registration) -> Tuple[np.ndarray, np.ndarray]:
    cal = registration.thermal
    to_color = cal.transform or Rigid.identity()
    hom = plane_homography(to_color, cal.plane_distance)
    x, y = registration.color.pixel_rays
    rays = np.stack([x, y, np.ones_like(x)], -1) @ np.linalg.inv(hom).T
    rays[~(rays[..., 2] > 0)] = np.nan
    u, v = cal.camera.project(rays)
    return u.astype(np.float32), v.astype(np.float32)


def depth_map(registration, depth: np.ndarray, map_x: np.ndarray, map_y: np.ndarray):
    """Through the registered depth where it exists; occluded pixels -> NaN (no thermal)."""
    cal = registration.thermal
    to_thermal = cal.transform.inverse()
    u, v, zt = reproject(depth, registration.color, cal.camera, to_thermal)
    has = np.isfinite(u) & np.isfinite(v)
    zbuf = register_depth(depth, registration.color, cal.camera, to_thermal)
    h, w = cal.camera.size
    iu = np.clip(np.floor(np.nan_to_num(u) + 0.5), 0, w - 1).astype(np.int64)
    iv = np.clip(np.floor(np.nan_to_num(v) + 0.5), 0, h - 1).astype(np.int64)
    near = zbuf[iv, iu]
    hidden = has & (near > 0) & (zt > near * (1 + OCCLUSION_MARGIN) + 0.05)
    map_x = np.where(has, u, map_x).astype(np.float32)
    map_y = np.where(has, v, map_y).astype(np.float32)
    map_x[hidden] = np.nan
    map_y[hidden] = np.nan
    return map_x, map_y


def warp_thermal(registration, thermal: np.ndarray, depth: Optional[np.ndarray]) -> np.ndarray:
    cal = registration.thermal
    if cal.camera is None:
        h, w = registration.color.size
        return cv2.warpPerspective(thermal, np.asarray(cal.homography, np.float64), (w, h),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=np.nan)
    map_x, map_y = plane_map(registration)
    if depth is not None and cal.transform is not None:
        map_x, map_y = depth_map(registration, depth, map_x, map_y)
    return cv2.remap(thermal, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=np.nan)


def apply_reference(registration, rgb: Optional[np.ndarray] = None,
                    thermal: Optional[np.ndarray] = None, depth: Optional[np.ndarray] = None,
                    thermal_fill: float = 0.5) -> Dict[str, Optional[np.ndarray]]:
    """``Registration.apply`` as it was, for valid inputs (the size and channel checks are not
    repeated: give it what ``Registration.apply`` accepts). ``registration``: a
    ``perception.sensors.registration.Registration`` (only its calibration fields are read)."""
    out: Dict[str, Optional[np.ndarray]] = dict(rgb=rgb, thermal=None, depth=None,
                                                 thermal_valid=None)
    if depth is not None:
        depth = float_depth(np.asarray(depth))
        if registration.depth is None:
            out['depth'] = depth
        else:
            out['depth'] = register_depth(depth, registration.depth[0], registration.color,
                                          registration.depth[1])
    if thermal is not None:
        if registration.thermal is None:
            out['thermal'] = thermal
        else:
            warped = warp_thermal(registration, np.asarray(thermal).astype(np.float32),
                                  out['depth'])
            valid = np.isfinite(warped)
            out['thermal'] = np.where(valid, warped, np.float32(thermal_fill))
            out['thermal_valid'] = valid
    return out
