#!/usr/bin/env python
"""The picture and figures of docs/registration.md: a synthetic rig (colour camera, a depth camera
8 cm to its right, a narrower 160x128 thermal camera 10 cm to its left, each with its own height and
pitch) rendered from one scene per seed, registered with perception.sensors.registration.

    python tools/registration_figure.py [--out docs/images/registration.png] [--seeds 3 11 27]
    python tools/registration_figure.py --time      # cost of one frame at VGA: compiled, numpy, old

Prints, per seed, what tests/sensors/test_registration.py asserts: the re-projection error of depth
pixels (sensor depth: noisy, in mm, no reading along occlusion edges), and the share of colour pixels
whose registered thermal shows the right surface (labels warped like thermal), by plane / through the
sensor's depth / through exact depth.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')     # one core (set before numpy loads its BLAS)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from perception.datasets.synthetic import PALETTE  # noqa: E402
from perception.datasets.synthetic.layout import sample_scene  # noqa: E402
from perception.datasets.synthetic.rig import RigCamera, relative_transform, render_rig, world_points  # noqa: E402
from perception.datasets.synthetic.sensors import depth_reading, expose, radiance, thermal_image  # noqa: E402
from perception.sensors.encodings import get_encoding  # noqa: E402
from perception.sensors.registration import (Registration, ThermalCalibration,  # noqa: E402
                                             register_depth, reproject)
from perception.visualization.maps import (depth_colormap, depth_range_of,  # noqa: E402
                                           draw_depth_legend, thermal_colormap)
from perception.visualization.panels import ABSENT_GREY, label, save_rgb  # noqa: E402

#: The pre-optimisation registration, kept as the tests' oracle: --time times it next to the
#: current code when this checkout has the tests.
REFERENCE = Path(__file__).resolve().parents[1] / 'tests' / 'sensors' / 'registration_reference.py'


CAMERAS = dict(
    rgb=RigCamera((240, 320), hfov_deg=70, mount_height=1.20, pitch_deg=4.0, x=0.0),
    depth=RigCamera((180, 240), hfov_deg=80, mount_height=1.25, pitch_deg=6.0, x=0.08),
    thermal=RigCamera((128, 160), hfov_deg=50, mount_height=1.15, pitch_deg=3.0, x=-0.10),
)


def measure(seed: int):
    scene = sample_scene(np.random.default_rng(seed), CAMERAS['rgb'].size, 'day')
    views = render_rig(scene, CAMERAS)
    models = {n: c.model(n) for n, c in CAMERAS.items()}
    to_rgb = {n: relative_transform(c, CAMERAS['rgb']) for n, c in CAMERAS.items()}
    depth = get_encoding('uint16_mm', 'depth').quantize(
        depth_reading(views['depth'].depth, np.random.default_rng(0)))
    u, v, _ = reproject(depth, models['depth'], models['rgb'], to_rgb['depth'])
    ut, vt, _ = CAMERAS['rgb'].camera().project(world_points(CAMERAS['depth'],
                                                             views['depth'].depth))
    err = np.hypot(u - (ut - 0.5), v - (vt - 0.5))
    err = err[np.isfinite(err)]
    plane = Registration(models['rgb'], ThermalCalibration(models['thermal'], to_rgb['thermal']))
    full = Registration(models['rgb'], ThermalCalibration(models['thermal'], to_rgb['thermal']),
                        (models['depth'], to_rgb['depth']))
    exact = np.where(np.isfinite(views['depth'].depth), views['depth'].depth, 0)
    labels = views['thermal'].label.astype(np.float32)
    agree = {}
    for name, reg, d in (('plane', plane, None), ('sensor depth', full, depth),
                         ('exact depth', full, exact)):
        w = reg.apply(thermal=labels, depth=d, thermal_fill=np.nan)['thermal']
        ok = np.isfinite(w) & (np.abs(w - np.round(w)) < 1e-4)
        agree[name] = float(np.mean(w[ok] == views['rgb'].label[ok]))
    return dict(scene=scene, views=views, models=models, to_rgb=to_rgb, depth=depth, err=err,
                agree=agree, full=full)


def _fit(img: np.ndarray, size) -> np.ndarray:
    """Centre a smaller image on a grey canvas of the colour camera's size (true pixel scale)."""
    h, w = size
    canvas = np.full((h, w, 3), ABSENT_GREY, np.uint8)
    y, x = (h - img.shape[0]) // 2, (w - img.shape[1]) // 2
    canvas[y:y + img.shape[0], x:x + img.shape[1]] = img
    return canvas


