"""The fast registration against the pre-optimisation code (tests/sensors/registration_reference.py)
on rendered rigs: registered depth bit for bit (the z-buffer keeps the same depth at every pixel),
thermal validity equal and thermal values within 1e-5, for depth alone and depth + thermal, at VGA
and smaller sizes, with lens distortion, several poses, holes, occlusions, depths nearer than the
float32 pass covers, and footprints that shrink (downsampling) or grow (upsampling). Every test runs
twice: with the numpy passes and with the compiled (numba) ones, which must also equal each other
bit for bit, maps included."""
import os
import threading

import numpy as np
import pytest
from registration_reference import apply_reference
from registration_reference import register_depth as reference_register_depth

from perception.datasets.synthetic.layout import sample_scene
from perception.datasets.synthetic.rig import RigCamera, relative_transform, render_rig
from perception.datasets.synthetic.sensors import depth_reading, thermal_image
from perception.sensors.cameras import CameraModel, Rigid
from perception.sensors.encodings import get_encoding
from perception.sensors.registration import (FAST_MIN_DEPTH, KERNELS_ENV, Projection,
                                             Registration, ThermalCalibration, _project_normalised,
                                             _select, compiled_kernels, register_depth, reproject)

def _numba_missing() -> str:
    """Why the compiled passes cannot be tested here ('' when they can); under CI (numba is in the
    dev install) their absence is a failure, not a skip."""
    try:
        import numba  # noqa: F401
    except ImportError as error:
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            raise AssertionError(f'numba must be installed under CI (pip install -e .[dev]): '
                                 f'{error}') from error
        return f'numba is not installed ({error}): the compiled passes are not tested'
    return ''


@pytest.fixture(autouse=True, params=['numpy', 'numba'])
def kernels(request, monkeypatch):
    """Every test of this file with the numpy passes and with the compiled ones (the environment
    variable every Projection built without ``kernels=`` reads)."""
    if request.param == 'numba' and _numba_missing():
        pytest.skip(_numba_missing())
    monkeypatch.setenv(KERNELS_ENV, request.param)
    return request.param


PLUMB_BOB = {'rgb': [0.05, -0.1, 0.001, -0.0005, 0.0], 'thermal': [-0.2, 0.05, 0, 0, 0]}
RATIONAL = {'rgb': [0.3, -0.1, 0.002, 0.001, 0.02, 0.35, -0.08, 0.03],
            'thermal': [-0.25, 0.08, 0, 0, -0.01, 0.1, -0.02, 0.005]}
VGA = dict(rgb=RigCamera((480, 640), hfov_deg=70, mount_height=1.20, pitch_deg=4.0, x=0.0),
           depth=RigCamera((480, 640), hfov_deg=74, mount_height=1.25, pitch_deg=6.0, x=0.05),
           thermal=RigCamera((512, 640), hfov_deg=50, mount_height=1.15, pitch_deg=3.0, x=-0.10))


def _with_distortion(model: CameraModel, D) -> CameraModel:
    return CameraModel(model.width, model.height, model.K, D, model.name)


def _turned(transform: Rigid, rpy_deg, shift=(0, 0, 0)) -> Rigid:
    """``transform`` followed by a small rotation (roll, pitch, yaw in degrees) and a shift."""
    r, p, y = np.deg2rad(rpy_deg)
    Rx = np.array([[1, 0, 0], [0, np.cos(r), -np.sin(r)], [0, np.sin(r), np.cos(r)]])
    Ry = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    Rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    R = Rz @ Ry @ Rx
    return Rigid(R @ transform.R, R @ transform.t + np.asarray(shift, float))


def _render(cameras, seed):
    scene = sample_scene(np.random.default_rng(seed), cameras['rgb'].size, 'day')
    views = render_rig(scene, cameras)
    models = {name: cam.model(name) for name, cam in cameras.items()}
    to_rgb = {name: relative_transform(cam, cameras['rgb']) for name, cam in cameras.items()}
    sensor = get_encoding('uint16_mm', 'depth').quantize(
        depth_reading(views['depth'].depth, np.random.default_rng(seed)))
    exact = np.where(np.isfinite(views['depth'].depth), views['depth'].depth, 0)
    thermal = thermal_image(views['thermal'].temperature, np.random.default_rng(seed))
    return models, to_rgb, dict(sensor=sensor, exact=exact.astype(np.float32)), thermal


