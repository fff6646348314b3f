"""Tiles side by side: one picture per frame for people (the sensors given, then the predictions), the
tile of an absent sensor, rows and shelves of tiles, and writing them as PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from perception.contract import SENSORS
from perception.results import PerceptionResult

from .colors import base_image
from .maps import DepthRange, depth_colormap, depth_range_of, thermal_colormap
from .overlay import draw_result
from .text import put_text

#: Grey of the tile standing for an absent sensor.
ABSENT_GREY = 200


def label(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` (contiguous) with ``text`` at its top left, white on a black outline."""
    return put_text(np.ascontiguousarray(img), text, (4, 14))


def absent_tile(shape: Tuple[int, int], name: str, scale: float = 0.45) -> np.ndarray:
    """RGB uint8 light-grey tile of ``shape`` (H, W) saying ``no <name>`` halfway down: a sensor the
    frame does not have, drawn so a reader sees what the network had to work with."""
    tile = np.full((*shape, 3), ABSENT_GREY, np.uint8)
    return put_text(tile, f'no {name}', (4, shape[0] // 2), scale, (60, 60, 60), outline=None)


def result_panel(result: PerceptionResult, rgb: Optional[np.ndarray] = None,
                 thermal: Optional[np.ndarray] = None, depth: Optional[np.ndarray] = None,
                 title: str = '', depth_range: Optional[DepthRange] = None,
                 sensors: Sequence[str] = SENSORS) -> np.ndarray:
    """One frame as an RGB uint8 row: rgb | thermal | depth in | segmentation + boxes | depth out.

    Args:
        result: the prediction, at the frame's resolution.
        rgb, thermal, depth: the decoded sensors given (None: absent, drawn as a grey tile).
        title: printed on the overlay tile.
        depth_range: (near, far) metres of both depth tiles; default: over both, so they compare.
        sensors: which input tiles to draw.

    Returns:
        RGB uint8 (H, W * tiles, 3).
    """
    shape = next(x.shape[:2] for x in (rgb, thermal, depth, result.seg_labels, result.depth)
                 if x is not None)
    rng = depth_range or depth_range_of(depth, result.depth)
    inputs = {'rgb': lambda: rgb.copy(), 'thermal': lambda: thermal_colormap(thermal),
              'depth': lambda: depth_colormap(depth, rng)}
    tiles = []
    for s, value in (('rgb', rgb), ('thermal', thermal), ('depth', depth)):
        if s in sensors:
            tiles.append(label(inputs[s](), f'{s} in' if s == 'depth' else s) if value is not None
                         else absent_tile(shape, s))
    base = base_image(rgb, thermal, depth, shape)
    tiles.append(label(draw_result(base, result), f'{title} seg + boxes'.strip()))
    if result.depth is not None:
        tiles.append(label(depth_colormap(result.depth, rng), 'depth out (m)'))
    return np.concatenate(tiles, axis=1)


def caption_bar(width: int, text: str) -> np.ndarray:
    """RGB uint8 black strip with ``text``: the title of a block of pictures."""
    return put_text(np.zeros((18, width, 3), np.uint8), text, (4, 13), 0.45, outline=None)


def stack_rows(images: Sequence[np.ndarray], width: int = 1600) -> np.ndarray:
    """Rows of different sizes resized to one width and stacked (the demo's summary picture)."""
    rows = [cv2.resize(img, (width, max(1, round(img.shape[0] * width / img.shape[1]))),
                       interpolation=cv2.INTER_AREA) for img in images]
    return np.concatenate(rows, axis=0)


def pack_rows(tiles: Sequence[np.ndarray], max_width: int, gap: int = 6,
              background: int = 255) -> np.ndarray:
    """Shelf packing: tiles left to right, a new row when the next one does not fit."""
    rows, row, row_w = [], [], 0
    for tile in tiles:
        if row and row_w + tile.shape[1] > max_width:
            rows.append(row)
            row, row_w = [], 0
        row.append(tile)
        row_w += tile.shape[1] + gap
    rows.append(row)
    canvas_rows = []
    for row in rows:
        h = max(t.shape[0] for t in row)
        line = np.full((h + gap, max_width, 3), background, np.uint8)
        x = 0
        for t in row:
            line[:t.shape[0], x:x + t.shape[1]] = t
            x += t.shape[1] + gap
        canvas_rows.append(line)
    return np.concatenate(canvas_rows, axis=0)


def save_rgb(path: Union[str, Path], img: np.ndarray) -> None:
    """Write an RGB picture (PNG, maximum compression, or JPEG by suffix); raise if OpenCV cannot."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(img[:, :, ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'could not write {path}')


def save_png_256(path: Union[str, Path], img: np.ndarray) -> str:
    """An RGB picture as a 256-colour PNG: thumbnails of photos stay readable at a fraction of the
    size (the pictures committed under docs/images).

    Args:
        path: the PNG to write (its folder is created).
        img: RGB uint8 (H, W, 3).

    Returns:
        What was written, for the tool's log: ``'<path> (<W>x<H>, <size> MB)'``.
    """
    from PIL import Image   # matplotlib's dependency, in the train extra
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(img)).quantize(256, dither=Image.Dither.NONE).save(
        path, optimize=True)
    return f'{path} ({img.shape[1]}x{img.shape[0]}, {Path(path).stat().st_size / 1e6:.2f} MB)'
