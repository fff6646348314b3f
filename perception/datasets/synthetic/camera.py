"""Pinhole camera of the robot: mount height, downward pitch, no roll.

World frame: origin on the ground below the camera, X right, Y up, Z forward (horizontal).
Camera frame: x right, y down, z along the optical axis; depth maps hold camera z (the convention of
depth sensors), not the range along the ray.

Without roll, a pixel's viewing ray has world Y and Z components that depend only on the image row.
The renderer leans on that: the ground and every fronto-parallel plane have one depth per row.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Tuple

import numpy as np


@dataclass(frozen=True)
class Camera:
    height: int          # image rows
    width: int           # image columns
    focal: float         # pixels (square pixels)
    mount_height: float  # metres above the ground
    pitch: float         # radians, positive = looking down

    @classmethod
    def from_fov(cls, img_size: Tuple[int, int], hfov_deg: float, mount_height: float,
                 pitch_deg: float) -> 'Camera':
        h, w = img_size
        focal = (w / 2) / np.tan(np.deg2rad(hfov_deg) / 2)
        return cls(h, w, float(focal), float(mount_height), float(np.deg2rad(pitch_deg)))

    @property
    def cx(self) -> float:
        return self.width / 2

    @property
    def cy(self) -> float:
        return self.height / 2

    # Normalised image coordinates of pixel centres (pixel (i, j) spans [j, j+1) x [i, i+1)).
    @cached_property
    def col_x(self) -> np.ndarray:
        return ((np.arange(self.width, dtype=np.float64) + 0.5 - self.cx) / self.focal)

    @cached_property
    def row_y(self) -> np.ndarray:
        return ((np.arange(self.height, dtype=np.float64) + 0.5 - self.cy) / self.focal)

    @cached_property
    def ray_world_y(self) -> np.ndarray:
        """(H,) world Y component of each row's ray, scaled so that the camera z component is 1."""
        return -self.row_y * np.cos(self.pitch) - np.sin(self.pitch)

    @cached_property
    def ray_world_z(self) -> np.ndarray:
        """(H,) world Z component of each row's ray (same scaling)."""
        return np.cos(self.pitch) - self.row_y * np.sin(self.pitch)

    @cached_property
    def ground_depth_rows(self) -> np.ndarray:
        """(H,) camera depth of the ground plane per row; inf at and above the horizon."""
        down = -self.ray_world_y
        with np.errstate(divide='ignore'):
            depth = np.where(down > 1e-9, self.mount_height / np.maximum(down, 1e-9), np.inf)
        return depth

    @property
    def horizon_row(self) -> float:
        """Continuous image row of the horizon (may lie outside the image)."""
        return self.cy - self.focal * np.tan(self.pitch)

    def plane_depth_rows(self, z_world: float) -> np.ndarray:
        """(H,) camera depth of the vertical plane ``Z = z_world`` per row."""
        return z_world / self.ray_world_z

    def camera_z(self, points: np.ndarray) -> np.ndarray:
        """Camera depth of world points (..., 3)."""
        p = np.asarray(points, dtype=np.float64)
        return ((p[..., 1] - self.mount_height) * -np.sin(self.pitch)
                + p[..., 2] * np.cos(self.pitch))

    def project(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (..., 3) -> continuous pixel coordinates u, v and camera depth z."""
        p = np.asarray(points, dtype=np.float64)
        rel_y = p[..., 1] - self.mount_height
        s, c = np.sin(self.pitch), np.cos(self.pitch)
        x = p[..., 0]
        y = -rel_y * c - p[..., 2] * s
        z = -rel_y * s + p[..., 2] * c
        return self.cx + self.focal * x / z, self.cy + self.focal * y / z, z
