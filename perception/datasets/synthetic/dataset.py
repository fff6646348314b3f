"""``SyntheticRGBTDDataset``: procedural RGB-thermal-depth scenes generated on the fly.

By default nothing is cached: ``prepare_data(i)`` renders sample ``i`` from its seed every time (about
9 ms at 256x320), so the dataset can be as long as wanted and every epoch sees the same frames.
``cache=True`` keeps each rendered sample in memory (about 1 MB at 256x320) so that a dataset read for
several epochs renders each frame once: on 2 cores, rendering is a quarter of the nano's training
step (docs/training.md).
"""
from __future__ import annotations

import copy

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from perception.registry import DATASETS

from ..base import MultiSensorDataset
from .classes import METAINFO
from .conditions import condition_weights
from .generator import SPLIT_KEYS, ConditionSpec, generate_sample


@DATASETS.register_module()
class SyntheticRGBTDDataset(MultiSensorDataset):
    """Synthetic scenes with RGB, thermal, depth, labels, boxes and clean depth.

    Args:
        split: 'train', 'val' or 'test' -- disjoint seed streams (see generator.sample_seed).
        num_samples: length of the dataset.
        img_size: (H, W) of every sensor and target.
        seed: base seed; (seed, split, index) fixes a sample.
        conditions: None (all conditions, uniform), a list of names (uniform) or a dict
            name -> weight. Names: perception.datasets.synthetic.CONDITIONS.
        pipeline: transforms applied to the decoded sample (no loading step needed).
        cache: keep rendered samples in memory (in each loader process); a cached sample is
            handed out as a copy, so transforms never alter it.
        det_classes, det_class_map: the model's detection classes and how the scenes' classes
            (person, vehicle, animal, obstacle) map to them (``MultiSensorDataset``), e.g.
            ``det_classes=('person', 'bicycle', 'car'), det_class_map=dict(vehicle='car',
            animal=None, obstacle=None)``; segmentation classes are not changed.
    """

    METAINFO = dict(METAINFO)

    def __init__(self, split: str = 'train', num_samples: int = 1000,
                 img_size: Tuple[int, int] = (256, 320), seed: int = 0,
                 conditions: ConditionSpec = None, pipeline: Sequence = (),
                 serialize_data: bool = False, metainfo: Optional[dict] = None,
                 cache: bool = False, **kwargs):
        if split not in SPLIT_KEYS:
            raise ValueError(f'split must be one of {tuple(SPLIT_KEYS)}, got {split!r}')
        if int(num_samples) < 0:
            raise ValueError(f'num_samples must be >= 0, got {num_samples}')
        if len(img_size) != 2 or min(img_size) < 32:
            raise ValueError(f'img_size must be (H, W) with both >= 32, got {img_size}')
        condition_weights(conditions)   # validate names and weights now, not in a worker later
        self.split, self.num_samples, self.seed = split, int(num_samples), int(seed)
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.conditions = conditions
        self.cache = bool(cache)
        self._cache: Dict[int, dict] = {}
        super().__init__(pipeline=pipeline, serialize_data=serialize_data, metainfo=metainfo,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        return [dict(sample_idx=i) for i in range(self.num_samples)]

    def load_sample(self, idx: int) -> dict:
        """The decoded sample ``idx`` (docs/contract.md section 1) without the pipeline; with a
        class map, boxes in ``det_classes`` and ``det_labelled`` set."""
        if not 0 <= idx < self.num_samples:
            raise IndexError(f'sample {idx} out of range for {self.num_samples} samples')
        if not self.cache:
            return self.map_det_classes(generate_sample(idx, self.seed, self.split,
                                                        self.img_size, self.conditions))
        if idx not in self._cache:
            self._cache[idx] = generate_sample(idx, self.seed, self.split, self.img_size,
                                               self.conditions)
        return self.map_det_classes({k: v.copy() if isinstance(v, np.ndarray)
                                     else copy.deepcopy(v) for k, v in self._cache[idx].items()})

    def prepare_data(self, idx: int):
        return self.pipeline(self.load_sample(idx))
