"""Decode every real sensor sample and draw them into one picture (docs/images/real_samples.png).

Each sample is a tile: its sensors side by side (colour | thermal | depth | depth target), depth
colour-mapped (turbo) with a colour bar labelled in metres, invalid depth black, SUN RGB-D boxes
drawn on the colour image. A missing sensor shows as a grey panel. Tiles are packed into rows.

    python tools/visualize_real.py [--root ../shared/data/real] [--out docs/images/real_samples.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from perception.datasets import REAL_SOURCES, build_real_dataset
from perception.paths import REPO_ROOT, real_data_root

PANEL_H = 96            # thumbnail height in pixels
TITLE_H = 14
BAR_W = 44              # colour bar + its labels
GAP = 6
FONT = cv2.FONT_HERSHEY_SIMPLEX
BG = (255, 255, 255)


def _text(img, text, org, scale=0.33, colour=(0, 0, 0)):
    cv2.putText(img, text, org, FONT, scale, colour, 1, cv2.LINE_AA)


def _fit(img: np.ndarray, width: int) -> np.ndarray:
    return cv2.resize(img, (width, PANEL_H), interpolation=cv2.INTER_AREA)


def _depth_panel(depth: np.ndarray, rng: Tuple[float, float], width: int) -> np.ndarray:
    lo, hi = rng
    scaled = np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    bgr[depth <= 0] = 0
    # nearest keeps invalid (black) pixels from bleeding into valid ones
    return cv2.resize(bgr, (width, PANEL_H), interpolation=cv2.INTER_NEAREST)


def _colour_bar(rng: Tuple[float, float]) -> np.ndarray:
    bar = np.full((PANEL_H, BAR_W, 3), 255, np.uint8)
    ramp = np.linspace(255, 0, PANEL_H - 8).astype(np.uint8)[:, None]
    bar[4:PANEL_H - 4, 2:10] = cv2.applyColorMap(np.repeat(ramp, 8, axis=1), cv2.COLORMAP_TURBO)
    _text(bar, f'{rng[1]:.1f}m', (12, 12))
    _text(bar, f'{(rng[0] + rng[1]) / 2:.1f}m', (12, PANEL_H // 2 + 4))
    _text(bar, f'{rng[0]:.1f}m', (12, PANEL_H - 4))
    return bar


def _missing(width: int, label: str) -> np.ndarray:
    panel = np.full((PANEL_H, width, 3), 200, np.uint8)
    _text(panel, f'no {label}', (4, PANEL_H // 2))
    return panel


def _rgb_panel(sample: dict, width: int, det_classes: Sequence[str]) -> np.ndarray:
    rgb = sample['rgb']
    panel = _fit(np.ascontiguousarray(rgb[:, :, ::-1]), width)
    if sample.get('gt_bboxes') is not None:
        sx, sy = width / rgb.shape[1], PANEL_H / rgb.shape[0]
        for box, label in zip(sample['gt_bboxes'], sample['gt_bboxes_labels']):
            x1, y1, x2, y2 = (int(round(v)) for v in (box[0] * sx, box[1] * sy, box[2] * sx,
                                                     box[3] * sy))
            cv2.rectangle(panel, (x1, y1), (x2, y2), (0, 255, 0), 1)
            _text(panel, det_classes[label], (x1 + 2, max(y1 + 9, 9)), 0.3, (0, 255, 0))
    return panel


def sample_tile(title: str, sample: dict, det_classes: Sequence[str],
                show: Sequence[str]) -> np.ndarray:
    """One sample: panels for the sensors in ``show`` (+ gt_depth when present)."""
    h, w = sample['img_shape']
    width = int(round(PANEL_H * w / h))
    depths = [sample[k] for k in ('depth', 'gt_depth') if sample.get(k) is not None]
    valid = np.concatenate([d[d > 0] for d in depths]) if depths else np.zeros(0)
    rng = (float(np.percentile(valid, 1)), float(np.percentile(valid, 99))) if valid.size \
        else (0.0, 1.0)
    panels: List[np.ndarray] = []
    for key in list(show) + (['gt_depth'] if sample.get('gt_depth') is not None else []):
        value = sample.get(key)
        if value is None:
            panels.append(_missing(width, key))
        elif key == 'rgb':
            panels.append(_rgb_panel(sample, width, det_classes))
        elif key == 'thermal':
            panels.append(cv2.cvtColor(_fit((value * 255).round().astype(np.uint8), width),
                                       cv2.COLOR_GRAY2BGR))
        else:
            panels.append(_depth_panel(value, rng, width))
        _text(panels[-1], key, (3, PANEL_H - 4), 0.33, (255, 255, 255))
    if depths:
        panels.append(_colour_bar(rng))
    body = np.concatenate([np.pad(p, ((0, 0), (0, 2), (0, 0)), constant_values=255)
                           for p in panels], axis=1)
    tile = np.full((TITLE_H + PANEL_H, body.shape[1], 3), 255, np.uint8)
    tile[TITLE_H:] = body
    _text(tile, title, (2, TITLE_H - 4), 0.36)
    return tile


def pack_rows(tiles: Sequence[np.ndarray], max_width: int) -> np.ndarray:
    """Shelf packing: tiles left to right, a new row when the next one does not fit."""
    rows, row, row_w = [], [], 0
    for tile in tiles:
        if row and row_w + tile.shape[1] > max_width:
            rows.append(row)
            row, row_w = [], 0
        row.append(tile)
        row_w += tile.shape[1] + GAP
    rows.append(row)
    canvas_rows = []
    for row in rows:
        h = max(t.shape[0] for t in row)
        line = np.full((h + GAP, max_width, 3), 255, np.uint8)
        x = 0
        for t in row:
            line[:t.shape[0], x:x + t.shape[1]] = t
            x += t.shape[1] + GAP
        canvas_rows.append(line)
    return np.concatenate(canvas_rows, axis=0)


def render(root: Path, max_width: int = 1800) -> Tuple[np.ndarray, int]:
    tiles = []
    for name in REAL_SOURCES:
        ds = build_real_dataset(name, root)
        sensors = [s for s in ('rgb', 'thermal', 'depth')
                   if any(s in ds.get_data_info(i)['sensors'] for i in range(len(ds)))]
        for i in range(len(ds)):
            sample = ds.load_sample(i)
            cond = f" {sample['condition']}" if sample.get('condition') else ''
            depth_enc = ds.get_data_info(i)['sensors'].get('depth', {}).get('encoding')
            enc = f' [{depth_enc}]' if depth_enc else ''
            tiles.append(sample_tile(f'{name} {sample["img_id"]}{cond}{enc}', sample,
                                     ds.metainfo['det_classes'], sensors))
    return pack_rows(tiles, max_width), len(tiles)


def save_png(img: np.ndarray, out: Path) -> None:
    """256-colour PNG: the thumbnails of photos stay readable at a fraction of the size."""
    from PIL import Image   # matplotlib's dependency, in the train extra

    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img[:, :, ::-1]).quantize(256, dither=Image.Dither.NONE).save(
        out, optimize=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, default=real_data_root(),
                        help='folder of the real samples (default: %(default)s)')
    parser.add_argument('--out', type=Path, default=REPO_ROOT / 'docs/images/real_samples.png')
    parser.add_argument('--width', type=int, default=1800, help='picture width in pixels')
    args = parser.parse_args(argv)
    img, count = render(args.root, args.width)
    save_png(img, args.out)
    print(f'{count} samples -> {args.out} ({img.shape[1]}x{img.shape[0]}, '
          f'{args.out.stat().st_size / 1e6:.2f} MB)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
