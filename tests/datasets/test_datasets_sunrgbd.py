"""SUN RGB-D (mmdet3d layout): 2D boxes from the label files, depth from the point cloud."""
import numpy as np
import pytest
import scipy.io

from perception.contract import SensorError
from perception.datasets import build_real_dataset
from perception.datasets.sunrgbd import (SUNRGBD_CLASSES, project_upright_points, read_calib,
                                         read_sun_labels)
from perception.registry import DATASETS


def _sun(root, **kwargs):
    return DATASETS.build(dict(type='SUNRGBDDataset',
                               data_root=str(root / 'sunrgbd/sunrgbd_trainval'), **kwargs))


def _toolbox_points(depth, rtilt, k):
    """What SUN RGB-D's read3dPoints.m stores for a depth image (1-based pixels, (X, Z, -Y))."""
    h, w = depth.shape
    u, v = np.meshgrid(np.arange(1, w + 1), np.arange(1, h + 1))
    x = (u - k[0, 2]) * depth / k[0, 0]
    y = (v - k[1, 2]) * depth / k[1, 1]
    pts = np.stack([x, depth, -y], axis=-1).reshape(-1, 3)[depth.reshape(-1) > 0]
    return (rtilt @ pts.T).T.astype(np.float32)


def test_projection_inverts_the_toolbox_exactly():
    rng = np.random.default_rng(0)
    depth = np.round(rng.uniform(0.5, 7.9, (30, 40)) * 1000) / 1000
    depth[rng.random(depth.shape) < 0.2] = 0
    depth[0, 0] = 8.0                         # the toolbox's clamp value: not a measurement
    a = 0.2
    rtilt = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    k = np.array([[35.0, 0, 20.5], [0, 35.0, 15.5], [0, 0, 1]])
    out = project_upright_points(_toolbox_points(depth, rtilt, k), rtilt, k, depth.shape)
    expected = depth.astype(np.float32)
    expected[0, 0] = 0
    assert np.array_equal(out, expected)


@pytest.mark.real_data
def test_sun_boxes_xyxy_from_top_left_xywh(real_root):
    ds = _sun(real_root)
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == \
        ['000001', '000002', '000003', '000004']
    s = ds.load_sample(0)
    assert s['rgb'].shape == (530, 730, 3) and s['gt_bboxes'].dtype == np.float32
    # label/000001.txt (x y w h): bed 328 152 346 320, night_stand 572.54 275.64 98.38 53.18,
    # dresser 1 1 221 529
    names = [SUNRGBD_CLASSES[i] for i in s['gt_bboxes_labels']]
    assert names == ['bed', 'night_stand', 'dresser']
    assert s['gt_bboxes'][0].tolist() == [328, 152, 674, 472]
    assert s['gt_bboxes'][2].tolist() == [1, 1, 222, 530]
    np.testing.assert_allclose(s['gt_bboxes'][1], [572.5418, 275.6355, 670.91973, 328.81276],
                               rtol=1e-6)
    h, w = s['img_shape']
    for sample in (ds.load_sample(i) for i in range(len(ds))):
        boxes = sample['gt_bboxes']
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert boxes.min() >= 0 and (boxes[:, 2] <= w + 1).all() and (boxes[:, 3] <= h + 1).all()


@pytest.mark.real_data
def test_sun_det_classes_choose_which_objects_load(real_root):
    ds = _sun(real_root, metainfo=dict(det_classes=('lamp', 'bed')))
    s = ds.load_sample(0)
    assert s['gt_bboxes_labels'].tolist() == [1, 0]            # bed, lamp (file order)
    labels_v1 = _sun(real_root, label_dir='label_v1').load_sample(0)
    assert len(labels_v1['gt_bboxes']) >= 1


@pytest.mark.real_data
def test_sun_depth_from_the_point_cloud_is_registered_to_the_image(real_root):
    root = real_root / 'sunrgbd/sunrgbd_trainval'
    s = _sun(real_root).load_sample(0)
    depth = s['depth']
    assert depth.shape == (530, 730) and s['modality_mask'].tolist() == [True, False, True]
    points = scipy.io.loadmat(root / 'depth/000001.mat')['instance']
    assert (depth > 0).sum() == len(points) - 1               # one point is the 8 m clamp
    assert depth[265, 365] == np.float32(3.006)
    valid = depth[depth > 0]
    assert 1.1 < valid.min() and valid.max() < 8 and 2 < np.median(valid) < 3
    # The .mat also holds each point's colour, taken from this JPEG: at the projected pixel the
    # colours agree (off by one pixel they differ by ~7 grey levels on average).
    rtilt, k = read_calib(root / 'calib/000001.txt')
    up = rtilt.T @ points[:, :3].astype(np.float64).T
    u = np.round(up[0] * k[0, 0] / up[1] + k[0, 2]).astype(int) - 1
    v = np.round(-up[2] * k[1, 1] / up[1] + k[1, 2]).astype(int) - 1
    assert np.abs(s['rgb'][v, u] - points[:, 3:] * 255).mean() < 0.01
    ds = _sun(real_root)
    assert all(ds.load_sample(i)['depth'] is None for i in (1, 2, 3))    # no .mat for these


@pytest.mark.real_data
def test_sun_splits_and_errors(real_root, tmp_path):
    train, val = _sun(real_root, split='train'), _sun(real_root, split='val')
    assert [train.get_data_info(i)['img_id'] for i in range(len(train))] == ['000001', '000002']
    assert [val.get_data_info(i)['img_id'] for i in range(len(val))] == ['000003', '000004']
    with pytest.raises(SensorError, match='test'):
        _sun(real_root, split='test')
    bad = tmp_path / 'label.txt'
    bad.write_text('bed 1 2 3\n')
    with pytest.raises(SensorError, match='line 1'):
        read_sun_labels(bad, SUNRGBD_CLASSES)
    calib = tmp_path / 'calib.txt'
    calib.write_text('1 0 0 0 1 0 0 0 1\n')
    with pytest.raises(SensorError, match='Rtilt'):
        read_calib(calib)
    assert build_real_dataset('sunrgbd', real_root).metainfo['det_classes'] == SUNRGBD_CLASSES
