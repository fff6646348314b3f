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

numpy + OpenCV only. Calibration files: perception/sensors/calibration.py; docs/registration.md.
"""
from __future__ import annotations

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
    _check_size('depth', depth, source)
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
    """All sensors onto ``color``'s grid. ``depth``: (depth camera, depth -> colour transform)."""

    def __init__(self, color: CameraModel, thermal: Optional[ThermalCalibration] = None,
                 depth: Optional[Tuple[CameraModel, Rigid]] = None, source: str = ''):
        self.color, self.thermal, self.depth, self.source = color, thermal, depth, source
        self._plane_maps: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def __repr__(self) -> str:
        parts = [f'rgb {self.color.width}x{self.color.height}']
        if self.thermal is not None:
            parts.append('thermal ' + ('homography' if self.thermal.camera is None else
                                        'camera + transform'))
        if self.depth is not None:
            parts.append(f'depth {self.depth[0].width}x{self.depth[0].height}')
        return f'Registration({", ".join(parts)}{", " + self.source if self.source else ""})'

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
                out['depth'] = register_depth(depth, self.depth[0], self.color, self.depth[1])
        if thermal is not None:
            if self.thermal is None:
                _check_size('thermal', thermal, self.color, self.source, 'no thermal calibration: ')
                out['thermal'] = thermal
            else:
                warped = self._warp_thermal(_single('thermal', thermal).astype(np.float32),
                                            out['depth'])
                valid = np.isfinite(warped)
                out['thermal'] = np.where(valid, warped, np.float32(thermal_fill))
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
        if self._plane_maps is None:
            cal = self.thermal
            to_color = cal.transform or Rigid.identity()
            hom = plane_homography(to_color, cal.plane_distance)
            x, y = self.color.pixel_rays
            rays = np.stack([x, y, np.ones_like(x)], -1) @ np.linalg.inv(hom).T
            rays[~(rays[..., 2] > 0)] = np.nan
            u, v = cal.camera.project(rays)
            self._plane_maps = (u.astype(np.float32), v.astype(np.float32))
        return self._plane_maps

    def _depth_map(self, depth: np.ndarray, map_x: np.ndarray, map_y: np.ndarray):
        """Through the registered depth where it exists; occluded pixels -> NaN (no thermal)."""
        cal = self.thermal
        to_thermal = cal.transform.inverse()
        u, v, zt = reproject(depth, self.color, cal.camera, to_thermal)
        has = np.isfinite(u) & np.isfinite(v)
        # The thermal camera's own view of the scene: the nearest surface per thermal pixel.
        zbuf = register_depth(depth, self.color, cal.camera, to_thermal)
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