def _registration(models, to_rgb, distortion=None, pose=None, plane_distance=np.inf):
    rgb, thermal, depth = models['rgb'], models['thermal'], models['depth']
    if distortion is not None:
        rgb = _with_distortion(rgb, distortion['rgb'])
        thermal = _with_distortion(thermal, distortion['thermal'])
    to_depth = to_rgb['depth'] if pose is None else _turned(to_rgb['depth'], *pose)
    to_thermal = to_rgb['thermal'] if pose is None else _turned(to_rgb['thermal'], *pose)
    return Registration(rgb, ThermalCalibration(thermal, to_thermal, plane_distance),
                        (depth, to_depth))


def _assert_same(registration, depth, thermal, what=''):
    """Depth alone and depth + thermal: new == old (depth and validity exact, thermal 1e-5), and
    the numpy and compiled passes give the same bits."""
    other = Registration(registration.color, registration.thermal, registration.depth,
                         kernels='numpy' if os.environ[KERNELS_ENV] == 'numba' else 'numba') \
        if not _numba_missing() else None
    for kwargs in (dict(depth=depth), dict(depth=depth, thermal=thermal, thermal_fill=0.25)):
        new = registration.apply(**kwargs)
        if other is not None:
            twin = other.apply(**kwargs)
            for key in ('depth', 'thermal', 'thermal_valid'):
                a, b = new[key], twin[key]
                assert (a is None and b is None) or np.array_equal(
                    a.view(np.uint8), b.view(np.uint8)), (what, key)     # the same bits
        old = apply_reference(registration, **kwargs)
        assert new['depth'].dtype == np.float32 and new['depth'].shape == old['depth'].shape
        diff = np.flatnonzero(new['depth'] != old['depth'])
        assert diff.size == 0, (f'{what}: {diff.size} registered depth pixels differ, e.g. '
                                f'{new["depth"].flat[diff[:5]]} vs {old["depth"].flat[diff[:5]]}')
        if 'thermal' in kwargs:
            assert np.array_equal(new['thermal_valid'], old['thermal_valid']), what
            assert np.abs(new['thermal'] - old['thermal']).max() <= 1e-5, what
    return new


@pytest.mark.parametrize('distortion', [None, PLUMB_BOB, RATIONAL], ids=['pinhole', 'plumb_bob',
                                                                         'rational'])
def test_rendered_rigs_equal_the_reference(rig, distortion):
    """The 320x240 rig of the other tests: depth 240x180 (footprints of 1-2 colour pixels a side)
    and the registered depth into the 160x128 thermal camera (footprints that can hold no pixel
    centre: the nearest one is taken)."""
    models, to_rgb = rig['models'], rig['to_rgb']
    clean = rig['views']['depth'].depth
    sensor = get_encoding('uint16_mm', 'depth').quantize(
        depth_reading(clean, np.random.default_rng(rig['seed'])))
    thermal = thermal_image(rig['views']['thermal'].temperature, np.random.default_rng(0))
    reg = _registration(models, to_rgb, distortion)
    for name, depth in (('sensor', sensor), ('exact', np.where(np.isfinite(clean), clean, 0))):
        _assert_same(reg, depth, thermal, f'seed {rig["seed"]}, {name} depth')
    # the float32 pass ran, with footprints of two pixels and, into the thermal camera, empty ones
    assert reg._depth_projection().fast_share > 0.9 and reg._depth_projection().span == 1
    assert reg._thermal_projection().fast_share > 0.5 and reg._thermal_projection().empty


@pytest.mark.parametrize('pose', [None, ((1.5, -2.0, 3.0), (0.05, -0.02, 0.04)),
                                  ((-3.0, 4.0, -1.0), (-0.2, 0.1, -0.05))],
                         ids=['as-rendered', 'turned', 'wide-baseline'])
def test_vga_rig_equals_the_reference(pose):
    """VGA colour and depth, 640x512 thermal, distorted colour and thermal lenses, several poses
    (the rendered depth stays what the depth camera measured; the pose is the calibration)."""
    models, to_rgb, depths, thermal = _render(VGA, seed=11)
    reg = _registration(models, to_rgb, PLUMB_BOB, pose)
    for name, depth in depths.items():
        _assert_same(reg, depth, thermal, f'{pose}, {name} depth')
    # the comparison is of the float32 pass, not of the exact path that backs it up
    assert reg._depth_projection().fast_share > 0.95
    assert reg._thermal_projection().fast_share > 0.8


