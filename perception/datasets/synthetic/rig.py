"""A synthetic multi-camera rig: one scene rendered from several camera poses with known calibration.

The registration tests and figure (perception/sensors/registration.py, docs/registration.md) need
images whose true pixel correspondence is known. The renderer's camera sits at X = 0 with a mount
height and a downward pitch; a camera at lateral position ``x`` is rendered by moving the scene by
``-x`` (things, walls, the ground's centre line), which leaves the geometry -- depth and labels --
exactly consistent between views. (Screen-space texture noise is not: appearance differs slightly.)

Camera frames are optical frames (x right, y down, z forward); world: X right, Y up, Z forward.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from perception.sensors.cameras import CameraModel, Rigid

from .camera import Camera
from .render import GBuffer, render_geometry
from .scene import Scene


@dataclass(frozen=True)
class RigCamera:
    size: Tuple[int, int]          # (H, W)
    hfov_deg: float
    mount_height: float            # m above the ground
    pitch_deg: float               # downward
    x: float = 0.0                 # m, lateral position (right = positive)

    def camera(self) -> Camera:
        return Camera.from_fov(self.size, self.hfov_deg, self.mount_height, self.pitch_deg)

    def model(self, name: str = 'camera') -> CameraModel:
        """OpenCV intrinsics: the renderer puts pixel centres at j + 0.5, OpenCV at j."""
        c = self.camera()
        K = np.array([[c.focal, 0, c.cx - 0.5], [0, c.focal, c.cy - 0.5], [0, 0, 1]])
        return CameraModel(c.width, c.height, K, np.zeros(5), name)

    def world_to_camera(self) -> Tuple[np.ndarray, np.ndarray]:
        """(R, t) with p_camera = R @ p_world + t (the renderer's Camera.project)."""
        p = np.deg2rad(self.pitch_deg)
        s, c = np.sin(p), np.cos(p)
        R = np.array([[1.0, 0, 0], [0, -c, -s], [0, -s, c]])
        return R, -R @ np.array([self.x, self.mount_height, 0.0])


def relative_transform(source: RigCamera, target: RigCamera) -> Rigid:
    """Source optical frame -> target optical frame (the extrinsics a calibration would give)."""
    Rs, ts = source.world_to_camera()
    Rt, tt = target.world_to_camera()
    R = Rt @ Rs.T   # Rs is orthogonal (its det is -1: the renderer's world is left-handed)
    return Rigid(R, tt - R @ ts)


def view(scene: Scene, cam: RigCamera) -> Scene:
    """``scene`` as seen from ``cam``: its camera, and the world moved by ``-cam.x``."""
    dx = cam.x
    return dataclasses.replace(
        scene, camera=cam.camera(),
        billboards=[dataclasses.replace(b, x=b.x - dx) for b in scene.billboards],
        walls=[dataclasses.replace(w, start=(w.start[0] - dx, w.start[1]),
                                   end=(w.end[0] - dx, w.end[1])) for w in scene.walls],
        ground=dataclasses.replace(scene.ground, x0=scene.ground.x0 - dx))


def render_rig(scene: Scene, cameras: Dict[str, RigCamera]) -> Dict[str, GBuffer]:
    """The G-buffer (depth, labels, temperature, ...) of ``scene`` from every camera of the rig."""
    return {name: render_geometry(view(scene, cam)) for name, cam in cameras.items()}


def world_points(cam: RigCamera, depth: np.ndarray) -> np.ndarray:
    """(H, W, 3) world points of a camera's depth map (camera z; NaN where not finite/positive)."""
    model = cam.model()
    x, y = model.pixel_rays
    z = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float64)
    R, t = cam.world_to_camera()
    return (np.stack([x * z, y * z, z], -1) - t) @ R   # R^-1 = R^T for the orthogonal R
