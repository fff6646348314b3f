"""Every target agrees with the geometry and with the other targets, under every condition."""
import numpy as np

from conftest import instance_boxes, render, ring, separation
from perception.datasets.synthetic.classes import (DET_CLASSES, GROUND, SEG_CLASSES, SKY, THING_IDS,
                                                   WARM_CLASSES)
from perception.datasets.synthetic.generator import boxes_from_instances
from perception.datasets.synthetic.sensors import MAX_RANGE, NOISE_BASE, NOISE_QUAD

WARM_LABELS = {SEG_CLASSES.index(c) for c in WARM_CLASSES}


def test_boxes_are_tight_around_visible_pixels_of_their_class(scenes_all_conditions):
    n_boxes = 0
    for r in scenes_all_conditions:
        s = r.sample
        assert s['gt_bboxes'].shape == (len(s['gt_bboxes_labels']), 4)
        for box, label in zip(s['gt_bboxes'], s['gt_bboxes_labels']):
            x0, y0, x1, y1 = (int(v) for v in box)
            assert box.tolist() == [x0, y0, x1, y1] and 0 <= x0 < x1 and 0 <= y0 < y1
            cls = SEG_CLASSES.index(DET_CLASSES[label])
            inside = s['gt_sem_seg'][y0:y1, x0:x1] == cls
            assert inside.sum() >= 10
            # tight: the class touches all four edges of its box
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
            n_boxes += 1
        b, labels = boxes_from_instances(r.g)
        assert np.array_equal(b, s['gt_bboxes']) and np.array_equal(labels, s['gt_bboxes_labels'])
    assert n_boxes > 50


def test_thing_depth_lies_in_the_objects_depth_range(scenes_all_conditions):
    checked = 0
    for r in scenes_all_conditions:
        gt = r.sample['gt_depth']
        for inst in r.g.instances:
            m = r.g.instance == inst.id
            if not m.any():
                continue
            lo, hi = inst.depth_range
            d = gt[m]
            assert d.min() >= lo - 1e-3 and d.max() <= hi + 1e-3, (inst.kind, lo, hi)
            assert (r.sample['gt_sem_seg'][m] == inst.label).all()   # label map agrees with ids
            checked += 1
    assert checked > 50


def test_sky_is_the_only_pixel_without_ground_truth_depth(scenes_all_conditions):
    for r in scenes_all_conditions:
        sky = r.sample['gt_sem_seg'] == SKY
        gt = r.sample['gt_depth']
        assert np.array_equal(gt == 0, sky)
        assert gt.max() <= 65.535


def test_ground_depth_follows_the_ground_plane(scenes_all_conditions):
    for r in scenes_all_conditions:
        cam = r.scene.camera
        ground = r.sample['gt_sem_seg'] == GROUND
        rows = np.nonzero(ground)[0]
        expected = cam.ground_depth_rows[rows]
        assert np.abs(r.sample['gt_depth'][ground] - expected).max() <= 6e-4
        # and it grows towards the horizon: farther up the image, farther away
        assert np.all(np.diff(cam.ground_depth_rows[int(np.ceil(cam.horizon_row)) + 1:]) < 0)


def test_things_stand_on_the_ground_at_their_distance(scenes_all_conditions):
    """Where a thing's lowest pixel sits on visible ground, its depth continues the ground's."""
    checked = 0
    for r in scenes_all_conditions:
        cam, g = r.scene.camera, r.g
        h = g.label.shape[0]
        for inst, box in instance_boxes(r):
            m = g.instance == inst.id
            vb = box[3] - 1
            cols = np.flatnonzero(m[vb])
            if vb + 1 >= h or not (g.label[vb + 1, cols] == GROUND).all():
                continue   # truncated by the image border or standing behind something
            step = abs(cam.ground_depth_rows[vb] - cam.ground_depth_rows[vb + 1])
            lo, hi = inst.depth_range
            thickness = hi - lo
            d = r.sample['gt_depth'][vb, cols]
            assert np.abs(d - cam.ground_depth_rows[vb]).min() <= thickness + 1.5 * step, inst.kind
            checked += 1
    assert checked > 20


def test_warm_bodies_are_warmer_than_their_surroundings(scenes_all_conditions):
    checked = 0
    for r in scenes_all_conditions:
        s = r.sample
        if s['thermal'] is None or s['condition'] in ('crossover', 'camouflage'):
            continue
        for inst, box in instance_boxes(r):
            if inst.label not in WARM_LABELS or (r.g.instance == inst.id).sum() < 30:
                continue
            inside = s['thermal'][r.g.instance == inst.id].mean()
            around = ring(box, r.g.label.shape) & ~np.isin(r.g.label, THING_IDS)
            assert inside > s['thermal'][around].mean() + 0.02, (inst.kind, s['condition'])
            assert separation(s['thermal'], r.g, inst, box) > 0.8
            checked += 1
    assert checked >= 5


def test_depth_sensor_reads_the_geometry_where_valid():
    """Valid readings are the clean depth plus unbiased noise of the documented size."""
    r = render('day', 0)
    d, gt = r.sample['depth'], r.sample['gt_depth']
    valid = d > 0
    assert valid.mean() > 0.2 and np.all(gt[valid] > 0)
    sigma = NOISE_BASE + NOISE_QUAD * gt[valid].astype(np.float64) ** 2
    e = (d[valid] - gt[valid]) / sigma
    assert abs(e.mean()) < 0.1 and 0.85 < e.std() < 1.15 and np.abs(e).max() < 6
    assert gt[valid].max() <= MAX_RANGE


def test_occlusion_is_consistent_across_outputs():
    """Removing one thing reveals only what was behind it: labels, depth and thermal change only on
    its pixels (thermal: plus the optics blur), and the revealed surfaces are farther away."""
    import cv2
    from dataclasses import replace

    from perception.datasets.synthetic import render_sample
    from perception.datasets.synthetic.render import render_geometry

    r = render('day', 2)
    inst, _ = max(instance_boxes(r), key=lambda ib: (r.g.instance == ib[0].id).sum())
    thing = r.scene.billboards[inst.billboard]
    assert thing.is_thing and thing.label == inst.label
    scene = replace(r.scene, billboards=[b for b in r.scene.billboards if b is not thing])
    g = render_geometry(scene)
    out = render_sample(scene, 'day', r.noise, g)
    was = r.g.instance == inst.id
    assert was.sum() >= 30
    assert np.all(g.depth[was] > r.g.depth[was])
    assert np.array_equal(g.depth[~was], r.g.depth[~was])
    assert np.array_equal(g.label[~was], r.g.label[~was])
    near = cv2.dilate(was.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.array_equal(out['thermal'][~near], r.sample['thermal'][~near])
    assert not np.array_equal(out['thermal'][was], r.sample['thermal'][was])
