"""Each condition changes the sensors it should and only those, and does what it claims to.

The same scene is rendered with the same sensor noise twice -- plainly ('day' hooks) and under the
condition -- so any difference is the condition's doing.
"""
from dataclasses import replace

import numpy as np
import pytest

from conftest import first_with, instance_boxes, render, separation
from perception.contract import SENSORS
from perception.datasets.synthetic import CONDITIONS, render_sample
from perception.datasets.synthetic.classes import SEG_CLASSES, WARM_CLASSES
from perception.datasets.synthetic.render import render_geometry
from perception.datasets.synthetic.scene import SHINY
from perception.datasets.synthetic.sensors import MAX_RANGE, T_MAX, T_MIN

TARGETS = ('gt_sem_seg', 'gt_depth', 'gt_bboxes', 'gt_bboxes_labels')
WARM = {SEG_CLASSES.index(c) for c in WARM_CLASSES}


def has_things(r):
    return len(instance_boxes(r)) > 0


def plain_and_conditioned(name):
    """A scene sampled for ``name`` (time of day, depth cap), rendered plainly and under it."""
    r = first_with(name, has_things)
    return render_sample(r.scene, 'day', r.noise, r.g), r.sample, r


@pytest.mark.parametrize('name', [c for c in CONDITIONS if c != 'day'])
def test_condition_changes_exactly_its_sensors(name):
    cond = CONDITIONS[name]
    base, out, _ = plain_and_conditioned(name)
    for i, sensor in enumerate(SENSORS):
        if sensor in cond.dropped:
            assert out[sensor] is None and not out['modality_mask'][i]
        elif sensor in cond.affects:
            assert out[sensor] is not None and not np.array_equal(out[sensor], base[sensor]), sensor
        else:
            assert np.array_equal(out[sensor], base[sensor]), f'{name} changed {sensor}'
        assert out['modality_mask'][i] == (out[sensor] is not None)
    for key in TARGETS:   # ground truth never depends on the condition
        assert np.array_equal(out[key], base[key]), key
    assert out['condition'] == name


def test_every_condition_is_listed_with_its_needed_sensors():
    assert {'day', 'night', 'glare', 'fog', 'crossover', 'camouflage', 'depth_holes', 'no_rgb',
            'no_thermal', 'no_depth'} <= set(CONDITIONS)
    for c in CONDITIONS.values():
        assert c.affects <= set(SENSORS) and set(c.dropped) <= c.affects and c.needs


def _warm_separations(r, image):
    return [separation(image, r.g, inst, box) for inst, box in instance_boxes(r)
            if inst.label in WARM and (r.g.instance == inst.id).sum() >= 40]


def test_night_hides_warm_bodies_from_rgb_but_not_from_thermal():
    night, day, thermal = [], [], []
    for i in range(8):
        r = render('night', i)
        plain = render_sample(r.scene, 'day', r.noise, r.g)
        assert r.sample['rgb'].mean() < 0.35 * plain['rgb'].mean()
        night += _warm_separations(r, r.sample['rgb'])
        day += _warm_separations(r, plain['rgb'])
        thermal += _warm_separations(r, r.sample['thermal'])
    assert len(night) >= 5
    assert np.median(night) < 0.25 and np.median(night) < 0.5 * np.median(day), (night, day)
    assert np.min(thermal) > 0.9


def test_glare_saturates_a_region_of_the_rgb_image():
    base, out, _ = plain_and_conditioned('glare')
    sat = lambda img: (img.min(axis=2) >= 250).mean()   # noqa: E731
    assert sat(out['rgb']) - sat(base['rgb']) > 0.01


def test_fog_washes_out_distance_in_rgb_and_blinds_far_depth():
    base, out, r = plain_and_conditioned('fog')
    gt = out['gt_depth']
    lum = lambda s: s['rgb'].astype(np.float64).mean(axis=2)   # noqa: E731
    far, near = gt > 20, (gt > 0) & (gt < 5)
    if far.sum() > 100:
        assert lum(out)[far].std() < 0.6 * lum(base)[far].std()
    valid = lambda s, m: (s['depth'][m] > 0).mean()   # noqa: E731
    mid = (gt > 15) & (gt < MAX_RANGE)
    if mid.sum() > 100:
        assert valid(out, mid) < valid(base, mid)
    if near.sum() > 100:   # close up it still measures
        assert valid(out, near) > 0.4


def test_crossover_and_camouflage_erase_thermal_contrast():
    for name in ('crossover', 'camouflage'):
        base, out, r = plain_and_conditioned(name)
        for inst, box in instance_boxes(r):
            if (r.g.instance == inst.id).sum() < 40:
                continue
            inside = r.g.instance == inst.id
            # the thing now shows the temperature of what is behind it
            _, bg_t, _ = r.g.background()
            behind = np.clip((bg_t[inside] - T_MIN) / (T_MAX - T_MIN), 0, 1)
            assert np.abs(out['thermal'][inside].mean() - behind.mean()) < 0.02, name
    base, out, r = plain_and_conditioned('camouflage')
    hidden = [separation(out['rgb'], r.g, inst, box) for inst, box in instance_boxes(r)]
    seen = [separation(base['rgb'], r.g, inst, box) for inst, box in instance_boxes(r)]
    assert np.nanmedian(hidden) < 0.5 * np.nanmedian(seen)
    assert np.array_equal(out['depth'], base['depth'])   # depth alone still sees them


def test_camouflaged_things_stay_within_depth_range():
    for i in range(3):
        r = render('camouflage', i)
        for inst in r.g.instances:
            assert inst.depth_range[0] < MAX_RANGE


def test_depth_holes_only_remove_returns_mostly_on_dark_and_shiny_surfaces():
    base, out, r = plain_and_conditioned('depth_holes')
    d, d0 = out['depth'], base['depth']
    assert np.array_equal(d[d > 0], d0[d > 0])          # no value changes, only removals
    a = r.g.albedo
    dark = 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2] < 0.08
    risky = (dark | ((r.g.flags & SHINY) > 0)) & (d0 > 0)
    if risky.sum() > 50:
        assert (d[risky] == 0).mean() > 0.5
    removed = (d == 0) & (d0 > 0)
    assert removed.sum() > 0


def _with_parts(scene, **changes):
    """The scene with every part of every billboard changed by ``changes(part) -> value``."""
    def part(p):
        return replace(p, **{k: fn(p) for k, fn in changes.items()})
    return replace(scene, billboards=[replace(b, parts=[part(p) for p in b.parts])
                                      for b in scene.billboards])


def test_thermal_follows_temperature_not_colour():
    r = render('day', 1)
    recoloured = _with_parts(r.scene, albedo=lambda p: (0.9, 0.1, 0.5))
    out = render_sample(recoloured, 'day', r.noise, render_geometry(recoloured))
    assert not np.array_equal(out['rgb'], r.sample['rgb'])
    assert np.array_equal(out['thermal'], r.sample['thermal'])
    assert np.array_equal(out['depth'], r.sample['depth'])
    heated = _with_parts(r.scene, temperature=lambda p: p.temperature + 5)
    out = render_sample(heated, 'day', r.noise, render_geometry(heated))
    assert np.array_equal(out['rgb'], r.sample['rgb'])
    assert not np.array_equal(out['thermal'], r.sample['thermal'])
