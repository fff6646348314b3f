"""Box label files as published, one file per image: YOLO txt and Pascal VOC XML.

Used by every source whose boxes come in these forms (``LLVIPDataset``, ``VisibleInfraredDataset``
with ``box_dir``, the generic layout's ``targets.boxes: {dir, format}``); docs/data.md states the
rules below.

* **YOLO** (darknet / Ultralytics): ``<id>.txt``, one object a line ``class cx cy w h``; ``class``
  an integer index into the declared class list, centre and size normalised by the image width
  and height (so the image is read, header only, for its size). Blank lines are skipped; an empty
  file is an annotated image with zero boxes.
* **Pascal VOC**: ``<id>.xml``, ``annotation/object`` with ``name`` (a class name) and
  ``bndbox/{xmin, ymin, xmax, ymax}`` in pixels, read as stored (mmdet 3.x ``XMLDataset`` does the
  same); ``size/{width, height}`` is the image size the boxes were drawn on (checked against the
  decoded image by the loader). ``difficult`` and ``truncated`` objects are **loaded as ordinary
  boxes** (the decoded sample has no ignore flag, and leaving them out would teach the detector
  that the object is background) and counted in the folder's report, which the datasets log.

Every problem is a ``SensorError`` (sensor ``'boxes'``) naming the file and, for a problem inside
it, the line (field ``'line N'``): malformed XML or line, wrong field count, a value that is not a
finite number, a class outside the declared list, w or h <= 0, a box outside the image by more than
:data:`BOX_TOLERANCE_PX` (a box within it is clipped to the image), a label file without any image.
"""
from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from xml.parsers import expat

import numpy as np
from mmengine.logging import print_log

from perception.contract import SensorError

from .base import box_annotation, index_folder
from .coco_boxes import ImageBoxes

#: Box formats of a folder of per-image label files -> the suffix of those files.
BOX_FORMATS: Dict[str, str] = {'yolo': '.txt', 'voc': '.xml'}
#: How far (pixels) a box may reach outside the image before it is an error: annotation tools
#: round to the pixel, and VOC's xmax may name the last pixel's far edge. Within it, the box is
#: clipped to the image.
BOX_TOLERANCE_PX = 1.0
#: LabelImg writes its class list as ``classes.txt`` next to the YOLO label files: not a label.
YOLO_CLASS_LIST = 'classes'

Shape = Tuple[int, int]


@dataclass
class FileBoxes(ImageBoxes):
    """:class:`ImageBoxes` of one label file plus the VOC flags of its (loaded) objects."""
    difficult: int = 0
    truncated: int = 0


@dataclass
class BoxFolderReport:
    """What one folder of label files gave: files read, boxes per class, VOC flags, and the
    sample ids that had no label file (not annotated: ``boxes`` None)."""
    folder: str
    files: int = 0
    boxes: Dict[str, int] = field(default_factory=dict)
    difficult: int = 0
    truncated: int = 0
    unannotated: List[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f'{self.folder}: {self.files} label files, boxes per class {self.boxes}')
        if self.difficult or self.truncated:
            text += (f'; loaded as ordinary boxes: {self.difficult} marked difficult, '
                     f'{self.truncated} truncated')
        if self.unannotated:
            text += (f'; {len(self.unannotated)} samples without a label file are not annotated '
                     f'(no box loss), e.g. {self.unannotated[:3]}')
        return text


def image_size(path) -> Shape:
    """``(H, W)`` of an image file from its header (``.npy``: its array shape), without decoding."""
    path = Path(path)
    try:
        if path.suffix.lower() == '.npy':
            return tuple(int(s) for s in np.load(path, mmap_mode='r').shape[:2])
        from PIL import Image   # matplotlib's dependency (mmengine's): reads the header only
        with Image.open(path) as img:
            w, h = img.size
        return int(h), int(w)
    except (OSError, ValueError) as exc:
        raise SensorError('boxes', 'image size', 'a readable image (its size scales the boxes)',
                          f'{type(exc).__name__}: {exc}', str(path))


def _number(text, what: str, fail) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise fail(f'{what}: a number', repr(text))
    if not math.isfinite(value):
        raise fail(f'{what}: a finite number', repr(text))
    return value


