"""The generic layout: writer -> folder -> GenericMultiSensorDataset is exact; the documented
layout written by hand reads as documented; bad layouts raise SensorError."""
import json

import cv2
import numpy as np
import pytest

from perception.contract import SENSORS, SensorError
from perception.datasets import (GenericLayoutWriter, GenericMultiSensorDataset, LayoutSpec,
                                 quantize_sample, write_generic_sample)
from perception.registry import DATASETS

META = dict(name='toy', seg_classes=['road', 'person', 'car'], det_classes=['person', 'car'],
            palette=[[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def _sample(rng, h=12, w=16, drop=(), boxes=2, condition='day'):
    sample = dict(
        rgb=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        thermal=rng.random((h, w)).astype(np.float32),
        depth=(rng.random((h, w)) * 20).astype(np.float32),
        gt_sem_seg=rng.choice(np.array([0, 1, 2, 255], np.uint8), (h, w)),
        gt_depth=(rng.random((h, w)) * 20).astype(np.float32),
        gt_bboxes=None if boxes is None else
        (rng.random((boxes, 4)) * 8 + np.array([0, 0, 8, 4])).astype(np.float32),
        gt_bboxes_labels=None if boxes is None else rng.integers(0, 2, boxes),
        condition=condition, img_shape=(h, w))
    for key in drop:
        sample[key] = None
    sample['modality_mask'] = np.array([sample[s] is not None for s in SENSORS])
    return quantize_sample(sample)


def _assert_same(read, written):
    for key in ('rgb', 'thermal', 'depth', 'gt_sem_seg', 'gt_depth', 'gt_bboxes'):
        if written[key] is None:
            assert read[key] is None, key
        else:
            assert read[key].dtype == written[key].dtype, key
            assert np.array_equal(read[key], written[key]), key
    if written['gt_bboxes'] is not None:
        assert np.array_equal(read['gt_bboxes_labels'], written['gt_bboxes_labels'])
        assert read['condition'] == written['condition']
    assert np.array_equal(read['modality_mask'], written['modality_mask'])


def test_writer_reader_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    samples = {
        'a0': _sample(rng),
        'a1': _sample(rng, drop=('thermal', ), condition='night'),
        'a2': _sample(rng, drop=('rgb', 'gt_sem_seg'), boxes=0, condition='fog'),
        'a3': _sample(rng, h=10, w=9, drop=('depth', 'gt_depth'), boxes=None),
    }
    with GenericLayoutWriter(tmp_path, META) as writer:
        for i, (sid, sample) in enumerate(samples.items()):
            writer.write(sid, sample, split='train' if i < 3 else 'val')
    ds = GenericMultiSensorDataset(str(tmp_path))
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == list(samples)
    for i, (sid, sample) in enumerate(samples.items()):
        read = ds.load_sample(i)
        assert read['img_id'] == sid and read['img_shape'] == sample['img_shape']
        _assert_same(read, sample)
    assert ds.load_sample(2)['gt_bboxes'].shape == (0, 4)        # annotated, no object
    assert ds.load_sample(3)['gt_bboxes'] is None                # not annotated
    meta = ds.metainfo
    assert meta['seg_classes'] == tuple(META['seg_classes']) and meta['dataset_name'] == 'toy'
    assert meta['det_classes'] == tuple(META['det_classes']) and meta['palette'] == META['palette']
    val = DATASETS.build(dict(type='GenericMultiSensorDataset', data_root=str(tmp_path),
                              split='val', pipeline=[dict(type='LoadMultiSensorSample')]))
    assert len(val) == 1 and val[0]['img_id'] == 'a3' and val[0]['depth'] is None


def test_write_generic_sample_appends_and_replaces(tmp_path):
    rng = np.random.default_rng(2)
    first, second, replacement = _sample(rng), _sample(rng), _sample(rng, drop=('thermal', ))
    write_generic_sample(tmp_path, 's1', first, META, split='train')
    write_generic_sample(tmp_path, 's2', second, META, split='train')
    write_generic_sample(tmp_path, 's1', replacement, META, split='val')
    assert len(GenericMultiSensorDataset(str(tmp_path), split='train')) == 1
    ds = GenericMultiSensorDataset(str(tmp_path))
    _assert_same(ds.load_sample(0), replacement)
    _assert_same(ds.load_sample(1), second)
    coco = json.loads((tmp_path / 'annotations.json').read_text())
    assert sorted(img['file_name'] for img in coco['images']) == ['s1.png', 's2.png']
    with pytest.raises(SensorError, match='classes'):
        write_generic_sample(tmp_path, 's3', second, dict(META, det_classes=['bus']))


def test_writer_rejects_inconsistent_samples(tmp_path):
    rng = np.random.default_rng(3)
    sample = _sample(rng)
    with GenericLayoutWriter(tmp_path, META) as writer:
        with pytest.raises(SensorError, match='modality_mask'):
            writer.write('m', dict(sample, modality_mask=np.array([True, False, True])))
        with pytest.raises(SensorError, match='det_classes'):
            writer.write('l', dict(sample, gt_bboxes_labels=np.array([0, 5])))
        with pytest.raises(SensorError, match='JSON'):
            writer.write('j', dict(sample, weather=object()))


def test_failed_write_leaves_the_folder_as_it_was(tmp_path):
    rng = np.random.default_rng(4)
    good = _sample(rng)
    write_generic_sample(tmp_path, 'k', good, META)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))
    bad_size = dict(_sample(rng), depth=np.zeros((3, 3), np.float32))
    for bad, field in ((dict(good, gt_bboxes_labels=np.array([9, 9])), 'gt_bboxes_labels'),
                       (bad_size, 'shape'),
                       (dict(good, depth=np.full((12, 16), 99.0, np.float32)), 'value')):
        with pytest.raises(SensorError) as info:
            write_generic_sample(tmp_path, 'k', bad, META)
        assert info.value.field == field
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*')) == before
    _assert_same(GenericMultiSensorDataset(str(tmp_path)).load_sample(0), good)


def test_meta_file_lists_only_what_was_written(tmp_path):
    rng = np.random.default_rng(5)
    rgb_only = _sample(rng, drop=('thermal', 'depth', 'gt_sem_seg', 'gt_depth'))
    write_generic_sample(tmp_path, 'r', rgb_only, dict(META, palette=None))
    spec = LayoutSpec.load(tmp_path / 'dataset.yaml')
    assert list(spec.sensors) == ['rgb'] and spec.seg is None and spec.gt_depth is None
    ds = GenericMultiSensorDataset(str(tmp_path))
    _assert_same(ds.load_sample(0), rgb_only)
    assert len(ds.metainfo['palette']) == 3            # generated when the meta has none
    write_generic_sample(tmp_path, 's', _sample(rng), dict(META, palette=None))
    spec = LayoutSpec.load(tmp_path / 'dataset.yaml')
    assert list(spec.sensors) == ['rgb', 'thermal', 'depth'] and spec.seg.dir == 'seg'
    assert spec.sensors['thermal'].encoding == 'u16_unit' and spec.gt_depth.dir == 'gt_depth'


DOC_YAML = """\
name: handmade
seg_classes: [background, person]
det_classes: [car, person]
sensors:
  rgb: {dir: rgb, encoding: rgb8}
  thermal: {dir: thermal, encoding: u16_unit}
  depth: {dir: depth, encoding: uint16_mm}
targets:
  seg: {dir: seg}
  depth: {dir: gt_depth, encoding: uint16_mm}
  boxes: {file: annotations.json}
splits: {train: splits/train.txt}
"""


@pytest.fixture
def handmade(tmp_path):
    """The layout of docs/data.md written without the writer."""
    (tmp_path / 'dataset.yaml').write_text(DOC_YAML)
    for d in ('rgb', 'thermal', 'depth', 'seg'):
        (tmp_path / d).mkdir()
    for sid in ('x1', 'x2', 'x3'):
        cv2.imwrite(str(tmp_path / 'rgb' / f'{sid}.jpg'), np.zeros((4, 6, 3), np.uint8))
    cv2.imwrite(str(tmp_path / 'thermal' / 'x1.png'), np.full((4, 6), 65535, np.uint16))
    cv2.imwrite(str(tmp_path / 'depth' / 'x4.png'), np.full((4, 6), 2500, np.uint16))
    cv2.imwrite(str(tmp_path / 'seg' / 'x1.png'), np.ones((4, 6), np.uint8))
    (tmp_path / 'README.txt').write_text('not a sample')
    (tmp_path / 'rgb' / 'notes.txt').write_text('not a sample either')
    coco = dict(
        categories=[dict(id=7, name='person'), dict(id=3, name='car')],
        images=[dict(id=10, file_name='rgb/x1.jpg', height=4, width=6, condition='night'),
                dict(id=11, file_name='x2.jpg', height=4, width=6)],
        annotations=[dict(id=1, image_id=10, bbox=[1, 1, 2, 2], category_id=7, iscrowd=0),
                     dict(id=2, image_id=10, bbox=[0, 0, 1, 3], category_id=3, iscrowd=0),
                     dict(id=3, image_id=10, bbox=[0, 0, 6, 4], category_id=3, iscrowd=1)])
    (tmp_path / 'annotations.json').write_text(json.dumps(coco))
    (tmp_path / 'splits').mkdir()
    (tmp_path / 'splits' / 'train.txt').write_text('x2\nx1\n\n')
    return tmp_path


def test_handmade_layout_reads_as_documented(handmade):
    ds = GenericMultiSensorDataset(str(handmade))
    ids = [ds.get_data_info(i)['img_id'] for i in range(len(ds))]
    assert ids == ['x1', 'x2', 'x3', 'x4']          # union of stems over the sensor folders
    x1, x2, x3, x4 = (ds.load_sample(i) for i in range(4))
    assert x1['modality_mask'].tolist() == [True, True, False] and (x1['thermal'] == 1).all()
    assert x1['gt_bboxes'].tolist() == [[1, 1, 3, 3], [0, 0, 1, 3]]   # xywh -> xyxy, crowd out
    assert x1['gt_bboxes_labels'].tolist() == [1, 0]          # matched by name, not by id
    assert x1['condition'] == 'night' and x1['gt_sem_seg'].max() == 1
    assert x2['gt_bboxes'].shape == (0, 4) and x2['gt_bboxes_labels'].shape == (0, )
    assert x3['gt_bboxes'] is None and x3['gt_sem_seg'] is None
    assert x4['rgb'] is None and x4['depth'][0, 0] == np.float32(2.5)
    train = GenericMultiSensorDataset(str(handmade), split='train')
    assert [train.get_data_info(i)['img_id'] for i in range(2)] == ['x2', 'x1']


def _edit_yaml(root, old, new):
    path = root / 'dataset.yaml'
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize('old, new, field', [
    ('encoding: uint16_mm}\ntargets', 'encoding: uint16_cm}\ntargets', 'encoding'),
    ('thermal: {dir: thermal, encoding: u16_unit}', 'lidar: {dir: lidar, encoding: u16_unit}',
     'sensors.lidar'),
    ('name: handmade', 'name: handmade\ncolour: red', 'colour'),
    ('seg_classes: [background, person]', 'seg_classes: [a]\npalette: [[1, 2]]', 'palette'),
])
def test_bad_meta_file(handmade, old, new, field):
    _edit_yaml(handmade, old, new)
    with pytest.raises(SensorError) as info:
        GenericMultiSensorDataset(str(handmade))
    assert info.value.field == field and info.value.path.endswith('dataset.yaml')


def test_bad_data_in_the_layout(handmade):
    with pytest.raises(SensorError, match='one of'):
        GenericMultiSensorDataset(str(handmade), split='test')
    with pytest.raises(SensorError, match="'car'"):
        GenericMultiSensorDataset(str(handmade), metainfo=dict(det_classes=['person']))
    (handmade / 'splits' / 'train.txt').write_text('x1\nx9\n')
    with pytest.raises(SensorError, match='x9'):
        GenericMultiSensorDataset(str(handmade), split='train')
    cv2.imwrite(str(handmade / 'rgb' / 'x1.png'), np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(SensorError, match='one file per sample id'):
        GenericMultiSensorDataset(str(handmade))
    with pytest.raises(SensorError, match='dataset.yaml'):
        GenericMultiSensorDataset(str(handmade / 'rgb'))