def test_occlusions_holes_and_near_points_equal_the_reference():
    """The cost benchmark's VGA cameras: uniform random depth (1-5 m, two points compete for most
    colour pixels), holes of every kind (0, NaN, +-inf), and depths nearer than FAST_MIN_DEPTH,
    which the exact path registers."""
    def K(w, h, f):
        return [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]]
    rgb = CameraModel(640, 480, K(640, 480, 525), [0.05, -0.1, 0, 0, 0], 'rgb')
    thermal = CameraModel(640, 512, K(640, 512, 800), [-0.2, 0.05, 0, 0, 0], 'thermal')
    depth = CameraModel(640, 480, K(640, 480, 570), [], 'depth')
    reg = Registration(rgb, ThermalCalibration(thermal, Rigid.from_static_transform(
        [0.05, 0, 0, 0, 0, 0, 1])), (depth, Rigid.from_static_transform([-0.025, 0, 0, 0, 0, 0, 1])))
    rng = np.random.default_rng(5)
    d = rng.uniform(1, 5, (480, 640)).astype(np.float32)
    d[100:140, 200:300] = 0
    d[300:310, :] = np.nan
    d[:, 600:] = np.inf
    d[50:60, 50:70] = -np.inf
    d[400:460, 400:520] = rng.uniform(0.05, 1.5 * FAST_MIN_DEPTH, (60, 120))   # near: exact path
    th = rng.uniform(0, 1, (512, 640)).astype(np.float32)
    new = _assert_same(reg, d, th, 'random depth')
    assert (new['depth'] > 0).mean() > 0.5 and not new['thermal_valid'].all()
    # the module function too, which takes NaN and negative depth as no reading
    d[0:5] = -1.0
    assert np.array_equal(register_depth(d, depth, rgb, reg.depth[1]),
                          reference_register_depth(d, depth, rgb, reg.depth[1]))


def test_a_near_square_in_front_of_a_far_wall():
    """Parallax makes the square and the wall compete for the same colour pixels; upsampled 2x
    (footprints of 2-3 pixels) and downsampled 2x (empty footprints), pinhole and distorted."""
    src = CameraModel(160, 120, [[100, 0, 79.5], [0, 100, 59.5], [0, 0, 1]], [], 'depth')
    depth = np.full((120, 160), 10.0, np.float32)
    depth[40:80, 60:100] = 2.0
    depth[45:50, 70:75] = 0.0
    for w, h, f in ((320, 240, 200), (80, 60, 50)):
        for D in ([], [-0.1, 0.02, 0, 0, 0]):
            dst = CameraModel(w, h, [[f, 0, (w - 1) / 2 + 0.3], [0, f, (h - 1) / 2 - 0.2],
                                     [0, 0, 1]], D, 'rgb')
            for to_rgb in (Rigid(np.eye(3), (-0.3, 0, 0)), _turned(Rigid.identity(), (2, 1, -3),
                                                                   (0.1, 0.2, 0.05))):
                new = register_depth(depth, src, dst, to_rgb)
                old = reference_register_depth(depth, src, dst, to_rgb)
                assert np.array_equal(new, old), (w, D)
                assert set(np.unique(new)) >= {0.0}


def test_thin_prism_distortion_takes_the_exact_path():
    """Distortion of more than 8 coefficients is OpenCV's model: no float32 pass, same result."""
    rgb = CameraModel(160, 120, [[120, 0, 80], [0, 120, 60], [0, 0, 1]],
                      [-0.1, 0.01, 0, 0, 0, 0, 0, 0, 0.001, -0.002, 0.0005, 0.001], 'rgb')
    src = CameraModel(160, 120, [[110, 0, 79.5], [0, 110, 59.5], [0, 0, 1]], [], 'depth')
    depth = np.random.default_rng(0).uniform(1, 4, (120, 160)).astype(np.float32)
    to_rgb = Rigid.from_static_transform([-0.03, 0.01, 0, 0, 0, 0, 1])
    assert np.array_equal(register_depth(depth, src, rgb, to_rgb),
                          reference_register_depth(depth, src, rgb, to_rgb))
    assert Projection(src, rgb, to_rgb).prepare().fast_share == 0