def _inside(box: Sequence[float], shape: Shape, fail) -> List[float]:
    """``box`` xyxy checked against the image (tolerance :data:`BOX_TOLERANCE_PX`) and clipped."""
    x1, y1, x2, y2 = box
    h, w = shape
    if x2 <= x1 or y2 <= y1:
        raise fail('a box with width and height > 0', f'xyxy {[round(v, 2) for v in box]}')
    tol = BOX_TOLERANCE_PX
    if x1 < -tol or y1 < -tol or x2 > w + tol or y2 > h + tol:
        raise fail(f'a box inside the {h}x{w} (HxW) image (tolerance {tol:g} px)',
                   f'xyxy {[round(v, 2) for v in box]}')
    clipped = [min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w),
               min(max(y2, 0.0), h)]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise fail(f'a box overlapping the {h}x{w} (HxW) image',
                   f'xyxy {[round(v, 2) for v in box]}')
    return [float(np.float32(v)) for v in clipped]


def read_yolo_boxes(path, det_classes: Sequence[str], shape: Shape) -> FileBoxes:
    """Boxes of one YOLO txt (``class cx cy w h`` normalised) on an image of ``shape`` (H, W).

    Returns :class:`FileBoxes` with xyxy pixel boxes and label indices into ``det_classes``.
    """
    path = str(path)
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SensorError('boxes', 'file', 'a readable YOLO txt', f'{type(exc).__name__}: {exc}',
                          path)
    h, w = shape
    out = FileBoxes(shape=(int(h), int(w)))
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue

        def fail(expected, got=None, n=n):
            return SensorError('boxes', f'line {n}', expected, got, path)

        if len(fields) != 5:
            raise fail('5 fields: class cx cy w h (normalised)', f'{len(fields)} fields {line!r}')
        try:
            label = int(fields[0])
        except ValueError:
            raise fail('an integer class id', repr(fields[0]))
        if not 0 <= label < len(det_classes):
            raise fail(f'a class id in 0..{len(det_classes) - 1} (det_classes '
                       f'{list(det_classes)})', label)
        cx, cy, bw, bh = (_number(v, name, fail)
                          for v, name in zip(fields[1:], ('cx', 'cy', 'w', 'h')))
        if bw <= 0 or bh <= 0:
            raise fail('w and h > 0', f'w={fields[3]} h={fields[4]}')
        box = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
        out.bboxes.append(_inside(box, (h, w), fail))
        out.labels.append(label)
    return out


