"""Decode every real sensor sample and draw them into one picture (docs/images/real_samples.png).

Each sample is a tile: its sensors side by side (colour | thermal | depth | depth target), depth in
the package's colour map (perception.visualization.maps: near = warm, far = cool, linear in metres)
with a colour bar labelled in metres, invalid depth black, SUN RGB-D boxes drawn on the colour image.
A missing sensor shows as a grey panel. Tiles are packed into rows. A source with more than
``--per-source`` samples (LLVIP: 100 train frames) shows that many, evenly spaced.

    python tools/visualize_real.py [--root ../shared/data/real] [--out docs/images/real_samples.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from perception.contract import SENSORS
from perception.datasets import REAL_SOURCES, build_real_dataset
from perception.paths import REPO_ROOT, real_data_root
from perception.results import PerceptionResult
from perception.visualization.maps import (depth_colormap, depth_colour_bar, depth_range_of,
                                           thermal_colormap)
from perception.visualization.overlay import draw_result
from perception.visualization.panels import absent_tile, pack_rows, save_png_256
from perception.visualization.text import put_text

PANEL_H = 96            # thumbnail height in pixels
TITLE_H = 14
BAR_W = 44              # colour bar + its labels
GAP = 6


def _fit(img: np.ndarray, width: int, nearest: bool = False) -> np.ndarray:
    # nearest keeps invalid (black) depth pixels from bleeding into valid ones
    return cv2.resize(img, (width, PANEL_H),
                      interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _rgb_panel(sample: dict, width: int, det_classes: Sequence[str]) -> np.ndarray:
    rgb = sample['rgb']
    panel = _fit(rgb, width)
    if sample.get('gt_bboxes') is not None:
        scale = np.array([width / rgb.shape[1], PANEL_H / rgb.shape[0]] * 2, np.float32)
        boxes = PerceptionResult(det_boxes=np.asarray(sample['gt_bboxes'], np.float32) * scale,
                                 det_labels=np.asarray(sample['gt_bboxes_labels'], np.int32),
                                 det_classes=det_classes)
        panel = draw_result(panel, boxes, text_scale=0.3)
    return panel


def sample_tile(title: str, sample: dict, det_classes: Sequence[str],
                show: Sequence[str]) -> np.ndarray:
    """One sample: panels for the sensors in ``show`` (+ gt_depth when present)."""
    h, w = sample['img_shape']
    width = int(round(PANEL_H * w / h))
    depths = [sample[k] for k in ('depth', 'gt_depth') if sample.get(k) is not None]
    rng = depth_range_of(*depths)
    panels: List[np.ndarray] = []
    for key in list(show) + (['gt_depth'] if sample.get('gt_depth') is not None else []):
        value = sample.get(key)
        if value is None:
            panels.append(absent_tile((PANEL_H, width), key, 0.33))
        elif key == 'rgb':
            panels.append(_rgb_panel(sample, width, det_classes))
        elif key == 'thermal':
            panels.append(_fit(thermal_colormap(value), width))
        else:
            panels.append(_fit(depth_colormap(value, rng, legend=False), width, nearest=True))
        put_text(panels[-1], key, (3, PANEL_H - 4), 0.33, outline=None)
    if depths:
        panels.append(depth_colour_bar(PANEL_H, rng, BAR_W))
    body = np.concatenate([np.pad(p, ((0, 0), (0, 2), (0, 0)), constant_values=255)
                           for p in panels], axis=1)
    tile = np.full((TITLE_H + PANEL_H, body.shape[1], 3), 255, np.uint8)
    tile[TITLE_H:] = body
    put_text(tile, title, (2, TITLE_H - 4), 0.36, (0, 0, 0), outline=None)
    return tile


def render(root: Path, max_width: int = 1800, per_source: int = 20) -> Tuple[np.ndarray, int]:
    tiles = []
    for name in REAL_SOURCES:
        ds = build_real_dataset(name, root)
        sensors = [s for s in SENSORS
                   if any(s in ds.get_data_info(i)['sensors'] for i in range(len(ds)))]
        shown = range(len(ds)) if len(ds) <= per_source else \
            np.linspace(0, len(ds) - 1, per_source).round().astype(int).tolist()
        for i in shown:
            sample = ds.load_sample(i)
            cond = f" {sample['condition']}" if sample.get('condition') else ''
            depth_enc = ds.get_data_info(i)['sensors'].get('depth', {}).get('encoding')
            enc = f' [{depth_enc}]' if depth_enc else ''
            tiles.append(sample_tile(f'{name} {sample["img_id"]}{cond}{enc}', sample,
                                     ds.metainfo['det_classes'], sensors))
    return pack_rows(tiles, max_width, GAP), len(tiles)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, default=real_data_root(),
                        help='folder of the real samples (default: %(default)s)')
    parser.add_argument('--out', type=Path, default=REPO_ROOT / 'docs/images/real_samples.png')
    parser.add_argument('--width', type=int, default=1800, help='picture width in pixels')
    parser.add_argument('--per-source', type=int, default=20,
                        help='at most this many samples of one source, evenly spaced')
    args = parser.parse_args(argv)
    img, count = render(args.root, args.width, args.per_source)
    print(f'{count} samples -> {save_png_256(args.out, img)}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
