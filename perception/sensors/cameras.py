"""Camera models and rigid transforms for registration (numpy + OpenCV, ROS conventions).

Pixel coordinates follow OpenCV and ROS ``sensor_msgs/CameraInfo``: the centre of pixel (row i,
column j) is at (u, v) = (j, i); camera frames are optical frames (x right, y down, z forward).
Distortion models: ``plumb_bob`` (k1, k2, p1, p2, k3) and ``rational_polynomial`` (8 coefficients),
both as OpenCV's ``distCoeffs``; no coefficients (or all zero) = an ideal pinhole.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from perception.contract import ConfigError

DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial')
#: Inverting the lens distortion is iterative; this many steps bring it to ~1e-12 px.
_UNDISTORT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


def _undistort_points(points: np.ndarray, K: np.ndarray, D: np.ndarray) -> np.ndarray:
    """cv2.undistortPoints with the iteration criteria ``_UNDISTORT``: OpenCV 4.x takes them in
    ``undistortPointsIter`` (its undistortPoints has no ``criteria``: the robot's opencv 4.11),
    5.x in ``undistortPoints`` itself (and has no ``undistortPointsIter``)."""
    if hasattr(cv2, 'undistortPointsIter'):
        return cv2.undistortPointsIter(points, K, D, None, None, _UNDISTORT)
    return cv2.undistortPoints(points, K, D, criteria=_UNDISTORT)


def _field(info: Any, *names: str):
    """A CameraInfo-like field by any of its names (message attribute or mapping key)."""
    for name in names:
        value = info.get(name) if isinstance(info, Mapping) else getattr(info, name, None)
        if value is not None:
            return value
    return None


@dataclass(frozen=True, eq=False)
class CameraModel:
    width: int
    height: int
    K: np.ndarray                 # (3, 3) intrinsics
    D: np.ndarray                 # (n,) OpenCV distortion coefficients, n in (0, 4, 5, 8, 12, 14)
    name: str = 'camera'

    def __post_init__(self):
        K = np.asarray(self.K, np.float64)
        D = np.asarray(self.D if self.D is not None else (), np.float64).reshape(-1)
        if K.shape != (3, 3) or K[0, 0] <= 0 or K[1, 1] <= 0 or not np.all(np.isfinite(K)) \
                or K[0, 1] != 0 or K[1, 0] != 0 or not np.allclose(K[2], (0, 0, 1)):
            raise ConfigError(f'{self.name}: camera matrix must be [[fx, 0, cx], [0, fy, cy], '
                              f'[0, 0, 1]] with fx, fy > 0 (no skew, as OpenCV and ROS), got '
                              f'{K.tolist()}')
        if D.size not in (0, 4, 5, 8, 12, 14) or not np.all(np.isfinite(D)):
            raise ConfigError(f'{self.name}: distortion needs 0, 4, 5, 8, 12 or 14 coefficients '
                              f'(OpenCV order k1, k2, p1, p2[, k3[, ...]]), got {D.tolist()}')
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ConfigError(f'{self.name}: image size must be positive, got '
                              f'{self.width}x{self.height}')
        object.__setattr__(self, 'K', K)
        object.__setattr__(self, 'D', D)
        object.__setattr__(self, 'width', int(self.width))
        object.__setattr__(self, 'height', int(self.height))

    @classmethod
    def from_camera_info(cls, info: Any, name: str = 'camera') -> 'CameraModel':
        """From a ``sensor_msgs/CameraInfo`` message or a mapping with its fields: ``k`` (9 values,
        row-major), ``d``, ``width``, ``height``, ``distortion_model`` (ROS 1 names ``K``/``D`` and
        the camera_info YAML names ``camera_matrix``/``distortion_coefficients``/``image_width``/
        ``image_height`` are accepted too)."""
        k = _field(info, 'k', 'K', 'camera_matrix')
        d = _field(info, 'd', 'D', 'distortion_coefficients')
        width = _field(info, 'width', 'image_width')
        height = _field(info, 'height', 'image_height')
        if k is None or width is None or height is None:
            raise ConfigError(f'{name}: camera info needs k (camera_matrix), width (image_width) '
                              f'and height (image_height)')
        try:
            width, height = int(width), int(height)
        except (TypeError, ValueError):
            raise ConfigError(f'{name}: width and height must be integers, got {width!r}, '
                              f'{height!r}') from None
        model = _field(info, 'distortion_model') or 'plumb_bob'
        d = np.asarray(matrix_values(d, f'{name}.d') if d is not None else (), np.float64)
        if model not in DISTORTION_MODELS and np.any(d != 0):
            raise ConfigError(f'{name}: distortion_model {model!r} is not supported (one of '
                              f'{DISTORTION_MODELS}); rectify the images and give the rectified '
                              f'camera (projection matrix P, no distortion)')
        return cls(width, height, matrix_values(k, f'{name}: camera matrix k', (3, 3)),
                   d, name)

    @property
    def size(self) -> Tuple[int, int]:
        return self.height, self.width

    @property
    def distorted(self) -> bool:
        return bool(np.any(self.D != 0))

    def unproject(self, u: np.ndarray, v: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates -> normalised ray (x, y, 1) components x, y (lens distortion removed)."""
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        if not self.distorted:
            return (u - self.K[0, 2]) / self.K[0, 0], (v - self.K[1, 2]) / self.K[1, 1]
        pts = np.stack([u.ravel(), v.ravel()], -1).reshape(-1, 1, 2)
        out = _undistort_points(pts, self.K, self.D).reshape(-1, 2)
        return out[:, 0].reshape(u.shape), out[:, 1].reshape(u.shape)

    def project(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Camera-frame points (..., 3) with z > 0 -> pixel coordinates u, v."""
        p = np.asarray(points, np.float64)
        x, y = p[..., 0] / p[..., 2], p[..., 1] / p[..., 2]
        if not self.distorted:
            return self.K[0, 0] * x + self.K[0, 2], self.K[1, 1] * y + self.K[1, 2]
        outside = x * x + y * y > self.max_ray_r2   # a distortion polynomial can fold back inside
        if outside.any():
            x, y = np.where(outside, np.nan, x), np.where(outside, np.nan, y)
        if self.D.size <= 8:
            x, y = _distort(x, y, self.D)
            return self.K[0, 0] * x + self.K[0, 2], self.K[1, 1] * y + self.K[1, 2]
        if x.size == 0:   # thin prism / tilted sensor terms: OpenCV's own model
            return x, y
        rays = np.stack([x.ravel(), y.ravel(), np.ones(x.size)], -1)
        uv, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), self.K, self.D)
        return uv[:, 0, 0].reshape(x.shape), uv[:, 0, 1].reshape(x.shape)

    @cached_property
    def max_ray_r2(self) -> float:
        """Squared normalised radius beyond which rays are not projected: 1.2 x the image border's
        largest ray, and never past the radius where the radial polynomial turns back."""
        h, w = self.height, self.width
        u = np.r_[np.arange(w), np.arange(w), np.zeros(h), np.full(h, w - 1)].astype(np.float64)
        v = np.r_[np.zeros(w), np.full(w, h - 1), np.arange(h), np.arange(h)].astype(np.float64)
        x, y = self.unproject(u - 0.5 * np.sign(u - self.K[0, 2]),
                              v - 0.5 * np.sign(v - self.K[1, 2]))
        border = 1.2 * float(np.sqrt(np.nanmax(x * x + y * y)))
        r = np.linspace(0, 3 * border, 3001)[1:]
        turns = np.flatnonzero(np.diff(r * _radial(r * r, self.D)) <= 0)
        fold = r[turns[0]] if turns.size else np.inf
        return min(border, fold) ** 2

    @cached_property
    def pixel_rays(self) -> Tuple[np.ndarray, np.ndarray]:
        """(H, W) normalised ray components of every pixel centre (computed once per camera)."""
        v, u = np.mgrid[0:self.height, 0:self.width].astype(np.float64)
        return self.unproject(u, v)

    @cached_property
    def corner_rays(self) -> Tuple[np.ndarray, np.ndarray]:
        """(H + 1, W + 1) normalised rays of the pixel corners (u, v) = (j - 0.5, i - 0.5)."""
        v, u = np.mgrid[0:self.height + 1, 0:self.width + 1].astype(np.float64) - 0.5
        return self.unproject(u, v)


def _radial(r2: np.ndarray, D: np.ndarray) -> np.ndarray:
    """OpenCV's radial factor (1 + k1 r^2 + k2 r^4 + k3 r^6) / (1 + k4 r^2 + k5 r^4 + k6 r^6)."""
    k = np.zeros(8)
    k[:min(D.size, 8)] = D[:8]
    k1, k2, _, _, k3, k4, k5, k6 = k
    return (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))


def _distort(x: np.ndarray, y: np.ndarray, D: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """OpenCV's radial-tangential model (k1, k2, p1, p2[, k3[, k4, k5, k6]]) in numpy: the same
    numbers as cv2.projectPoints (tests/sensors), several times faster on whole images."""
    p1, p2 = (D[2], D[3]) if D.size >= 4 else (0.0, 0.0)
    r2 = x * x + y * y
    radial = _radial(r2, D)
    xy = x * y
    return (x * radial + 2 * p1 * xy + p2 * (r2 + 2 * x * x),
            y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * xy)


@dataclass(frozen=True, eq=False)
class Rigid:
    """``p_target = R @ p_source + t`` (metres): the pose of the source optical frame in the target
    optical frame -- in ROS TF terms parent = target, child = source, as ``static_transform_publisher
    --frame-id TARGET --child-frame-id SOURCE`` takes it."""
    R: np.ndarray
    t: np.ndarray

    def __post_init__(self):
        R = np.asarray(self.R, np.float64)
        t = np.asarray(self.t, np.float64).reshape(-1)
        if R.shape != (3, 3) or t.shape != (3, ) or not np.all(np.isfinite(R)) \
                or not np.all(np.isfinite(t)):
            raise ConfigError(f'transform: expected a 3x3 rotation and 3 translations, got '
                              f'{R.tolist()}, {t.tolist()}')
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
            raise ConfigError(f'transform: the rotation is not orthonormal with det +1: {R.tolist()}')
        object.__setattr__(self, 'R', R)
        object.__setattr__(self, 't', t)

    @classmethod
    def identity(cls) -> 'Rigid':
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def from_quaternion(cls, translation: Sequence[float], quaternion: Sequence[float]) -> 'Rigid':
        """ROS order: translation (x, y, z), quaternion (qx, qy, qz, qw); normalised here."""
        q = np.asarray(quaternion, np.float64).reshape(-1)
        n = np.linalg.norm(q) if q.shape == (4, ) else 0.0
        if not np.isfinite(n) or n < 1e-9:
            raise ConfigError(f'transform: rotation must be a quaternion [qx, qy, qz, qw], got '
                              f'{list(quaternion)}')
        x, y, z, w = q / n
        R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        return cls(R, np.asarray(translation, np.float64))

    @classmethod
    def from_static_transform(cls, values: Sequence[float]) -> 'Rigid':
        """``[x, y, z, qx, qy, qz, qw]`` -- a static transform as one ROS parameter."""
        values = list(values)
        if len(values) != 7:
            raise ConfigError(f'transform: expected [x, y, z, qx, qy, qz, qw], got {values}')
        return cls.from_quaternion(values[:3], values[3:])

    @classmethod
    def from_matrix(cls, matrix) -> 'Rigid':
        m = np.asarray(matrix, np.float64)
        if m.shape != (4, 4) or not np.allclose(m[3], (0, 0, 0, 1)):
            raise ConfigError(f'transform: expected a 4x4 matrix with last row 0 0 0 1, got '
                              f'{m.tolist()}')
        return cls(m[:3, :3], m[:3, 3])

    def inverse(self) -> 'Rigid':
        return Rigid(self.R.T, -self.R.T @ self.t)

    def apply(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, np.float64) @ self.R.T + self.t


def matrix_values(value, what: str, shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """A matrix written as ROS/OpenCV YAML writes it (``{rows, cols, data}``), nested or flat."""
    if isinstance(value, Mapping):
        if 'data' not in value:
            raise ConfigError(f'{what}: expected {{rows, cols, data}}, got keys {sorted(value)}')
        data = np.asarray(value['data'], np.float64).reshape(-1)
        rows, cols = value.get('rows'), value.get('cols')
        if rows is not None and cols is not None:
            if int(rows) * int(cols) != data.size:
                raise ConfigError(f'{what}: rows x cols = {rows} x {cols} but {data.size} values')
            data = data.reshape(int(rows), int(cols))
    else:
        try:
            data = np.asarray(value, np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f'{what}: expected numbers, got {value!r}') from None
    if shape is not None:
        if data.size != shape[0] * shape[1]:
            raise ConfigError(f'{what}: expected {shape[0]}x{shape[1]} values, got {data.size}')
        data = data.reshape(shape)
    return data