def _parse_xml_with_lines(path: str) -> Tuple[ET.Element, Dict[ET.Element, int]]:
    """The XML tree of ``path`` and the line each element starts on (xml.etree keeps none)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    lines: Dict[ET.Element, int] = {}

    def start(tag, attrs):
        lines[builder.start(tag, attrs)] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(Path(path).read_bytes(), True)
    except OSError as exc:
        raise SensorError('boxes', 'file', 'a readable VOC XML', f'{type(exc).__name__}: {exc}',
                          path)
    except expat.ExpatError as exc:
        raise SensorError('boxes', f'line {exc.lineno}', 'well-formed XML (Pascal VOC)',
                          expat.ErrorString(exc.code), path)
    return builder.close(), lines


def read_voc_boxes(path, det_classes: Sequence[str],
                   shape: Union[None, Shape, Callable[[], Shape]] = None) -> FileBoxes:
    """Boxes of one Pascal VOC XML; object names must be in ``det_classes``.

    ``shape``: (H, W) of the image, or a function giving it, used only when the file has no
    ``size`` (or a zero one). Returns :class:`FileBoxes` (``shape`` = the annotated size).
    """
    path = str(path)
    root, lines = _parse_xml_with_lines(path)

    def failer(element):
        n = lines.get(element, 1)
        return lambda expected, got=None: SensorError('boxes', f'line {n}', expected, got, path)

    if root.tag != 'annotation':
        raise failer(root)('a Pascal VOC <annotation> root element', f'<{root.tag}>')

    def child_number(parent, tag, default=None):
        el = parent.find(tag)
        if el is None:
            if default is not None:
                return default
            raise failer(parent)(f'<{tag}> inside <{parent.tag}>', 'none')
        return _number((el.text or '').strip(), f'<{tag}>', failer(el))

    size = root.find('size')
    width = height = 0.0
    if size is not None:
        width, height = child_number(size, 'width', 0.0), child_number(size, 'height', 0.0)
    if width > 0 and height > 0:
        if width != int(width) or height != int(height):
            raise failer(size)('an integer image width and height', f'{width}x{height}')
        img_shape = (int(height), int(width))
    elif shape is None:
        raise failer(root)('<size> with width and height > 0 (the image size)', 'none')
    else:
        img_shape = tuple(int(v) for v in (shape() if callable(shape) else shape))
    class_index = {name: i for i, name in enumerate(det_classes)}
    out = FileBoxes(shape=img_shape)
    for obj in root.iter('object'):
        name_el = obj.find('name')
        name = None if name_el is None else (name_el.text or '').strip()
        if name_el is None or not name:
            raise failer(obj)('<name> inside <object>', 'none')
        if name not in class_index:
            raise failer(name_el)(f'a class name in det_classes {list(det_classes)}', repr(name))
        bndbox = obj.find('bndbox')
        if bndbox is None:
            raise failer(obj)('<bndbox> inside <object>', 'none')
        box = [child_number(bndbox, tag) for tag in ('xmin', 'ymin', 'xmax', 'ymax')]
        out.bboxes.append(_inside(box, img_shape, failer(bndbox)))
        out.labels.append(class_index[name])
        out.difficult += bool(child_number(obj, 'difficult', 0.0))
        out.truncated += bool(child_number(obj, 'truncated', 0.0))
    return out


def check_box_format(fmt: str, where: str) -> str:
    """``fmt`` checked against :data:`BOX_FORMATS`; ``where`` names the config or file."""
    if fmt not in BOX_FORMATS:
        raise SensorError('boxes', 'format', f'one of {sorted(BOX_FORMATS)}', repr(fmt), where)
    return fmt


def load_box_folder(folder, fmt: str, det_classes: Sequence[str], ids: Sequence[str],
                    images: Mapping[str, Sequence[Path]], log: bool = True
                    ) -> Tuple[Dict[str, dict], BoxFolderReport]:
    """The boxes of ``ids`` from a folder of label files ``<id>.txt`` (YOLO) / ``<id>.xml`` (VOC).

    Args:
        folder: the label folder; it must exist.
        fmt: ``'yolo'`` or ``'voc'``.
        det_classes: the dataset's own classes (YOLO ids index them, VOC names must be in them).
        ids: the sample ids being loaded (a split of the dataset).
        images: every sample id that has an image, in any split, -> its image files (the first
            gives the size YOLO boxes are normalised by). A label file whose id is not here is an
            error (a label without any image).
        log: log :meth:`BoxFolderReport.summary` (counts, VOC flags, samples without labels).

    Returns ``({id: box_annotation(...)}, report)``; an id without a label file is not in the
    dict (not annotated).
    """
    folder = Path(folder)
    fmt = check_box_format(fmt, str(folder))
    if not folder.is_dir():
        raise SensorError('boxes', 'dir', f'a folder of {fmt} label files', 'no such folder',
                          str(folder))
    files = index_folder(folder, 'boxes', suffixes=(BOX_FORMATS[fmt], ))
    if fmt == 'yolo' and YOLO_CLASS_LIST not in images:
        files.pop(YOLO_CLASS_LIST, None)
    for stem, path in files.items():
        if not images.get(stem):
            raise SensorError('boxes', 'file', 'an image of the same sample id for every label '
                              'file', 'a label file without any image', str(path))
    report = BoxFolderReport(folder=str(folder))
    counts: Counter = Counter()
    out: Dict[str, dict] = {}
    for img_id in ids:
        path = files.get(img_id)
        if path is None:
            report.unannotated.append(img_id)
            continue
        first_image = images[img_id][0]
        if fmt == 'yolo':
            boxes = read_yolo_boxes(path, det_classes, image_size(first_image))
        else:
            boxes = read_voc_boxes(path, det_classes, lambda: image_size(first_image))
        out[img_id] = box_annotation(boxes.bboxes, boxes.labels, path, boxes.shape)
        report.files += 1
        report.difficult += boxes.difficult
        report.truncated += boxes.truncated
        counts.update(det_classes[i] for i in boxes.labels)
    report.boxes = {c: counts[c] for c in det_classes}
    if log:
        print_log(report.summary(), logger='current',
                  level=logging.WARNING if report.unannotated and report.files else logging.INFO)
    return out, report