def picture(m: dict, out: Path) -> None:
    """Top: the three cameras as they see the scene; bottom: the colour camera's true labels, and
    thermal and depth registered onto its grid. Depth near = warm, far = cool, linear in metres
    over one range for both depth tiles, printed on each; thermal in inferno, not rescaled."""
    views, models = m['views'], m['models']
    rgb = expose(radiance(views['rgb'], m['scene'].lighting), m['scene'].lighting,
                 np.random.default_rng(0))
    thermal = thermal_image(views['thermal'].temperature, np.random.default_rng(0))
    on_rgb = m['full'].apply(rgb=rgb, thermal=thermal, depth=m['depth'], thermal_fill=0.0)
    hot = thermal_colormap(on_rgb['thermal'], 'inferno')
    blend = np.where(on_rgb['thermal_valid'][..., None],
                     (0.45 * rgb + 0.55 * hot).astype(np.uint8), rgb)
    edges = cv2.Canny(views['rgb'].label, 0, 0) > 0          # colour camera's true object edges
    blend[edges] = (255, 255, 255)
    reg_depth = register_depth(m['depth'], models['depth'], models['rgb'], m['to_rgb']['depth'])
    depth_range = depth_range_of(m['depth'], reg_depth)
    depth_panel = depth_colormap(reg_depth, depth_range, legend=False)
    depth_panel[edges] = (255, 255, 255)
    draw_depth_legend(depth_panel, depth_range)
    size = CAMERAS['rgb'].size
    top = np.hstack([label(rgb, 'colour 320x240 (reference)'),
                     label(_fit(thermal_colormap(thermal, 'inferno'), size),
                           'thermal 160x128, 50 deg, 10 cm left'),
                     label(_fit(depth_colormap(m['depth'], depth_range), size),
                           'depth 240x180, 80 deg, 8 cm right')])
    seg = np.asarray(PALETTE, np.uint8)[views['rgb'].label]
    bottom = np.hstack([label(seg, 'colour camera: true labels'),
                        label(blend, 'thermal registered (white: true edges)'),
                        label(depth_panel, 'depth registered, holes stay black')])
    save_rgb(out, np.vstack([top, bottom]))


