"""Synthetic RGB-thermal-depth scenes with ground truth for segmentation, detection and depth.

``generate_sample(index, seed, split, img_size, conditions)`` returns one decoded sample
(docs/contract.md section 1); ``SyntheticRGBTDDataset`` serves them to mmengine on the fly;
``tools/make_synthetic.py`` writes them in the generic layout. See docs/synthetic.md.
"""
from .classes import DET_CLASSES, METAINFO, PALETTE, SEG_CLASSES, WARM_CLASSES  # noqa: F401
from .conditions import CONDITIONS, Condition, condition_weights, get_condition  # noqa: F401
from .dataset import SyntheticRGBTDDataset  # noqa: F401
from .generator import (SPLIT_KEYS, generate_sample, make_scene, render_sample,  # noqa: F401
                        sample_seed, streams)
