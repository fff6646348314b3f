"""One picture per frame for people: the sensors given, then the predictions, side by side."""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from perception.contract import SENSORS
from perception.results import PerceptionResult


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = np.ascontiguousarray(img)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def _absent(shape, name: str) -> np.ndarray:
    return _label(np.full((*shape, 3), 40, np.uint8), f'{name}: absent')


def result_panel(result: PerceptionResult, rgb: Optional[np.ndarray] = None,
                 thermal: Optional[np.ndarray] = None, depth: Optional[np.ndarray] = None,
                 title: str = '', max_depth: Optional[float] = None,
                 sensors: Sequence[str] = SENSORS) -> np.ndarray:
    """RGB uint8 row: rgb | thermal | depth in | segmentation + boxes | depth out.

    Absent sensors are drawn as grey tiles so a reader sees what the network had to work with.
    """
    from perception.apis.overlay import base_image, depth_colormap, draw_result
    shape = next(x.shape[:2] for x in (rgb, thermal, depth, result.seg_labels, result.depth)
                 if x is not None)
    tiles = []
    if 'rgb' in sensors:
        tiles.append(_label(rgb.copy(), 'rgb') if rgb is not None else _absent(shape, 'rgb'))
    if 'thermal' in sensors:
        tiles.append(_label(np.repeat(np.clip(thermal * 255, 0, 255).astype(np.uint8)[..., None],
                                      3, axis=2), 'thermal') if thermal is not None
                     else _absent(shape, 'thermal'))
    if 'depth' in sensors:
        tiles.append(_label(depth_colormap(depth, max_depth), 'depth in') if depth is not None
                     else _absent(shape, 'depth'))
    base = base_image(rgb, thermal, depth, shape)
    tiles.append(_label(draw_result(base, result), f'{title} seg + boxes'.strip()))
    if result.depth is not None:
        tiles.append(_label(depth_colormap(result.depth, max_depth), 'depth out (m)'))
    return np.concatenate(tiles, axis=1)


def save_rgb(path: str, img: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(img[:, :, ::-1])):
        raise OSError(f'could not write {path}')


def stack_rows(images: Sequence[np.ndarray], width: int = 1600) -> np.ndarray:
    """Rows of different sizes resized to one width and stacked (the demo's summary picture)."""
    rows = [cv2.resize(img, (width, max(1, round(img.shape[0] * width / img.shape[1]))),
                       interpolation=cv2.INTER_AREA) for img in images]
    return np.concatenate(rows, axis=0)
