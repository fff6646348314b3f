"""Box labels as published (YOLO txt, Pascal VOC XML): the real MSRS and LLVIP folders load with
the counts of their README, every bad label is a SensorError naming its file and line, and the
config-declared class map (det_classes, det_class_map) maps, drops, refuses and records
``det_labelled`` all the way into the packed data sample."""
from collections import Counter

import cv2
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset

from perception.contract import ConfigError, SensorError
from perception.datasets import (BOX_TOLERANCE_PX, GenericLayoutWriter,
                                 GenericMultiSensorDataset, LLVIPDataset, MSRSDetDataset,
                                 build_real_dataset, read_voc_boxes, read_yolo_boxes)
from perception.datasets.synthetic import SyntheticRGBTDDataset
from perception.registry import DATASETS
from perception.transforms.formatting import PackMultiSensorInputs

H, W = 24, 32
PACK_PIPELINE = [dict(type='LoadMultiSensorSample'), dict(type='PackMultiSensorInputs')]
TARGET = ('person', 'bicycle', 'car')
SYNTH_MAP = dict(vehicle='car', animal=None, obstacle=None)


# ----------------------------------------------------------------------------- helpers

def _image(path, colour=True, seed=0, shape=(H, W)):
    rng = np.random.default_rng(seed)
    if colour:
        img = rng.integers(0, 256, shape + (3, ), dtype=np.uint8)
    else:                                           # grey stored as 3 equal channels
        img = np.repeat(rng.integers(0, 256, shape + (1, ), dtype=np.uint8), 3, axis=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


def _msrs_layout(root, ids=('00001N', '00002D'), labels=None, box_dir='labels'):
    """``vi/``, ``ir/`` PNGs and YOLO label files (``labels``: id -> text; default one person)."""
    for i, img_id in enumerate(ids):
        _image(root / 'vi' / f'{img_id}.png', seed=i)
        _image(root / 'ir' / f'{img_id}.png', colour=False, seed=i)
    labels = {img_id: '0 0.5 0.5 0.25 0.5\n' for img_id in ids} if labels is None else labels
    (root / box_dir).mkdir(parents=True, exist_ok=True)
    for img_id, text in labels.items():
        (root / box_dir / f'{img_id}.txt').write_text(text)
    return root


VOC_OBJECT = """	<object>
		<name>{name}</name>
		<truncated>{truncated}</truncated>
		<difficult>{difficult}</difficult>
		<bndbox>
			<xmin>{box[0]}</xmin>
			<ymin>{box[1]}</ymin>
			<xmax>{box[2]}</xmax>
			<ymax>{box[3]}</ymax>
		</bndbox>
	</object>
"""


def _voc(objects=(), size=(W, H)):
    """A VOC XML in LLVIP's form; ``objects``: dicts of name, box, truncated, difficult."""
    size_xml = '' if size is None else (f'\t<size>\n\t\t<width>{size[0]}</width>\n'
                                        f'\t\t<height>{size[1]}</height>\n\t\t<depth>1</depth>\n'
                                        '\t</size>\n')
    body = ''.join(VOC_OBJECT.format(**dict(dict(name='person', truncated=0, difficult=0), **o))
                   for o in objects)
    return (f'<?xml version="1.0" ?><annotation>\n\t<folder>JPEGImages</folder>\n'
            f'\t<filename>x.jpg</filename>\n{size_xml}{body}</annotation>')


def _line_of(text, needle, nth=1):
    """1-based line number of the ``nth`` line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def _llvip_layout(root, train=('010001', '010002'), thermal_only=('010003', ), test=('190001', ),
                  xml=None):
    """LLVIP's layout: visible/ + infrared/ {train,test}, Annotations/ for the train ids."""
    for i, img_id in enumerate(train):
        _image(root / 'visible' / 'train' / f'{img_id}.jpg', seed=i)
    for i, img_id in enumerate(tuple(train) + tuple(thermal_only)):
        _image(root / 'infrared' / 'train' / f'{img_id}.jpg', colour=False, seed=i)
    for i, img_id in enumerate(test):
        _image(root / 'visible' / 'test' / f'{img_id}.jpg', seed=10 + i)
        _image(root / 'infrared' / 'test' / f'{img_id}.jpg', colour=False, seed=10 + i)
    (root / 'Annotations').mkdir(parents=True, exist_ok=True)
    xml = {i: _voc([dict(box=(4, 2, 12, 20))]) for i in tuple(train) + tuple(thermal_only)} \
        if xml is None else xml
    for img_id, text in xml.items():
        (root / 'Annotations' / f'{img_id}.xml').write_text(text)
    return root


def _class_counts(ds):
    counts = Counter()
    for i in range(len(ds)):
        boxes = ds.get_data_info(i).get('boxes')
        if boxes is not None:
            counts.update(ds.metainfo['det_classes'][label] for label in boxes['labels'])
    return counts


def _assert_names(err, path, line=None):
    message = str(err.value)
    assert str(path) in message, message
    if line is not None:
        assert f"field 'line {line}'" in message, message


# ----------------------------------------------------------------------------- real folders

@pytest.mark.real_data
def test_msrs_det_real_labels_match_the_readme(real_root):
    ds = build_real_dataset('msrs_det', real_root)
    assert len(ds) == 20 and ds.metainfo['det_classes'] == TARGET
    assert _class_counts(ds) == Counter(person=92, bicycle=3, car=18)
    assert ds.box_report.files == 20 and not ds.box_report.unannotated
    assert sum(ds.get_data_info(i)['extra']['condition'] == 'night' for i in range(20)) == 12
    sample = ds.load_sample(0)
    assert sample['img_id'] == '00004N' and sample['img_shape'] == (480, 640)
    assert sample['modality_mask'].tolist() == [True, True, False]
    assert sample['gt_bboxes'].shape == (11, 4) and sample['sources']['boxes'].endswith(
        'labels/00004N.txt')
    # first line of labels/00004N.txt: 0 0.149219 0.578125 0.026562 0.043750
    np.testing.assert_allclose(sample['gt_bboxes'][0], [(0.149219 - 0.013281) * 640,
                                                        (0.578125 - 0.021875) * 480,
                                                        (0.149219 + 0.013281) * 640,
                                                        (0.578125 + 0.021875) * 480], atol=1e-3)
    visible = MSRSDetDataset(str(real_root / 'rgbt_det/msrs'), box_dir='labels_visible')
    assert _class_counts(visible) == Counter(person=27, bicycle=1, car=25)


@pytest.mark.real_data
def test_llvip_real_train_pairs_thermal_only_frames_and_unlabelled_test(real_root):
    train = build_real_dataset('llvip_train', real_root)
    assert len(train) == 100 and train.metainfo['det_classes'] == ('person', )
    infos = [train.get_data_info(i) for i in range(100)]
    paired = [i for i in infos if set(i['sensors']) == {'rgb', 'thermal'}]
    thermal_only = [i for i in infos if set(i['sensors']) == {'thermal'}]
    assert [i['img_id'] for i in paired] == [f'{n:06d}' for n in range(10001, 10051)]
    assert [i['img_id'] for i in thermal_only] == [f'{n:06d}' for n in range(10051, 10101)]
    assert sum(len(i['boxes']['labels']) for i in paired) == 222
    assert sum(len(i['boxes']['labels']) for i in thermal_only) == 217
    assert train.box_report.truncated == 36 and train.box_report.difficult == 0
    sample = train.load_sample(99)                          # 010100: infrared + boxes only
    assert sample['modality_mask'].tolist() == [False, True, False] and sample['rgb'] is None
    assert sample['thermal'].shape == (1024, 1280) and sample['thermal'].dtype == np.float32
    assert sample['gt_bboxes'].shape[0] > 0 and sample['condition'] == 'night'
    raw = cv2.imread(sample['sources']['thermal'])          # JPEG grey in 3 channels
    np.testing.assert_allclose(sample['thermal'], raw.mean(axis=2) / 255, atol=1e-6)
    paired_sample = train.load_sample(0)
    assert paired_sample['rgb'].shape == (1024, 1280, 3)
    assert paired_sample['gt_bboxes'][0].tolist() == [287, 428, 351, 662]

    test = build_real_dataset('llvip_test', real_root)
    assert len(test) == 48
    assert all(test.get_data_info(i).get('boxes') is None for i in range(48))
    assert test.box_report.files == 0 and len(test.box_report.unannotated) == 48
    assert test.load_sample(0)['gt_bboxes'] is None                 # not annotated


@pytest.mark.real_data
def test_llvip_real_mapped_to_the_model_classes_labels_person_only(real_root):
    ds = LLVIPDataset(str(real_root / 'rgbt_det/llvip'), split='train', ids=['010001', '010060'],
                      det_classes=TARGET, pipeline=PACK_PIPELINE)
    assert ds.metainfo['det_classes'] == TARGET and ds.det_labelled == (0, )
    for i in range(2):
        packed = ds[i]['data_samples']
        assert packed.det_labelled == (0, )
        assert packed.gt_instances.labels.tolist() == [0] * len(packed.gt_instances)


@pytest.mark.real_data
@pytest.mark.parametrize('name, count', [('msrs_det', 20), ('llvip_train', 100),
                                         ('llvip_test', 48)])
def test_catalog_entries_of_the_box_folders(real_root, name, count):
    ds = build_real_dataset(name, real_root)
    assert len(ds) == count
    sample = ds.load_sample(len(ds) - 1)
    assert 0 <= sample['thermal'].min() and sample['thermal'].max() <= 1


# ----------------------------------------------------------------------------- YOLO labels

GOOD = '0 0.5 0.5 0.25 0.5\n\n2 0.25 0.25 0.125 0.25\n'     # line 2 blank, bad line goes to 4


@pytest.mark.parametrize('line, expected', [
    ('0 0.5 0.5 0.25', '5 fields'),                            # wrong field count
    ('0 0.5 0.5 0.25 0.5 0.1', '5 fields'),                    # a segment / extra column
    ('0 0.5 abc 0.25 0.5', 'cy: a number'),                    # non-numeric
    ('0 nan 0.5 0.25 0.5', 'a finite number'),
    ('person 0.5 0.5 0.25 0.5', 'an integer class id'),
    ('3 0.5 0.5 0.25 0.5', 'a class id in 0..2'),             # class outside the list
    ('-1 0.5 0.5 0.25 0.5', 'a class id in 0..2'),
    ('0 0.5 0.5 0 0.5', 'w and h > 0'),
    ('0 0.5 0.5 0.25 -0.1', 'w and h > 0'),
    ('0 0.95 0.5 0.25 0.5', 'inside the 24x32'),               # x2 = 1.075 W
    ('0 0.5 0.02 0.25 0.5', 'inside the 24x32'),               # y1 < 0
])
def test_bad_yolo_line_names_file_and_line(tmp_path, line, expected):
    root = _msrs_layout(tmp_path, labels={'00001N': GOOD, '00002D': GOOD + line + '\n'})
    with pytest.raises(SensorError, match=expected) as err:
        MSRSDetDataset(str(root))
    _assert_names(err, root / 'labels' / '00002D.txt', line=4)


def test_yolo_boxes_within_tolerance_are_clipped_and_the_rest_exact(tmp_path):
    inside = 0.5 * BOX_TOLERANCE_PX / W                       # half the tolerance outside
    text = f'1 {1 - 0.125 + inside} 0.5 0.25 0.5\n0 0.5 0.5 0.25 0.5\n'
    path = tmp_path / 'a.txt'
    path.write_text(text)
    boxes = read_yolo_boxes(path, TARGET, (H, W))
    assert boxes.labels == [1, 0] and boxes.shape == (H, W)
    assert boxes.bboxes[0][2] == W and boxes.bboxes[0][0] == pytest.approx(W * 0.75 + 0.5)
    assert boxes.bboxes[1] == [12.0, 6.0, 20.0, 18.0]
    path.write_text(f'1 {1 - 0.125 + 3 * inside} 0.5 0.25 0.5\n')  # 1.5 px outside: refused
    with pytest.raises(SensorError, match='tolerance'):
        read_yolo_boxes(path, TARGET, (H, W))


def test_yolo_empty_file_is_annotated_and_missing_file_is_not(tmp_path):
    root = _msrs_layout(tmp_path, ids=('00001N', '00002D', '00003D'),
                        labels={'00001N': '', '00002D': GOOD})
    ds = MSRSDetDataset(str(root))
    empty, labelled, missing = (ds.load_sample(i) for i in range(3))
    assert empty['gt_bboxes'].shape == (0, 4) and empty['gt_bboxes_labels'].shape == (0, )
    assert labelled['gt_bboxes_labels'].tolist() == [0, 2]
    assert missing['gt_bboxes'] is None                        # not annotated, and reported
    assert ds.box_report.unannotated == ['00003D'] and ds.box_report.files == 2
    assert 'not annotated' in ds.box_report.summary()


def test_yolo_label_without_any_image_is_an_error(tmp_path):
    root = _msrs_layout(tmp_path, labels={'00001N': GOOD, '00002D': GOOD, '00009N': GOOD})
    with pytest.raises(SensorError, match='a label file without any image') as err:
        MSRSDetDataset(str(root))
    _assert_names(err, root / 'labels' / '00009N.txt')


def test_labelimg_class_list_is_not_a_label_file(tmp_path):
    root = _msrs_layout(tmp_path)
    (root / 'labels' / 'classes.txt').write_text('person\nbicycle\ncar\n')
    assert len(MSRSDetDataset(str(root))) == 2


def test_image_without_its_partner_when_pairs_are_required(tmp_path):
    root = _msrs_layout(tmp_path)
    (root / 'vi' / '00002D.png').unlink()
    with pytest.raises(SensorError, match='rgb partner') as err:
        MSRSDetDataset(str(root))                              # pairs required by default
    _assert_names(err, root / 'ir' / '00002D.png')
    ds = MSRSDetDataset(str(root), require_pairs=False)         # or loaded thermal-only
    assert ds.load_sample(1)['modality_mask'].tolist() == [False, True, False]


def test_visible_infrared_dataset_reads_voc_boxes_too(tmp_path):
    root = _msrs_layout(tmp_path, labels={})
    (root / 'xml').mkdir()
    (root / 'xml' / '00001N.xml').write_text(_voc([dict(name='car', box=(1, 2, 3, 4))]))
    ds = DATASETS.build(dict(type='VisibleInfraredDataset', data_root=str(root), box_dir='xml',
                             box_format='voc', metainfo=dict(det_classes=TARGET)))
    assert ds.load_sample(0)['gt_bboxes_labels'].tolist() == [2]
    with pytest.raises(SensorError, match="one of \\['voc', 'yolo'\\]"):
        MSRSDetDataset(str(root), box_format='txt')


# ----------------------------------------------------------------------------- VOC labels

def _bad_voc_cases():
    two = [dict(box=(4, 2, 12, 20)), dict(box=(1, 1, 9, 9))]
    cases = []
    text = _voc(two).replace('</bndbox>\n\t</object>\n\t<object>', '</bndbox>\n\t<object>', 1)
    cases.append(('malformed', text, None, 'well-formed XML'))
    text = _voc([two[0], dict(name='dog', box=(1, 1, 9, 9))])
    cases.append(('unknown class', text, _line_of(text, '<name>dog'),
                  'a class name in det_classes'))
    text = _voc([two[0], dict(box=(1, 1, 'nine', 9))])
    cases.append(('non-numeric', text, _line_of(text, '<xmax>nine'), '<xmax>: a number'))
    text = _voc([two[0], dict(box=(9, 1, 9, 9))])
    cases.append(('zero width', text, _line_of(text, '<bndbox>', 2), 'width and height > 0'))
    text = _voc([two[0], dict(box=(1, 1, W + 2, 9))])
    cases.append(('outside', text, _line_of(text, '<bndbox>', 2), 'inside the 24x32'))
    text = _voc([two[0], dict(box=(1, 1, 9, 9))]).replace('\t\t\t<ymax>9</ymax>\n', '')
    cases.append(('missing coordinate', text, _line_of(text, '<bndbox>', 2), '<ymax> inside'))
    text = _voc(two).replace('<name>person</name>', '<name></name>', 1)
    cases.append(('missing name', text, _line_of(text, '<object>'), '<name> inside <object>'))
    text = _voc([two[0]]).replace('annotation>', 'annotations>')
    cases.append(('wrong root', text, 1, 'Pascal VOC <annotation>'))
    return cases


@pytest.mark.parametrize('case, text, line, expected', _bad_voc_cases(),
                         ids=[c[0] for c in _bad_voc_cases()])
def test_bad_voc_file_names_file_and_line(tmp_path, case, text, line, expected):
    root = _llvip_layout(tmp_path, xml={'010001': _voc([dict(box=(4, 2, 12, 20))]),
                                        '010002': text})
    with pytest.raises(SensorError, match=expected) as err:
        LLVIPDataset(str(root), split='train')
    if case == 'malformed':     # expat reports where it noticed: the closing </annotation> tag
        line = _line_of(text, '</annotation>')
    _assert_names(err, root / 'Annotations' / '010002.xml', line)


def test_llvip_layout_difficult_and_truncated_are_loaded_and_counted(tmp_path):
    xml = {'010001': _voc([dict(box=(4, 2, 12, 20), difficult=1),
                           dict(box=(0, 0, W, H), truncated=1)]),
           '010002': _voc([]),                                 # annotated, no person
           '010003': _voc([dict(box=(4, 2, 12, 20))], size=None)}   # no <size>: image's size
    ds = LLVIPDataset(str(_llvip_layout(tmp_path, xml=xml)), split='train')
    assert [ds.get_data_info(i)['img_id'] for i in range(3)] == ['010001', '010002', '010003']
    first, empty, thermal_only = (ds.load_sample(i) for i in range(3))
    assert first['gt_bboxes'].tolist() == [[4, 2, 12, 20], [0, 0, W, H]]
    assert (ds.box_report.difficult, ds.box_report.truncated) == (1, 1)
    assert '1 marked difficult' in ds.box_report.summary()
    assert empty['gt_bboxes'].shape == (0, 4)
    assert thermal_only['modality_mask'].tolist() == [False, True, False]
    assert thermal_only['gt_bboxes'].shape == (1, 4)
    test = LLVIPDataset(str(tmp_path), split='test')
    assert len(test) == 1 and test.load_sample(0)['gt_bboxes'] is None
    assert test.load_sample(0)['modality_mask'].tolist() == [True, True, False]


def test_llvip_layout_ids_split_file_and_errors(tmp_path):
    root = _llvip_layout(tmp_path)
    assert len(LLVIPDataset(str(root), ids=['010002'])) == 1
    (root / 'few.txt').write_text('010003\n010001\n')
    ds = LLVIPDataset(str(root), split_file='few.txt')
    assert [ds.get_data_info(i)['img_id'] for i in range(2)] == ['010003', '010001']
    with pytest.raises(SensorError, match='ids whose image files exist'):
        LLVIPDataset(str(root), ids=['190001'])                # a test id in the train split
    with pytest.raises(SensorError, match="'val'"):
        LLVIPDataset(str(root), split='val')
    with pytest.raises(SensorError, match='rgb partner') as err:
        LLVIPDataset(str(root), require_pairs=True)           # 010003 is thermal-only
    _assert_names(err, root / 'infrared' / 'train' / '010003.jpg')
    (root / 'Annotations' / '123456.xml').write_text(_voc())
    with pytest.raises(SensorError, match='a label file without any image') as err:
        LLVIPDataset(str(root))
    _assert_names(err, root / 'Annotations' / '123456.xml')


def test_colour_image_given_as_llvip_infrared_names_the_file(tmp_path):
    root = _llvip_layout(tmp_path)
    bad = _image(root / 'infrared' / 'train' / '010001.jpg', colour=True, seed=5)
    ds = LLVIPDataset(str(root))
    with pytest.raises(SensorError) as err:
        ds.load_sample(0)
    assert err.value.sensor == 'thermal' and str(bad) in str(err.value)


def test_voc_size_must_match_the_decoded_image(tmp_path):
    root = _llvip_layout(tmp_path, xml={'010001': _voc([dict(box=(1, 1, 5, 5))],
                                                       size=(64, 48))})
    with pytest.raises(SensorError, match='annotation image size 48x64'):
        LLVIPDataset(str(root), ids=['010001']).load_sample(0)
    assert read_voc_boxes(root / 'Annotations' / '010001.xml', ('person', )).shape == (48, 64)


# ----------------------------------------------------------------------------- generic layout

def _generic(root, boxes_yaml, sensors=('rgb', 'thermal')):
    for i, img_id in enumerate(('a', 'b')):
        for sensor in sensors:
            _image(root / sensor / f'{img_id}.png', colour=sensor == 'rgb', seed=i)
    sensor_yaml = ''.join(f'  {s}: {{dir: {s}, encoding: {"rgb8" if s == "rgb" else "u8_unit"}}}\n'
                          for s in sensors)
    (root / 'dataset.yaml').write_text(
        f'name: mine\ndet_classes: [person, car]\nsensors:\n{sensor_yaml}'
        f'targets:\n  boxes: {boxes_yaml}\n')
    return root


def test_generic_layout_yolo_and_voc_boxes(tmp_path):
    root = _generic(tmp_path / 'yolo', '{dir: labels, format: yolo}', sensors=('thermal', ))
    (root / 'labels').mkdir()
    (root / 'labels' / 'a.txt').write_text('1 0.5 0.5 0.25 0.5\n')
    ds = GenericMultiSensorDataset(str(root))
    assert ds.load_sample(0)['gt_bboxes'].tolist() == [[12, 6, 20, 18]]
    assert ds.load_sample(0)['gt_bboxes_labels'].tolist() == [1]
    assert ds.load_sample(1)['gt_bboxes'] is None and ds.box_report.unannotated == ['b']
    (root / 'labels' / 'a.txt').write_text('2 0.5 0.5 0.25 0.5\n')
    with pytest.raises(SensorError, match='a class id in 0..1') as err:
        GenericMultiSensorDataset(str(root))
    _assert_names(err, root / 'labels' / 'a.txt', line=1)

    root = _generic(tmp_path / 'voc', '{dir: Annotations, format: voc}')
    (root / 'Annotations').mkdir()
    (root / 'Annotations' / 'b.xml').write_text(_voc([dict(name='car', box=(1, 2, 3, 4))]))
    ds = GenericMultiSensorDataset(str(root), det_classes=TARGET)
    sample = ds.load_sample(1)
    assert sample['gt_bboxes_labels'].tolist() == [2] and sample['det_labelled'] == (0, 2)
    with pytest.raises(SensorError, match='targets.boxes'):
        GenericMultiSensorDataset(str(_generic(tmp_path / 'bad', '{dir: labels, format: txt}')))
    with pytest.raises(SensorError, match='COCO boxes'):           # the writer is COCO-only
        GenericLayoutWriter(root, dict(name='mine', det_classes=['person', 'car']))


def test_generic_layout_boxes_spec_round_trips(tmp_path):
    from perception.datasets import LayoutSpec
    root = _generic(tmp_path, '{dir: labels, format: voc}')
    spec = LayoutSpec.load(root / 'dataset.yaml')
    assert (spec.boxes_file, spec.boxes_dir, spec.boxes_format) == (None, 'labels', 'voc')
    assert spec.to_dict()['targets']['boxes'] == dict(dir='labels', format='voc')
    coco = LayoutSpec.from_dict(dict(name='x', sensors=dict(rgb=dict(dir='rgb', encoding='rgb8')),
                                     targets=dict(boxes=dict(file='a.json', format='coco'))))
    assert coco.boxes_file == 'a.json' and coco.to_dict()['targets']['boxes'] == dict(file='a.json')


# ----------------------------------------------------------------------------- class map

def _synthetic(**kwargs):
    return SyntheticRGBTDDataset(split='val', num_samples=6, img_size=(64, 80), seed=3, **kwargs)


def test_synthetic_classes_map_and_drop_in_the_config():
    plain, mapped = _synthetic(), _synthetic(det_classes=TARGET, det_class_map=SYNTH_MAP)
    assert mapped.metainfo['det_classes'] == TARGET
    assert mapped.metainfo['seg_classes'] == plain.metainfo['seg_classes']
    assert mapped.det_labelled == (0, 2)
    seen = Counter()
    for i in range(len(plain)):
        a, b = plain.load_sample(i), mapped.load_sample(i)
        keep = np.isin(a['gt_bboxes_labels'], [0, 1])        # person, vehicle
        np.testing.assert_array_equal(b['gt_bboxes'], a['gt_bboxes'][keep])
        np.testing.assert_array_equal(b['gt_bboxes_labels'],
                                      np.array([0, 2])[a['gt_bboxes_labels'][keep]])
        assert b['det_labelled'] == (0, 2) and 'det_labelled' not in a
        seen.update(a['gt_bboxes_labels'].tolist())
    assert seen[1] and (seen[2] or seen[3])                   # the map had work to do
    cached = _synthetic(det_classes=TARGET, det_class_map=SYNTH_MAP, cache=True)
    for _ in range(2):                                        # the cache keeps the source labels
        np.testing.assert_array_equal(cached.load_sample(0)['gt_bboxes_labels'],
                                      mapped.load_sample(0)['gt_bboxes_labels'])


@pytest.mark.parametrize('kwargs, expected, fix', [
    (dict(det_classes=TARGET), "det class 'vehicle' of this dataset is not in det_classes",
     'det_class_map=dict(vehicle=None) to drop its boxes on purpose'),
    (dict(det_classes=TARGET, det_class_map=dict(vehicle='car')), "det class 'animal'",
     'det_class_map=dict(animal=None)'),
    (dict(det_classes=TARGET, det_class_map=dict(SYNTH_MAP, truck='car')),
     "key 'truck' is not a class of this dataset", "'vehicle'"),
    (dict(det_classes=TARGET, det_class_map=dict(SYNTH_MAP, vehicle='lorry')),
     "'lorry' is not in det_classes", 'or None to drop'),
    (dict(det_class_map=SYNTH_MAP), 'det_class_map needs det_classes', "model's class list"),
    (dict(det_classes=('person', 'person')), 'distinct class names', "'person', 'person'"),
])
def test_class_map_errors_name_the_class_and_the_fix(kwargs, expected, fix):
    with pytest.raises(ConfigError, match=expected) as err:
        _synthetic(**kwargs)
    assert 'SyntheticRGBTDDataset' in str(err.value) and fix in str(err.value)


def test_real_box_dataset_map_drop_and_det_labelled_in_packed_metainfo(tmp_path):
    root = _msrs_layout(tmp_path, labels={'00001N': '0 0.5 0.5 0.25 0.5\n1 0.5 0.5 0.25 0.5\n'
                                                    '2 0.5 0.5 0.25 0.5\n', '00002D': ''})
    ds = MSRSDetDataset(str(root), det_classes=('car', 'person'),
                        det_class_map=dict(bicycle=None), pipeline=PACK_PIPELINE)
    packed = ds[0]['data_samples']
    assert packed.det_labelled == (0, 1) and ds.metainfo['det_classes'] == ('car', 'person')
    assert packed.gt_instances.labels.tolist() == [1, 0]      # person -> 1, bicycle dropped
    assert packed.metainfo['condition'] == 'night'
    assert ds[1]['data_samples'].det_labelled == (0, 1)
    assert 'det_labelled' not in MSRSDetDataset(str(root), pipeline=PACK_PIPELINE)[0][
        'data_samples']                                       # no class map: not recorded
    synth = _synthetic(det_classes=TARGET, det_class_map=SYNTH_MAP,
                       pipeline=[dict(type='PackMultiSensorInputs')])
    assert synth[0]['data_samples'].det_labelled == (0, 2)
    assert 'det_labelled' in PackMultiSensorInputs().meta_keys


def test_synthetic_and_real_box_datasets_concatenate(tmp_path):
    synth = DATASETS.build(dict(type='SyntheticRGBTDDataset', split='train', num_samples=2,
                                img_size=(64, 80), det_classes=TARGET, det_class_map=SYNTH_MAP,
                                pipeline=PACK_PIPELINE[1:]))
    llvip = DATASETS.build(dict(type='LLVIPDataset', data_root=str(_llvip_layout(tmp_path)),
                                split='train', det_classes=TARGET, pipeline=PACK_PIPELINE))
    with pytest.raises(ValueError, match='meta information'):
        ConcatDataset([synth, llvip])                          # seg_classes, palette differ
    both = ConcatDataset([synth, llvip], ignore_keys=['seg_classes', 'palette'])
    assert len(both) == 5 and both.metainfo['det_classes'] == TARGET
    assert both.metainfo['seg_classes'][0] == 'sky'            # the first dataset's metainfo
    assert both[0]['data_samples'].det_labelled == (0, 2)
    assert both[2]['data_samples'].det_labelled == (0, )


def test_msrs_ids_and_exclude_ids_select_frames(tmp_path):
    """A split declared in the config (``ids``) and "every frame but the training ones"
    (``exclude_ids``: what makes ``data_root=ANOTHER_FOLDER`` score all of that folder)."""
    root = _msrs_layout(tmp_path, ids=('00001N', '00002D', '00003D'))
    chosen = MSRSDetDataset(str(root), ids=['00003D', '00001N'])
    assert [chosen.get_data_info(i)['img_id'] for i in range(len(chosen))] == ['00003D', '00001N']
    rest = MSRSDetDataset(str(root), exclude_ids=['00002D', '99999N'])   # unknown ids: nothing
    assert [rest.get_data_info(i)['img_id'] for i in range(len(rest))] == ['00001N', '00003D']
    with pytest.raises(SensorError, match='exclude_ids'):
        MSRSDetDataset(str(root), ids=['00001N'], exclude_ids=['00002D'])
    with pytest.raises(SensorError, match='00009N'):
        MSRSDetDataset(str(root), ids=['00009N'])
