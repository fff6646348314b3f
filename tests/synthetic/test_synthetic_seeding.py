"""Determinism per (seed, split, index) and disjoint train/val/test seed streams."""
import hashlib
import itertools

import numpy as np
import pytest

from perception.sensors.encodings import get_encoding
from perception.datasets.synthetic import SPLIT_KEYS, generate_sample, sample_seed

SIZE = (96, 128)
ARRAY_KEYS = ('rgb', 'thermal', 'depth', 'gt_sem_seg', 'gt_depth', 'gt_bboxes', 'gt_bboxes_labels',
              'modality_mask')


def fingerprint(sample: dict) -> str:
    h = hashlib.sha256()
    for key in ARRAY_KEYS:
        value = sample[key]
        h.update(key.encode())
        h.update(b'none' if value is None else value.dtype.str.encode() + value.tobytes())
    h.update(sample['condition'].encode())
    return h.hexdigest()


@pytest.mark.parametrize('index', [0, 5])
def test_same_seed_is_byte_identical(index):
    a = generate_sample(index, seed=3, split='train', img_size=SIZE)
    b = generate_sample(index, seed=3, split='train', img_size=SIZE)
    for key in ARRAY_KEYS:
        if a[key] is None:
            assert b[key] is None
        else:
            assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key
    assert (a['condition'], a['img_id']) == (b['condition'], b['img_id'])


def test_other_seed_or_index_differs():
    base = fingerprint(generate_sample(0, seed=3, split='train', img_size=SIZE))
    assert fingerprint(generate_sample(0, seed=4, split='train', img_size=SIZE)) != base
    assert fingerprint(generate_sample(1, seed=3, split='train', img_size=SIZE)) != base


def test_forced_condition_keeps_the_draw_deterministic():
    a = generate_sample(2, seed=1, img_size=SIZE, condition='fog')
    b = generate_sample(2, seed=1, img_size=SIZE, condition='fog')
    assert a['condition'] == 'fog' and fingerprint(a) == fingerprint(b)


def test_split_seed_streams_are_disjoint():
    """Every (seed, split, index) gives a distinct SeedSequence state: the split is part of the
    spawn key, so no index of one split can reproduce a sample of another, whatever the seeds."""
    states = {}
    for seed, split, index in itertools.product((0, 1, 2, 10 ** 6), SPLIT_KEYS, range(300)):
        seq = sample_seed(seed, split, index)
        assert seq.spawn_key[0] == SPLIT_KEYS[split]
        state = tuple(seq.generate_state(4))
        assert state not in states, f'{(seed, split, index)} collides with {states[state]}'
        states[state] = (seed, split, index)


def test_split_samples_are_disjoint():
    prints = {split: {fingerprint(generate_sample(i, seed=0, split=split, img_size=SIZE))
                      for i in range(6)} for split in SPLIT_KEYS}
    for a, b in itertools.combinations(SPLIT_KEYS, 2):
        assert not prints[a] & prints[b], (a, b)
    assert all(len(p) == 6 for p in prints.values())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='split'):
        sample_seed(0, 'holdout', 0)
    with pytest.raises(ValueError, match='>= 0'):
        sample_seed(-1, 'train', 0)
    with pytest.raises(KeyError, match='unknown condition'):
        generate_sample(0, img_size=SIZE, condition='snow')


def test_sample_meets_the_decoded_contract():
    s = generate_sample(1, seed=0, split='val', img_size=SIZE, condition='day')
    h, w = SIZE
    assert s['rgb'].dtype == np.uint8 and s['rgb'].shape == (h, w, 3)
    assert s['thermal'].dtype == np.float32 and s['thermal'].shape == (h, w)
    assert 0 <= s['thermal'].min() and s['thermal'].max() <= 1
    for key in ('depth', 'gt_depth'):
        assert s[key].dtype == np.float32 and s[key].shape == (h, w) and s[key].min() >= 0
    # Already at storage precision (whole mm, 1/65535): the PNG round trip changes nothing.
    for key, enc in (('thermal', 'u16_unit'), ('depth', 'uint16_mm'), ('gt_depth', 'uint16_mm')):
        modality = 'thermal' if key == 'thermal' else 'depth'
        assert np.array_equal(get_encoding(enc, key, modality).quantize(s[key], key), s[key]), key
    assert s['gt_sem_seg'].dtype == np.uint8 and s['gt_sem_seg'].shape == (h, w)
    assert s['gt_bboxes'].dtype == np.float32 and s['gt_bboxes'].shape[1] == 4
    assert s['gt_bboxes_labels'].dtype == np.int64
    assert s['modality_mask'].dtype == bool and s['modality_mask'].tolist() == [True] * 3
    assert s['img_shape'] == s['ori_shape'] == (h, w)
    assert s['sample_idx'] == 1 and s['img_id'] == 'val_0_0000001' and s['condition'] == 'day'


def test_cached_dataset_gives_the_same_samples_and_transforms_cannot_alter_them():
    from perception.datasets.synthetic import SyntheticRGBTDDataset
    plain = SyntheticRGBTDDataset(split='train', num_samples=3, img_size=SIZE, seed=2)
    cached = SyntheticRGBTDDataset(split='train', num_samples=3, img_size=SIZE, seed=2, cache=True)
    first = cached.load_sample(1)
    assert fingerprint(first) == fingerprint(plain.load_sample(1))
    first['rgb'][:] = 0                      # what an in-place transform would do
    first['gt_bboxes'] = first['gt_bboxes'][:0]
    assert fingerprint(cached.load_sample(1)) == fingerprint(plain.load_sample(1))
    assert set(cached._cache) == {1}         # rendered once, kept
