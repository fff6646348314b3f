"""Registration with synthetic cameras whose true correspondence is known (tests/sensors/conftest.py):
re-projection error, z-buffering, holes, thermal through a plane and through depth."""
import numpy as np
import pytest

from perception.datasets.synthetic.rig import world_points
from perception.datasets.synthetic.sensors import depth_reading
from perception.sensors.cameras import CameraModel, Rigid
from perception.sensors.encodings import get_encoding
from perception.sensors.registration import (Registration, ThermalCalibration, register_depth,
                                             reproject)


def _sensor_depth(rig, seed=0):
    """What the depth camera reports: noisy, invalid at edges and out of range, stored in mm."""
    clean = rig['views']['depth'].depth
    reading = depth_reading(clean, np.random.default_rng(seed))
    return get_encoding('uint16_mm', 'depth').quantize(reading)


def test_depth_reprojection_error(rig):
    """Each depth pixel lands where the renderer's colour camera sees the same world point."""
    depth = _sensor_depth(rig)
    u, v, _ = reproject(depth, rig['models']['depth'], rig['models']['rgb'], rig['to_rgb']['depth'])
    truth = world_points(rig['cameras']['depth'], rig['views']['depth'].depth)
    ut, vt, _ = rig['cameras']['rgb'].camera().project(truth)   # renderer: pixel centres at j + 0.5
    err = np.hypot(u - (ut - 0.5), v - (vt - 0.5))
    err = err[np.isfinite(err)]
    assert err.size > 0.5 * depth.size * np.mean(depth > 0)
    assert np.median(err) <= 0.5, np.median(err)
    assert np.percentile(err, 95) <= 1.0


def test_registered_depth_matches_the_colour_view(rig):
    """Registered depth equals the colour camera's own depth where both exist. With exact depth,
    the few pixels where a farther surface shows through lie on depth edges (footprints are
    discrete): the z-buffer never lets a far surface win over a near one inside a surface."""
    truth = rig['views']['rgb'].depth
    args = rig['models']['depth'], rig['models']['rgb'], rig['to_rgb']['depth']
    reg = register_depth(_sensor_depth(rig), *args)
    assert reg.shape == truth.shape and reg.dtype == np.float32
    both = (reg > 0) & np.isfinite(truth)
    assert both.mean() > 0.5
    assert np.median(np.abs(reg[both] - truth[both]) / truth[both]) < 0.01
    import cv2
    exact = rig['views']['depth'].depth
    reg = register_depth(np.where(np.isfinite(exact), exact, 0), *args)
    both = (reg > 0) & np.isfinite(truth)
    rel = (reg[both] - truth[both]) / truth[both]
    finite = np.where(np.isfinite(truth), truth, 1e3).astype(np.float32)
    kernel = np.ones((5, 5), np.uint8)
    edge = cv2.dilate(finite, kernel) > 1.05 * cv2.erode(finite, kernel)
    far = np.zeros_like(both)
    far[both] = rel > 0.05
    assert far.mean() < 0.01 and not np.any(far & ~edge)


def test_near_surfaces_win():
    """A near square in front of a far wall, seen from 0.3 m aside: where both project onto the same
    colour pixels, the near one is kept."""
    cam = CameraModel(160, 120, [[100, 0, 79.5], [0, 100, 59.5], [0, 0, 1]], [], 'depth')
    depth = np.full((120, 160), 10.0, np.float32)
    depth[40:80, 60:100] = 2.0
    to_rgb = Rigid(np.eye(3), (-0.3, 0, 0))
    u, v, _ = reproject(depth, cam, cam, to_rgb)
    hit_near = np.zeros((120, 160), bool)
    hit_far = np.zeros((120, 160), bool)
    for mask, hit in ((depth == 2.0, hit_near), (depth == 10.0, hit_far)):
        iu = np.floor(u[mask] + 0.5).astype(int)
        iv = np.floor(v[mask] + 0.5).astype(int)
        ok = (iu >= 0) & (iu < 160) & (iv >= 0) & (iv < 120)
        hit[iv[ok], iu[ok]] = True
    contested = hit_near & hit_far
    assert contested.sum() > 100                  # the parallax really makes them compete
    reg = register_depth(depth, cam, cam, to_rgb)
    assert np.all(reg[contested] == 2.0)
    assert np.all(reg[hit_near] == 2.0)
    assert np.all(np.isin(reg[hit_far & ~hit_near], (0.0, 10.0)))