def test_reproject_and_projection_arithmetic_equal_the_reference():
    """reproject (the thermal lookup's arithmetic) and the float64 projection of normalised
    coordinates give the old values bit for bit."""
    import registration_reference as ref
    for D in ([], [-0.28, 0.09, 0.001, -0.0015, -0.012], RATIONAL['rgb'],
              [-0.1, 0.01, 0, 0, 0, 0, 0, 0, 0.001, -0.002, 0.0005, 0.001]):
        cam = CameraModel(640, 480, [[520, 0, 321.3], [0, 518, 238.9], [0, 0, 1]], D, 'cam')
        rng = np.random.default_rng(0)
        pts = np.c_[rng.uniform(-1.5, 1.5, (5000, 2)), rng.uniform(1, 4, 5000)]
        u, v = cam.project(pts)
        u2, v2 = _project_normalised(cam, pts[:, 0] / pts[:, 2], pts[:, 1] / pts[:, 2])
        assert np.array_equal(u, u2, equal_nan=True) and np.array_equal(v, v2, equal_nan=True)
        src = CameraModel(320, 240, [[250, 0, 160.2], [0, 252, 119.7], [0, 0, 1]], [], 'depth')
        depth = rng.uniform(0.5, 6, (240, 320)).astype(np.float32)
        depth[:20] = 0
        to_cam = _turned(Rigid.identity(), (1, -2, 0.5), (0.04, -0.01, 0.02))
        new, old = reproject(depth, src, cam, to_cam), ref.reproject(depth, src, cam, to_cam)
        for a, b in zip(new, old):
            assert np.allclose(a, b, rtol=0, atol=1e-9, equal_nan=True)
            a32, b32 = a.astype(np.float32), b.astype(np.float32)
            assert np.mean((a32 == b32) | (np.isnan(a32) & np.isnan(b32))) > 0.999


def test_calibration_changes_rebuild_the_projection():
    """What depends on the calibration is kept per calibration object: a new depth transform or
    colour camera gives the new registration, never the old one's tables."""
    src = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [], 'depth')
    rgb = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [], 'rgb')
    depth = np.full((60, 80), 2.0, np.float32)
    reg = Registration(rgb, depth=(src, Rigid.from_static_transform([0.1, 0, 0, 0, 0, 0, 1])))
    first = reg.apply(depth=depth)['depth']
    reg.depth = (src, Rigid.from_static_transform([-0.1, 0, 0, 0, 0, 0, 1]))
    second = reg.apply(depth=depth)['depth']
    assert np.array_equal(second, apply_reference(reg, depth=depth)['depth'])
    assert not np.array_equal(first, second)
    reg.color = CameraModel(40, 30, [[30, 0, 19.5], [0, 30, 14.5], [0, 0, 1]], [], 'rgb')
    assert reg.apply(depth=depth)['depth'].shape == (30, 40)


def test_threads_share_a_registration():
    """Each thread has its own z-buffer: concurrent calls give each its own frame's result."""
    src = CameraModel(160, 120, [[100, 0, 79.5], [0, 100, 59.5], [0, 0, 1]], [], 'depth')
    rgb = CameraModel(200, 150, [[120, 0, 99.5], [0, 120, 74.5], [0, 0, 1]],
                      [0.05, -0.1, 0, 0, 0], 'rgb')
    reg = Registration(rgb, depth=(src, Rigid.from_static_transform([-0.05, 0, 0, 0, 0, 0, 1])))
    reg.prepare()
    frames = [np.random.default_rng(i).uniform(1, 5, (120, 160)).astype(np.float32)
              for i in range(4)]
    expected = [apply_reference(reg, depth=f)['depth'] for f in frames]
    results = {}

    def run(i):
        for _ in range(5):
            results[i] = reg.apply(depth=frames[i])['depth']

    threads = [threading.Thread(target=run, args=(i, )) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[i], expected[i]) for i in range(4))


def test_branchless_select():
    rng = np.random.default_rng(0)
    mask = rng.random(1000) < 0.3
    for dtype in (np.float32, np.float64):
        a, b = rng.random(1000).astype(dtype), rng.random(1000).astype(dtype)
        a[:10] = np.nan
        assert np.array_equal(_select(mask, a, b), np.where(mask, a, b), equal_nan=True)


@pytest.mark.timing
def test_registration_is_many_times_faster_than_before():
    """The cost rig of docs/registration.md (VGA, distorted colour and thermal lenses), one
    thread, median of 7 frames each: depth at least 10x and depth + thermal at least 6x faster
    than the old code on the same machine (29x and 14x when measured)."""
    import time

    import cv2
    cv2.setNumThreads(1)

    def K(w, h, f):
        return [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]]
    rgb = CameraModel(640, 480, K(640, 480, 525), [0.05, -0.1, 0, 0, 0], 'rgb')
    thermal = CameraModel(640, 512, K(640, 512, 800), [-0.2, 0.05, 0, 0, 0], 'thermal')
    depth = CameraModel(640, 480, K(640, 480, 570), [], 'depth')
    reg = Registration(rgb, ThermalCalibration(thermal, Rigid.from_static_transform(
        [0.05, 0, 0, 0, 0, 0, 1])), (depth, Rigid.from_static_transform([-0.025, 0, 0, 0, 0, 0, 1])))
    reg.prepare()
    rng = np.random.default_rng(0)
    frame = dict(depth=rng.uniform(1, 5, (480, 640)).astype(np.float32),
                 thermal=rng.uniform(0, 1, (512, 640)).astype(np.float32))

    def median(fn, **kwargs):
        fn(**kwargs)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            fn(**kwargs)
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    def old(**kwargs):
        return apply_reference(reg, **kwargs)
    depth_only = dict(depth=frame['depth'])
    assert median(old, **depth_only) > 10 * median(reg.apply, **depth_only)
    assert median(old, **frame) > 6 * median(reg.apply, **frame)