def _reference():
    """The old code (tests/sensors/registration_reference.py), or None without the tests."""
    if not REFERENCE.is_file():
        return None
    import importlib.util
    spec = importlib.util.spec_from_file_location('registration_reference', REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    """The CPU's model name (perception.hardware: what every benchmark prints)."""
    from perception.hardware import cpu_info
    return str(cpu_info()['model'])


def timing(repeats: int = 20) -> None:
    """Wall time of ``Registration.apply`` for a 640x480 colour camera with lens distortion, a
    640x512 thermal camera (distorted) and a 640x480 depth camera, on one thread: the compiled
    passes (numba, when installed), the numpy passes and the pre-optimisation code (min / median of
    ``repeats`` runs after a warm-up), frames back to back and with the caches flushed before each
    frame (as in a node, where the network runs between two registrations), on
    uniform random depth (1-5 m: two points compete for most colour pixels, the figures of
    docs/registration.md since the first version) and on a rendered street scene (sensor depth)."""
    import time

    from perception.sensors.cameras import CameraModel, Rigid
    from perception.sensors.registration import compiled_kernels

    cv2.setNumThreads(1)
    threads = ', '.join(f'{v}={os.environ.get(v)}' for v in ('OMP_NUM_THREADS',
                                                            'OPENBLAS_NUM_THREADS'))
    print(f'CPU: {cpu_model()}; one thread ({threads}, cv2.setNumThreads(1)); '
          f'min / median of {repeats} runs after a warm-up, milliseconds')

    def K(w, h, f):
        return [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]]
    rgb = CameraModel(640, 480, K(640, 480, 525), [0.05, -0.1, 0, 0, 0], 'rgb')
    thermal = CameraModel(640, 512, K(640, 512, 800), [-0.2, 0.05, 0, 0, 0], 'thermal')
    depth = CameraModel(640, 480, K(640, 480, 570), [], 'depth')
    kinds = ['numba', 'numpy'] if compiled_kernels('auto') is not None else ['numpy']
    if kinds == ['numpy']:
        print('(numba is not installed: the compiled passes are not timed; pip install numba)')
    regs = {}
    for kind in kinds:
        t0 = time.perf_counter()
        regs[kind] = Registration(rgb, ThermalCalibration(thermal, Rigid.from_static_transform(
            [0.05, 0, 0, 0, 0, 0, 1])), (depth, Rigid.from_static_transform(
                [-0.025, 0, 0, 0, 0, 0, 1])), kernels=kind).prepare()
        print(f'once per calibration (Registration.prepare, {kind} passes): '
              f'{time.perf_counter() - t0:.1f} s')
    rng = np.random.default_rng(0)
    scenes = {'random depth': dict(depth=rng.uniform(1, 5, (480, 640)).astype(np.float32),
                                   thermal=rng.uniform(0, 1, (512, 640)).astype(np.float32))}
    cams = dict(rgb=RigCamera((480, 640), hfov_deg=62, mount_height=1.20, pitch_deg=4.0, x=0.0),
                depth=RigCamera((480, 640), hfov_deg=58, mount_height=1.20, pitch_deg=4.0,
                                x=0.025),
                thermal=RigCamera((512, 640), hfov_deg=44, mount_height=1.20, pitch_deg=4.0,
                                  x=-0.05))
    views = render_rig(sample_scene(np.random.default_rng(3), (480, 640), 'day'), cams)
    scenes['street scene'] = dict(
        depth=get_encoding('uint16_mm', 'depth').quantize(
            depth_reading(views['depth'].depth, np.random.default_rng(0))),
        thermal=thermal_image(views['thermal'].temperature, np.random.default_rng(0)))
    old = _reference()
    runners = {f'{kind} passes': regs[kind].apply for kind in kinds}
    if old is not None:
        runners['old code'] = lambda **kw: old.apply_reference(regs['numpy'], **kw)
    flush = np.empty(128 << 20, np.uint8)      # larger than the caches of the CPUs here

    def run(fn, kwargs, cold):
        fn(**kwargs)                          # warm-up
        times = []
        for _ in range(repeats):
            if cold:
                flush.fill(1)                 # evicts the tables, as a network run between frames
            t0 = time.perf_counter()
            fn(**kwargs)
            times.append(1e3 * (time.perf_counter() - t0))
        return min(times), float(np.median(times))

    for cold in (False, True):
        print('frames back to back:' if not cold else
              'caches flushed before each frame (128 MB written: as after a network run):')
        print(f'{"":44s}' + ''.join(f'{name:>17s}' for name in runners) +
              (f'{"old/" + kinds[0] + " (median)":>24s}' if old is not None else ''))
        for scene, arrays in scenes.items():
            for name, keys in (('thermal through a plane', ('thermal', )), ('depth', ('depth', )),
                               ('depth + thermal through depth', ('thermal', 'depth'))):
                kwargs = {k: arrays[k] for k in keys}
                result = {runner: run(fn, kwargs, cold) for runner, fn in runners.items()
                          if not (cold and runner == 'old code')}
                line = f'{scene + ": " + name:44s}' + ''.join(
                    f'{lo:9.1f} / {med:5.1f}' for lo, med in result.values())
                if 'old code' in result:
                    line += f'{result["old code"][1] / result[kinds[0] + " passes"][1]:22.0f}x'
                print(line)
    if old is None:
        print(f'(old: {REFERENCE} is not in this checkout)')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='docs/images/registration.png')
    parser.add_argument('--seeds', nargs='+', type=int, default=[3, 11, 27])
    parser.add_argument('--time', action='store_true', help='only time one VGA frame')
    args = parser.parse_args(argv)
    if args.time:
        timing()
        return 0
    first = None
    print('seed | re-projection error median / 95th pct (px) | thermal on the right surface: '
          'plane / sensor depth / exact depth')
    for seed in args.seeds:
        m = measure(seed)
        first = first or m
        a = m['agree']
        print(f'{seed} | {np.median(m["err"]):.3f} / {np.percentile(m["err"], 95):.3f} | '
              f'{a["plane"]:.4f} / {a["sensor depth"]:.4f} / {a["exact depth"]:.4f}')
    picture(first, Path(args.out))
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
