"""Pictures of the TaskExpert decoder's routing: which slot (expert 0..E-1, then the task's memory)
takes the largest gate weight at each pixel, per task and level, and the legend of the slot colours
(``colors.palette``: slot i has colour i everywhere)."""
from __future__ import annotations

from typing import List, Mapping, Optional, Tuple

import cv2
import numpy as np

from .colors import palette
from .text import put_text


def dominant_slot_picture(maps: Mapping[Tuple[str, int], np.ndarray], size: Tuple[int, int],
                          rgb: Optional[np.ndarray] = None) -> np.ndarray:
    """RGB uint8 grid: rows = tasks, columns = strides; each cell colours every pixel by the slot
    with the largest weight (palette index = slot; the memory is the last colour).

    Args:
        maps: (task, stride) -> (E + 1, h, w) gate weights of one frame.
        size: (H, W) of each cell.
        rgb: the frame, drawn as the first cell of every row when given.
    """
    tasks = sorted({t for t, _ in maps})
    strides = sorted({s for _, s in maps})
    h, w = size
    slots = max(g.shape[0] for g in maps.values())
    colours = palette(slots)
    rows: List[np.ndarray] = []
    for task in tasks:
        cells = [] if rgb is None else [cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)]
        for stride in strides:
            g = maps.get((task, stride))
            cell = np.zeros((h, w, 3), np.uint8)
            if g is not None:
                cell = cv2.resize(colours[g.argmax(axis=0)], (w, h), interpolation=cv2.INTER_NEAREST)
            put_text(cell, f'{task} s{stride}', (3, 12), 0.4, outline=None)
            cells.append(cell)
        rows.append(np.concatenate(cells, axis=1))
    return np.concatenate(rows, axis=0)


def slot_legend(width: int, slots: int) -> np.ndarray:
    """RGB uint8 strip of colour swatches: expert 0..E-1, then the memory slot."""
    strip = np.zeros((22, width, 3), np.uint8)
    for i, colour in enumerate(palette(slots)):
        x = 6 + i * 110
        cv2.rectangle(strip, (x, 5), (x + 14, 17), tuple(int(c) for c in colour), -1)
        put_text(strip, 'memory' if i == slots - 1 else f'expert {i}', (x + 18, 16), 0.42,
                 outline=None)
    return strip
