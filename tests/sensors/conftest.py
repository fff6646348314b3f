"""A synthetic rig seen from three poses: colour, a depth camera beside it (wider, lower resolution)
and a thermal camera (narrower field of view, 160x128), rendered from one scene each."""
import numpy as np
import pytest

from perception.datasets.synthetic.layout import sample_scene
from perception.datasets.synthetic.rig import RigCamera, relative_transform, render_rig

CAMERAS = dict(
    rgb=RigCamera((240, 320), hfov_deg=70, mount_height=1.20, pitch_deg=4.0, x=0.0),
    depth=RigCamera((180, 240), hfov_deg=80, mount_height=1.25, pitch_deg=6.0, x=0.08),
    thermal=RigCamera((128, 160), hfov_deg=50, mount_height=1.15, pitch_deg=3.0, x=-0.10),
)
SEEDS = (3, 11, 27)


@pytest.fixture(scope='session', params=SEEDS)
def rig(request):
    scene = sample_scene(np.random.default_rng(request.param), CAMERAS['rgb'].size, 'day')
    views = render_rig(scene, CAMERAS)
    models = {name: cam.model(name) for name, cam in CAMERAS.items()}
    to_rgb = {name: relative_transform(cam, CAMERAS['rgb']) for name, cam in CAMERAS.items()}
    return dict(seed=request.param, views=views, cameras=CAMERAS, models=models, to_rgb=to_rgb)