def test_holes_stay_invalid_and_nothing_is_interpolated():
    """Upsampling to a finer colour grid: footprints tile the valid area, holes (0, NaN) stay 0 and
    every registered value is a value the depth camera measured."""
    src = CameraModel(80, 60, [[60, 0, 39.5], [0, 60, 29.5], [0, 0, 1]], [], 'depth')
    dst = CameraModel(320, 240, [[240, 0, 159.5], [0, 240, 119.5], [0, 0, 1]], [], 'rgb')
    rng = np.random.default_rng(0)
    depth = rng.uniform(3.0, 3.2, (60, 80)).astype(np.float32)
    depth[20:40, 30:50] = 0
    depth[5:10, 5:10] = np.nan
    reg = register_depth(depth, src, dst, Rigid(np.eye(3), (0.01, 0, 0)))
    assert np.all(np.isin(reg[reg > 0], depth[depth > 0]))       # measured values only
    # The hole's image on the colour grid (x4, shifted by f * b / z = 0.8 px), shrunk by 2 px.
    assert np.all(reg[4 * 20 + 2:4 * 40 - 2, 4 * 30 + 3:4 * 50 - 1] == 0)
    assert np.all(reg[4 * 5 + 2:4 * 10 - 2, 4 * 5 + 3:4 * 10 - 1] == 0)
    inner = reg[4 * 12:4 * 18, 4 * 12:4 * 28]                    # a valid area: no gaps
    assert np.all(inner > 0)


def test_distortion_round_trip():
    cam = CameraModel(320, 240, [[250, 0, 160.2], [0, 252, 119.7], [0, 0, 1]],
                      [-0.28, 0.09, 0.001, -0.0015, -0.012], 'distorted')
    depth = np.full((240, 320), 4.0, np.float32)
    u, v, z = reproject(depth, cam, cam, Rigid.identity())
    j, i = np.meshgrid(np.arange(320), np.arange(240))
    assert np.abs(u - j).max() < 1e-6 and np.abs(v - i).max() < 1e-6 and np.all(z == 4.0)
    reg = register_depth(depth, cam, cam, Rigid.identity())
    assert np.array_equal(reg, depth)


def test_undistortion_works_with_the_opencv_4_api_of_the_robot_venvs(monkeypatch):
    """OpenCV 4.x (the robot's opencv-python-headless 4.11) has no ``criteria`` in undistortPoints
    and takes them in undistortPointsIter; 5.x the reverse. A distorted camera unprojects the same
    under either API (the 4.x one emulated here with 5.x's own function)."""
    import cv2

    import perception.sensors.cameras as cameras
    cam = CameraModel(320, 240, [[250, 0, 160.2], [0, 252, 119.7], [0, 0, 1]],
                      [-0.28, 0.09, 0.001, -0.0015, -0.012], 'distorted')
    u, v = np.meshgrid(np.linspace(0, 319, 17), np.linspace(0, 239, 13))
    expected = cam.unproject(u, v)
    real = cv2.undistortPoints
    calls = []

    def undistort_points_4x(src, K, D, R=None, P=None, **kwargs):
        if kwargs:
            raise cv2.error("'criteria' is an invalid keyword argument for undistortPoints()")
        return real(src, K, D, R=R, P=P)

    def undistort_points_iter(src, K, D, R, P, criteria):
        calls.append(criteria)
        return real(src, K, D, R=R, P=P, criteria=criteria)
    monkeypatch.setattr(cameras.cv2, 'undistortPoints', undistort_points_4x, raising=False)
    monkeypatch.setattr(cameras.cv2, 'undistortPointsIter', undistort_points_iter, raising=False)
    x, y = cam.unproject(u, v)
    assert calls == [cameras._UNDISTORT]
    assert np.array_equal(x, expected[0]) and np.array_equal(y, expected[1])


@pytest.mark.parametrize('D', [[-0.28, 0.09, 0.001, -0.0015, -0.012],
                               [0.3, -0.1, 0.002, 0.001, 0.02, 0.35, -0.08, 0.03],
                               [-0.1, 0.01, 0, 0, 0, 0, 0, 0, 0.001, -0.002, 0.0005, 0.001]])
def test_projection_agrees_with_opencv(D):
    """numpy distortion (up to 8 coefficients) and OpenCV's projectPoints give the same pixels."""
    import cv2
    cam = CameraModel(640, 480, [[520, 0, 321.3], [0, 518, 238.9], [0, 0, 1]], D, 'cam')
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(-1.5, 1.5, (2000, 2)), rng.uniform(1, 4, 2000)]
    ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), cam.K, cam.D)
    u, v = cam.project(pts)
    seen = np.isfinite(u)             # rays far outside the view are cut (next test)
    r2 = (pts[:, 0] ** 2 + pts[:, 1] ** 2) / pts[:, 2] ** 2
    assert seen[r2 < cam.max_ray_r2].all() and 0.2 < seen.mean() < 1
    assert np.abs(np.c_[u, v][seen] - ref.reshape(-1, 2)[seen]).max() < 1e-6


def _labels_on_rgb(rig, registration, depth=None):
    """The thermal camera's label image warped like thermal (labels as floats; blends -> NaN)."""
    labels = rig['views']['thermal'].label.astype(np.float32)
    out = registration.apply(thermal=labels, depth=depth, thermal_fill=np.nan)
    warped = out['thermal']
    exact = np.isfinite(warped) & (np.abs(warped - np.round(warped)) < 1e-4)
    return warped, exact, out


