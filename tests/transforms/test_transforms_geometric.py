"""Geometric transforms move every sensor and target together (boxes, labels, masks, depth)."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transform_samples import copy_sample, instance_boxes, make_sample, source_index

from perception.contract import SensorError
from perception.transforms import Pad, RandomCrop, RandomFlip, RandomResize, Resize

FAST = settings(max_examples=40, deadline=None, derandomize=True)


def _op_strategy():
    size = st.integers(16, 80)
    return st.one_of(
        st.builds(lambda w, h, k: Resize(scale=(w, h), keep_ratio=k), size, size, st.booleans()),
        st.builds(lambda w, h: RandomResize(scale=(w, h), ratio_range=(0.6, 1.4)), size, size),
        st.builds(lambda w, h: RandomCrop(crop_size=(w, h)), st.integers(12, 64),
                  st.integers(12, 64)),
        st.just(RandomFlip(prob=0.5)),
    )


def _run(ops, sample, seed):
    """Apply ``ops`` one by one; return the result and the per-axis tolerance of mask edges.

    A nearest resize moves a label edge by < 1 output pixel against the exactly scaled box; an
    earlier error is scaled by the later resizes; crops and flips add none.
    """
    np.random.seed(seed)
    tol = np.zeros(2)
    for op in ops:
        h, w = sample['img_shape']
        sample = op(sample)
        new_h, new_w = sample['img_shape']
        if (new_h, new_w) != (h, w) and not isinstance(op, RandomCrop):
            tol = tol * np.array([new_w / w, new_h / h]) + 1.0
    return sample, tol


@FAST
@given(ops=st.lists(_op_strategy(), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       hw=st.tuples(st.integers(24, 64), st.integers(24, 64)))
def test_boxes_stay_on_their_mask_pixels(ops, seed, hw):
    sample = make_sample(*hw, seed=seed)
    labels_in = sample['gt_bboxes_labels'].copy()
    out, (tol_x, tol_y) = _run(ops, copy_sample(sample), seed)
    boxes, labels = out['gt_bboxes'], out['gt_bboxes_labels']
    assert boxes.shape == (len(labels), 4) and boxes.dtype == np.float32
    assert set(labels.tolist()) <= set(labels_in.tolist()) and len(set(labels.tolist())) == len(labels)
    h, w = out['img_shape']
    assert (boxes[:, [0, 2]] >= 0).all() and (boxes[:, [0, 2]] <= w + 1e-3).all()
    assert (boxes[:, [1, 3]] >= 0).all() and (boxes[:, [1, 3]] <= h + 1e-3).all()
    tight = instance_boxes(out['gt_sem_seg'], labels)
    tol = np.array([tol_x, tol_y, tol_x, tol_y]) + 1e-3
    for box, mask_box, label in zip(boxes, tight, labels):
        if np.isnan(mask_box).any():  # instance pixels vanished in a downscale: box must be tiny
            assert min(box[2] - box[0], box[3] - box[1]) <= max(tol_x, tol_y) + 1, (label, box)
        else:
            assert (np.abs(box - mask_box) <= tol).all(), (label, box, mask_box, tol)
    for label in set(labels_in.tolist()) - set(labels.tolist()):  # dropped: no visible object left
        mask_box = instance_boxes(out['gt_sem_seg'], np.array([label]))[0]
        if not np.isnan(mask_box).any():
            assert min(mask_box[2] - mask_box[0], mask_box[3] - mask_box[1]) <= max(tol_x, tol_y) + 1


@FAST
@given(ops=st.lists(_op_strategy(), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_nearest_depth_is_never_invented_or_lost(ops, seed):
    sample = make_sample(40, 56, seed=seed)
    src_depth = sample['depth'].ravel()
    out, _ = _run(ops, copy_sample(sample), seed)
    idx = source_index(out['gt_depth'])  # gt_depth is valid everywhere: the source pixel index
    assert (idx >= 0).all() and (idx < src_depth.size).all()
    # depth went through the same nearest resampling: it is the source depth of that same pixel,
    # 0 exactly where the source was a hole -- no value invented, none lost.
    np.testing.assert_array_equal(out['depth'], src_depth[idx])
    assert out['depth'].dtype == np.float32 and out['gt_sem_seg'].shape == out['depth'].shape


@pytest.mark.parametrize('scale', [(30, 21), (100, 70), (56, 40)])
@pytest.mark.parametrize('interpolation', ['bilinear', 'area'])
def test_valid_depth_resize_stays_within_valid_neighbours(scale, interpolation):
    h, w = 40, 56
    yy, xx = np.mgrid[0:h, 0:w]
    depth = (2.0 + 0.05 * xx + 0.1 * yy + 3.0 * (xx > 30)).astype(np.float32)  # ramp + an edge
    depth[(yy - 20)**2 + (xx - 15)**2 < 36] = 0  # a hole
    depth[:, 40:43] = 0  # a vertical hole band
    sample = dict(depth=depth.copy(), img_shape=(h, w), modality_mask=np.array([0, 0, 1], bool))
    out = Resize(scale=scale, interpolation=interpolation, depth_interpolation='valid')(sample)
    res = out['depth']
    oh, ow = res.shape
    sx, sy = w / ow, h / oh
    valid_out = np.argwhere(res > 0)
    assert len(valid_out) > 0.5 * (depth > 0).mean() * oh * ow  # most valid area survives
    for y, x in valid_out:
        cx, cy = (x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5  # OpenCV's source coordinate
        x0, x1 = int(np.floor(cx - sx / 2)) - 1, int(np.ceil(cx + sx / 2)) + 2
        y0, y1 = int(np.floor(cy - sy / 2)) - 1, int(np.ceil(cy + sy / 2)) + 2
        window = depth[max(y0, 0):y1, max(x0, 0):x1]
        near = window[window > 0]
        assert near.size and near.min() - 1e-4 <= res[y, x] <= near.max() + 1e-4, (y, x)
    # Completeness: a pixel to which a hole contributes any weight is invalid. OpenCV itself is
    # the oracle of the weights: resampling the hole indicator gives each pixel's hole weight.
    flag = {'bilinear': cv2.INTER_LINEAR, 'area': cv2.INTER_AREA}[interpolation]
    hole_weight = cv2.resize((depth == 0).astype(np.float32), (ow, oh), interpolation=flag)
    assert (res[hole_weight > 1e-3] == 0).all()


def test_nearest_is_default_and_valid_mode_differs_only_in_depth():
    sample = make_sample(40, 56, seed=3)
    a = Resize(scale=(37, 29))(copy_sample(sample))
    b = Resize(scale=(37, 29), depth_interpolation='valid')(copy_sample(sample))
    assert set(np.unique(a['depth'])) <= set(np.unique(sample['depth']))
    for key in ('rgb', 'thermal', 'gt_sem_seg', 'gt_bboxes'):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a['depth'], b['depth'])


def test_resize_metainfo_and_keep_ratio():
    sample = make_sample(40, 60, seed=1)
    out = Resize(scale=(120, 30), keep_ratio=True)(copy_sample(sample))
    assert out['img_shape'] == (30, 45) and out['rgb'].shape == (30, 45, 3)
    assert out['scale_factor'] == pytest.approx((0.75, 0.75))
    out = Resize(scale=(30, 20))(out)  # chained: scale_factor is relative to ori_shape
    assert out['scale_factor'] == pytest.approx((0.5, 0.5)) and out['ori_shape'] == (40, 60)
    out = Resize(scale_factor=2.0)(copy_sample(sample))
    assert out['img_shape'] == (80, 120) and out['thermal'].shape == (80, 120)


def test_random_resize_ratio_range_and_seed():
    t = RandomResize(scale=(60, 40), ratio_range=(0.5, 2.0))
    shapes = []
    for seed in range(20):
        np.random.seed(seed)
        shapes.append(t(make_sample(40, 60, seed=0))['img_shape'])
    assert all(20 <= h <= 80 and 30 <= w <= 120 for h, w in shapes) and len(set(shapes)) > 5
    np.random.seed(7)
    again = t(make_sample(40, 60, seed=0))['img_shape']
    assert again == shapes[7]


def test_flip_mirrors_boxes_and_pixels():
    sample = make_sample(32, 48, seed=2)
    out = RandomFlip(prob=1.0)(copy_sample(sample))
    np.testing.assert_array_equal(out['rgb'], sample['rgb'][:, ::-1])
    np.testing.assert_array_equal(out['depth'], sample['depth'][:, ::-1])
    expect = sample['gt_bboxes'].copy()
    expect[:, [0, 2]] = 48 - sample['gt_bboxes'][:, [2, 0]]
    np.testing.assert_allclose(out['gt_bboxes'], expect, atol=1e-3)
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    twice = RandomFlip(prob=1.0)(out)
    assert twice['flip'] is False and twice['flip_direction'] is None


def test_crop_drops_outside_boxes_with_labels_and_keeps_smaller_frames():
    sample = make_sample(40, 60, grid=(1, 3), seed=4)
    np.random.seed(0)
    out = RandomCrop(crop_size=(20, 40))(copy_sample(sample))
    x1, y1, x2, y2 = out['crop_bbox']
    assert (x2 - x1, y2 - y1) == (20, 40) and out['img_shape'] == (40, 20)
    np.testing.assert_array_equal(out['gt_sem_seg'], sample['gt_sem_seg'][y1:y2, x1:x2])
    visible = set(np.unique(out['gt_sem_seg']).tolist()) - {0, 255}
    assert set(out['gt_bboxes_labels'].tolist()) == visible
    small = RandomCrop(crop_size=(100, 100))(copy_sample(sample))
    assert small['img_shape'] == (40, 60)


def test_crop_cat_max_ratio_and_box_aware_retry():
    seg = np.zeros((40, 80), np.uint8)
    seg[:, 60:] = 1  # class 1 only in the right quarter
    sample = dict(gt_sem_seg=seg, img_shape=(40, 80), gt_bboxes=np.array([[70, 10, 78, 30]],
                  np.float32), gt_bboxes_labels=np.array([1]), modality_mask=np.zeros(3, bool))
    for seed in range(10):
        np.random.seed(seed)
        out = RandomCrop(crop_size=(30, 40), cat_max_ratio=0.9)(copy_sample(sample))
        counts = np.bincount(out['gt_sem_seg'].ravel(), minlength=2)
        assert counts.max() / counts.sum() < 0.9
        np.random.seed(seed)
        out = RandomCrop(crop_size=(30, 40), box_aware=True)(copy_sample(sample))
        assert len(out['gt_bboxes']) == 1


def test_pad_fills_each_key_with_its_own_invalid_value():
    sample = make_sample(30, 45, seed=5)
    out = Pad(size_divisor=16)(copy_sample(sample))
    assert out['img_shape'] == (30, 45) and out['pad_shape'] == (32, 48)  # content, padded
    assert (out['gt_sem_seg'][30:] == 255).all() and (out['depth'][:, 45:] == 0).all()
    assert (out['rgb'][30:] == 0).all() and (out['gt_depth'][30:] == 0).all()
    np.testing.assert_array_equal(out['gt_bboxes'], sample['gt_bboxes'])
    assert Pad(size=(50, 40))(copy_sample(sample))['thermal'].shape == (40, 50)
    with pytest.raises(SensorError, match='before Pad'):
        RandomFlip(prob=1.0)(out)  # the padding would move to the left
    assert Pad(size_divisor=16)(out)['pad_shape'] == (32, 48)  # idempotent


def test_targets_only_sample_and_int64_labels():
    sample = make_sample(32, 48, seed=6, sensors=())
    sample['gt_sem_seg'] = sample['gt_sem_seg'].astype(np.int64)
    out = Resize(scale=(24, 16))(sample)
    assert out['gt_sem_seg'].dtype == np.int64 and out['gt_sem_seg'].shape == (16, 24)
    assert out['rgb'] is None and out['depth'] is None and out['gt_depth'].shape == (16, 24)


def test_bad_input_raises_sensor_error():
    sample = make_sample(32, 48, seed=0)
    sample['thermal'] = np.zeros((31, 48), np.float32)
    with pytest.raises(SensorError, match="thermal"):
        RandomFlip(prob=1.0)(sample)
    sample = make_sample(32, 48, seed=0)
    sample['rgb'] = sample['rgb'].astype(np.float32)
    with pytest.raises(SensorError, match="'rgb'.*uint8"):
        Resize(scale=(10, 10))(sample)
    sample = make_sample(32, 48, seed=0)
    sample['gt_bboxes'] = sample['gt_bboxes'][:, [2, 1, 0, 3]]
    with pytest.raises(SensorError, match='gt_bboxes'):
        RandomFlip(prob=1.0)(sample)
    with pytest.raises(ValueError):
        Resize(scale=(10, 10), depth_interpolation='bilinear')


@pytest.mark.parametrize('sensors', [('rgb', ), ('thermal', ), ('depth', ), ('thermal', 'depth'),
                                     ('rgb', 'depth')])
def test_any_sensor_subset_goes_through_the_same_geometry(sensors):
    sample = make_sample(36, 52, seed=8, sensors=sensors)
    full = make_sample(36, 52, seed=8)
    ops = [RandomResize(scale=(52, 36), ratio_range=(0.7, 1.3)), RandomCrop(crop_size=(30, 24)),
           RandomFlip(prob=0.5)]
    out_subset, _ = _run(ops, copy_sample(sample), seed=11)
    out_full, _ = _run(ops, copy_sample(full), seed=11)
    for key in ('rgb', 'thermal', 'depth'):
        if key in sensors:
            np.testing.assert_array_equal(out_subset[key], out_full[key])
        else:
            assert out_subset[key] is None
    np.testing.assert_array_equal(out_subset['gt_sem_seg'], out_full['gt_sem_seg'])
    np.testing.assert_array_equal(out_subset['gt_bboxes'], out_full['gt_bboxes'])


def test_test_time_resize_leaves_targets_in_the_original_frame():
    sample = make_sample(40, 60, seed=9)
    out = Resize(scale=(30, 20), resize_targets=False)(copy_sample(sample))
    assert out['rgb'].shape == (20, 30, 3) and out['depth'].shape == (20, 30)
    for key in ('gt_sem_seg', 'gt_depth', 'gt_bboxes', 'gt_bboxes_labels'):
        np.testing.assert_array_equal(out[key], sample[key])
    out = Pad(size_divisor=16)(RandomFlip(prob=1.0)(out))  # TTA-style steps after it
    assert out['rgb'].shape == (32, 32, 3) and out['flip']
    np.testing.assert_array_equal(out['gt_sem_seg'], sample['gt_sem_seg'])
    np.testing.assert_array_equal(out['gt_bboxes'], sample['gt_bboxes'])
    out['gt_depth'], out['gt_sem_seg'] = out['gt_depth'][:-1], None
    with pytest.raises(SensorError, match='ori_shape'):
        RandomFlip(prob=1.0)(out)
    cropped = RandomCrop(crop_size=(30, 30))(copy_sample(sample))
    with pytest.raises(SensorError, match='resize_targets=False'):
        Resize(scale=(20, 20), resize_targets=False)(cropped)
