"""Class lists, ids and palette of the synthetic scenes.

Segmentation covers every pixel (stuff + things); detection covers the things only. Thing classes
keep the same order in both lists, so ``det id = seg id - FIRST_THING``.
"""
from __future__ import annotations

from typing import Dict, Tuple

SEG_CLASSES: Tuple[str, ...] = ('sky', 'ground', 'building', 'vegetation', 'person', 'vehicle',
                                'animal', 'obstacle')
DET_CLASSES: Tuple[str, ...] = ('person', 'vehicle', 'animal', 'obstacle')

SKY, GROUND, BUILDING, VEGETATION, PERSON, VEHICLE, ANIMAL, OBSTACLE = range(len(SEG_CLASSES))
FIRST_THING = PERSON
THING_IDS: Tuple[int, ...] = tuple(range(FIRST_THING, len(SEG_CLASSES)))
assert tuple(SEG_CLASSES[i] for i in THING_IDS) == DET_CLASSES

#: Classes whose bodies are warmer than any background outside thermal crossover / camouflage.
WARM_CLASSES: Tuple[str, ...] = ('person', 'animal')

#: One RGB colour per segmentation class (Cityscapes-like where a Cityscapes class exists).
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (70, 130, 180),   # sky
    (128, 64, 128),   # ground
    (70, 70, 70),     # building
    (107, 142, 35),   # vegetation
    (220, 20, 60),    # person
    (0, 0, 142),      # vehicle
    (255, 140, 0),    # animal
    (220, 220, 0),    # obstacle
)

METAINFO: Dict[str, tuple] = dict(seg_classes=SEG_CLASSES, det_classes=DET_CLASSES, palette=PALETTE)


def det_label(seg_id: int) -> int:
    """Detection class index of a thing's segmentation id."""
    if seg_id not in THING_IDS:
        raise ValueError(f'segmentation class {seg_id} ({SEG_CLASSES[seg_id]}) is not a thing')
    return seg_id - FIRST_THING