def test_thermal_by_plane_and_by_depth(rig):
    """Through the depth, thermal pixels land on the colour pixels of the same surface; a distant
    plane is good away from parallax; colour pixels outside the thermal view get no value."""
    models, to_rgb = rig['models'], rig['to_rgb']
    truth = rig['views']['rgb'].label
    plane = Registration(models['rgb'], ThermalCalibration(models['thermal'], to_rgb['thermal']))
    both = Registration(models['rgb'], ThermalCalibration(models['thermal'], to_rgb['thermal']),
                        (models['depth'], to_rgb['depth']))
    exact = rig['views']['depth'].depth
    agree = {}
    for name, reg, depth in (('plane', plane, None), ('sensor depth', both, _sensor_depth(rig)),
                             ('exact depth', both, np.where(np.isfinite(exact), exact, 0))):
        warped, ok, out = _labels_on_rgb(rig, reg, depth)
        agree[name] = np.mean(warped[ok] == truth[ok])
        if name == 'plane':
            out_p = out
    # The sensor's depth has no reading in a band along occlusion edges (like stereo): there the
    # warp falls back to the plane, and near objects' edges keep their parallax error.
    assert agree['exact depth'] >= 0.995, agree
    assert agree['sensor depth'] >= max(agree['plane'], 0.97), agree
    # Narrower field of view: the colour image's borders have no thermal value.
    valid = out_p['thermal_valid']
    assert valid[120, 160] and not valid[:, 0].any() and not valid[:, -1].any()


def test_thermal_fill_and_sizes(rig):
    models, to_rgb = rig['models'], rig['to_rgb']
    reg = Registration(models['rgb'], ThermalCalibration(models['thermal'], to_rgb['thermal']))
    thermal = np.full((128, 160), 0.9, np.float32)
    out = reg.apply(rgb=np.zeros((240, 320, 3), np.uint8), thermal=thermal, thermal_fill=0.5)
    assert out['thermal'].shape == (240, 320)
    # both values present: the thermal image where it reaches the colour grid, the fill where not
    assert set(np.unique(out['thermal'])) == {np.float32(0.5), np.float32(0.9)}
    valid = out['thermal_valid']
    assert valid.any() and not valid.all()
    assert (out['thermal'][valid] == np.float32(0.9)).all()
    assert (out['thermal'][~valid] == np.float32(0.5)).all()
    from perception.contract import SensorError
    with pytest.raises(SensorError, match='160x128 .WxH. as calibrated'):
        reg.apply(thermal=np.zeros((120, 160), np.float32))
    with pytest.raises(SensorError, match='320x240'):
        reg.apply(rgb=np.zeros((480, 640, 3), np.uint8))
    with pytest.raises(SensorError, match='no depth calibration'):
        reg.apply(depth=np.ones((180, 240), np.float32))


def test_explicit_homography_without_intrinsics():
    """A pixel homography (e.g. from point correspondences) warps thermal alone."""
    thermal = np.zeros((100, 120), np.float32)
    thermal[40:60, 50:70] = 1.0
    hom = np.array([[2.0, 0, 10], [0, 2.0, 5], [0, 0, 1]])        # scale 2, shift (10, 5)
    rgb = CameraModel(260, 210, [[200, 0, 130], [0, 200, 105], [0, 0, 1]], [], 'rgb')
    out = Registration(rgb, ThermalCalibration(homography=hom, size=(100, 120))).apply(
        thermal=thermal, thermal_fill=0.25)
    warped = out['thermal']
    assert warped[5 + 2 * 50, 10 + 2 * 60] == 1.0 and warped[5 + 2 * 20, 10 + 2 * 20] == 0.0
    assert warped[209, 259] == 0.25 and not out['thermal_valid'][209, 259]


def test_points_outside_a_distorted_view_do_not_fold_back():
    import cv2
    """r (1 - 0.35 r^2) turns round at r = 0.98: without a guard, a ray at r = 1.6 (far outside this
    camera's view, whose corners are at r = 0.7) would project back inside the image."""
    cam = CameraModel(640, 480, [[700, 0, 319.5], [0, 700, 239.5], [0, 0, 1]],
                      [-0.35, 0, 0, 0, 0], 'barrel')
    folded = 319.5 + 700 * 1.6 * (1 - 0.35 * 1.6 ** 2)           # where OpenCV puts it: inside
    ref, _ = cv2.projectPoints(np.array([[1.6, 0.0, 1.0]]), np.zeros(3), np.zeros(3), cam.K, cam.D)
    assert ref[0, 0, 0] == pytest.approx(folded) and 0 < folded < 640
    inside_u, _ = cam.project(np.array([[0.5, 0.0, 1.0]]))
    assert 319.5 < inside_u[0] < 639
    u, v = cam.project(np.array([[1.6, 0.0, 1.0]]))
    assert np.isnan(u[0]) and np.isnan(v[0])
    # Registering from a wide depth camera: nothing from outside the view lands in the image.
    wide = CameraModel(320, 240, [[80, 0, 159.5], [0, 80, 119.5], [0, 0, 1]], [], 'wide')
    depth = np.full((240, 320), 2.0, np.float32)
    far = np.hypot(*wide.pixel_rays) > 1.2                       # rays that fold back
    depth[far] = 7.0                                              # mark them
    reg = register_depth(depth, wide, cam, Rigid.identity())
    assert reg.max() == 2.0 and set(np.unique(reg)) == {0.0, 2.0}
