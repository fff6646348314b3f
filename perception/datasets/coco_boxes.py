"""2D boxes in a COCO json, keyed by sample id (the stem of ``images[].file_name``).

Reading: ``bbox`` [x, y, w, h] -> xyxy, categories matched to ``det_classes`` BY NAME, ``iscrowd``
annotations left out (the decoded sample has no ignore flag; mmdet would only ignore them too),
keys of an image entry other than id/file_name/height/width passed through as per-sample metadata.
An image with no annotation is annotated with zero boxes; an image not listed is not annotated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from perception.contract import SensorError

IMAGE_KEYS = ('id', 'file_name', 'height', 'width')


@dataclass
class ImageBoxes:
    """The boxes of one image: xyxy pixels (float32-exact floats) and indices into det_classes."""
    bboxes: List[List[float]] = field(default_factory=list)
    labels: List[int] = field(default_factory=list)
    shape: Tuple[int, int] = None     # (H, W) from the image entry
    extra: Dict[str, Any] = field(default_factory=dict)


def read_coco_boxes(path, det_classes: Sequence[str]) -> Dict[str, ImageBoxes]:
    path = str(path)

    def fail(fld, expected, got=None):
        return SensorError('boxes', fld, expected, got, path)

    try:
        coco = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise fail('file', 'a readable COCO json', f'{type(exc).__name__}: {exc}')
    if not isinstance(coco, Mapping) or not {'images', 'annotations', 'categories'} <= set(coco):
        raise fail('(top level)', 'a COCO json with images, annotations and categories',
                   sorted(coco) if isinstance(coco, Mapping) else type(coco).__name__)
    class_index = {name: i for i, name in enumerate(det_classes)}
    cat_to_label = {}
    for cat in coco['categories']:
        if cat['name'] not in class_index:
            raise fail('categories', f'category names among det_classes {list(det_classes)}',
                       repr(cat['name']))
        cat_to_label[cat['id']] = class_index[cat['name']]

    by_image_id: Dict[Any, str] = {}
    out: Dict[str, ImageBoxes] = {}
    for img in coco['images']:
        missing = [k for k in IMAGE_KEYS if k not in img]
        if missing:
            raise fail('images', f'entries with {IMAGE_KEYS}', f'missing {missing} in {img}')
        stem = Path(img['file_name']).stem
        if stem in out:
            raise fail('images', 'one entry per sample id (file_name stem)', repr(stem))
        by_image_id[img['id']] = stem
        out[stem] = ImageBoxes(shape=(int(img['height']), int(img['width'])),
                               extra={k: v for k, v in img.items() if k not in IMAGE_KEYS})
    for ann in coco['annotations']:
        if ann['image_id'] not in by_image_id:
            raise fail('annotations', 'image_id of a listed image', ann['image_id'])
        if ann['category_id'] not in cat_to_label:
            raise fail('annotations', 'category_id of a listed category', ann['category_id'])
        if ann.get('iscrowd', 0):
            continue
        x, y, w, h = (float(v) for v in ann['bbox'])
        if w < 0 or h < 0:
            raise fail('annotations', 'bbox [x, y, w, h] with w, h >= 0', ann['bbox'])
        entry = out[by_image_id[ann['image_id']]]
        # float64 sums of float32-exact values, then rounded once to float32 (exact round trip)
        entry.bboxes.append([float(np.float32(v)) for v in (x, y, x + w, y + h)])
        entry.labels.append(cat_to_label[ann['category_id']])
    return out


def coco_image_entry(image_id: int, sample_id: str, shape: Tuple[int, int],
                     extra: Mapping[str, Any]) -> dict:
    entry = dict(id=image_id, file_name=f'{sample_id}.png', height=int(shape[0]),
                 width=int(shape[1]))
    entry.update(extra)
    return entry


def coco_annotations(image_id: int, bboxes: np.ndarray, labels: np.ndarray,
                     first_id: int) -> List[dict]:
    """COCO annotations for xyxy float32 boxes; category id = label index + 1."""
    anns = []
    for k, (box, label) in enumerate(zip(np.asarray(bboxes, np.float32).reshape(-1, 4),
                                         np.asarray(labels).reshape(-1))):
        x1, y1, x2, y2 = (float(v) for v in box)   # float32 -> float64 exact, w/h exact in float64
        anns.append(dict(id=first_id + k, image_id=image_id, category_id=int(label) + 1,
                         bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                         iscrowd=0))
    return anns


def coco_categories(det_classes: Sequence[str]) -> List[dict]:
    return [dict(id=i + 1, name=name) for i, name in enumerate(det_classes)]