def test_a_large_target_equals_the_reference():
    """960x540 depth onto a 1920x1080 colour camera (2x upsampling: 3 x 3 footprints): the
    z-buffer's cell indices pass float32's exact integers, so the pass computes them in float64."""
    def K(w, h, f):
        return [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]]
    src = CameraModel(960, 540, K(960, 540, 700), [], 'depth')
    dst = CameraModel(1920, 1080, K(1920, 1080, 1400), [0.04, -0.05, 0, 0, 0], 'rgb')
    to_rgb = Rigid.from_static_transform([-0.05, 0.01, 0.002, 0.01, 0.0, 0.0, 0.99995])
    depth = np.random.default_rng(1).uniform(0.5, 6, (540, 960)).astype(np.float32)
    depth[:50] = 0
    projection = Projection(src, dst, to_rgb).prepare()
    assert projection.cell_weights.dtype == np.float64 and projection.span == 2
    assert np.array_equal(projection.register(depth),
                          reference_register_depth(depth, src, dst, to_rgb))


def test_the_kernels_run_as_chosen(kernels):
    """The environment picks the passes; ``kernels=`` overrides it; the compiled ones are compiled
    by prepare(), not by the first frame."""
    src = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [], 'depth')
    rgb = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [0.05, -0.1, 0, 0, 0],
                      'rgb')
    to_rgb = Rigid.from_static_transform([0.05, 0, 0, 0, 0, 0, 1])
    assert Projection(src, rgb, to_rgb).kernels == kernels
    assert Projection(src, rgb, to_rgb, kernels='numpy').kernels == 'numpy'
    reg = Registration(rgb, depth=(src, to_rgb)).prepare()
    assert reg._depth_projection().kernels == kernels and f'{kernels} passes' in repr(reg)
    if kernels == 'numba':
        assert reg._depth_projection()._kernels.register_pass.signatures   # compiled


def test_a_wrong_kernels_choice_names_the_fix(kernels, monkeypatch):
    monkeypatch.setenv(KERNELS_ENV, 'fortran')
    with pytest.raises(ValueError, match=f'numba, numpy.*fortran.*{KERNELS_ENV}'):
        compiled_kernels()
    rgb = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [], 'rgb')
    with pytest.raises(ValueError, match='fortran'):
        Registration(rgb)
    monkeypatch.setenv(KERNELS_ENV, kernels)
    prism = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]],
                        [-0.1, 0.01, 0, 0, 0, 0, 0, 0, 0.001, -0.002, 0.0005, 0.001], 'rgb')
    if kernels == 'numba':        # asked for by name: refused; preferred by the environment: numpy
        with pytest.raises(ValueError, match='rgb camera has 12 distortion coefficients'):
            Projection(rgb, prism, Rigid.identity(), kernels='numba')
    assert Projection(rgb, prism, Rigid.identity()).kernels == 'numpy'


def test_without_numba_auto_falls_back_and_numba_by_name_says_how_to_install(monkeypatch):
    import sys

    import perception.sensors as sensors
    monkeypatch.setitem(sys.modules, 'numba', None)          # import numba -> ImportError
    monkeypatch.delitem(sys.modules, 'perception.sensors.registration_kernels', raising=False)
    monkeypatch.delattr(sensors, 'registration_kernels', raising=False)
    assert compiled_kernels('auto') is None and compiled_kernels('numpy') is None
    with pytest.raises(ImportError, match=r'pip install numba \(or perception\[fast\]\)'):
        compiled_kernels('numba')
    src = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [], 'depth')
    assert Projection(src, src, Rigid.identity(), kernels='auto').kernels == 'numpy'


def test_importing_the_registration_compiles_nothing():
    """numba (and the kernels module) load when a Projection is built, not at import: the CLI, the
    node and the Predictor import the registration without paying numba's start-up."""
    import subprocess
    import sys
    code = ('import sys, perception.sensors.registration, perception.sensors; '
            'print(sorted(m for m in ("numba", "perception.sensors.registration_kernels") '
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == '[]', out
