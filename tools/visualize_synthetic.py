"""Draw synthetic samples across conditions into one picture (docs/images/synthetic_grid.png).

Rows are samples, one per condition; columns are RGB, thermal (inferno, fixed -25..55 deg C scale),
the depth sensor's reading and the clean depth target (turbo on a log scale 0.5..60 m, invalid
black), and the label map with the boxes (class colours from the palette). A dropped sensor shows
grey.

    python tools/visualize_synthetic.py [--out docs/images/synthetic_grid.png] [--seed 0]
        [--conditions day night ...] [--size 256 320] [--split val]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perception.datasets.synthetic import (CONDITIONS, DET_CLASSES, PALETTE,  # noqa: E402
                                           generate_sample)

FONT = cv2.FONT_HERSHEY_SIMPLEX
COLUMNS = ('RGB', 'thermal', 'depth (sensor)', 'depth (ground truth)', 'labels + boxes')
LABEL_W, HEADER_H, GAP = 96, 22, 4
DEPTH_LO, DEPTH_HI = 0.5, 60.0


def _text(img, text, org, scale=0.45, colour=(0, 0, 0), thick=1):
    cv2.putText(img, text, org, FONT, scale, colour, thick, cv2.LINE_AA)


def _missing(h: int, w: int, what: str) -> np.ndarray:
    panel = np.full((h, w, 3), 170, np.uint8)
    _text(panel, f'no {what}', (8, h // 2), 0.6, (60, 60, 60))
    return panel


def depth_panel(depth: Optional[np.ndarray], shape) -> np.ndarray:
    if depth is None:
        return _missing(*shape, 'depth')
    d = np.clip(depth, DEPTH_LO, DEPTH_HI)
    scaled = np.log(d / DEPTH_LO) / np.log(DEPTH_HI / DEPTH_LO)
    bgr = cv2.applyColorMap((255 - scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    bgr[depth <= 0] = 0
    return bgr


def thermal_panel(thermal: Optional[np.ndarray], shape) -> np.ndarray:
    if thermal is None:
        return _missing(*shape, 'thermal')
    return cv2.applyColorMap((thermal * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)


def label_panel(sample: dict) -> np.ndarray:
    palette_bgr = np.array([c[::-1] for c in PALETTE], np.uint8)
    img = palette_bgr[sample['gt_sem_seg']].copy()
    for box, label in zip(sample['gt_bboxes'], sample['gt_bboxes_labels']):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), 1)
        _text(img, DET_CLASSES[int(label)][:3], (x0 + 1, max(y0 - 2, 8)), 0.3, (255, 255, 255))
    return img


def sample_row(sample: dict) -> List[np.ndarray]:
    shape = sample['gt_sem_seg'].shape
    rgb = _missing(*shape, 'rgb') if sample['rgb'] is None else sample['rgb'][:, :, ::-1].copy()
    return [rgb, thermal_panel(sample['thermal'], shape), depth_panel(sample['depth'], shape),
            depth_panel(sample['gt_depth'], shape), label_panel(sample)]


def grid(samples: Sequence[dict], titles: Sequence[str], scale: float = 1.0) -> np.ndarray:
    h, w = samples[0]['gt_sem_seg'].shape
    th, tw = int(round(h * scale)), int(round(w * scale))
    cols = len(COLUMNS)
    out = np.full((HEADER_H + len(samples) * (th + GAP), LABEL_W + cols * (tw + GAP), 3), 255,
                  np.uint8)
    for c, name in enumerate(COLUMNS):
        _text(out, name, (LABEL_W + c * (tw + GAP) + 4, HEADER_H - 6))
    for r, (sample, title) in enumerate(zip(samples, titles)):
        y = HEADER_H + r * (th + GAP)
        for i, line in enumerate(title.split('\n')):
            _text(out, line, (4, y + th // 2 + 16 * i), 0.45 if i == 0 else 0.38)
        for c, panel in enumerate(sample_row(sample)):
            x = LABEL_W + c * (tw + GAP)
            out[y:y + th, x:x + tw] = cv2.resize(panel, (tw, th), interpolation=cv2.INTER_NEAREST
                                                 if c >= 2 else cv2.INTER_AREA)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='docs/images/synthetic_grid.png')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--split', default='val')
    ap.add_argument('--first', type=int, default=0, help='index of the first sample')
    ap.add_argument('--size', type=int, nargs=2, default=(256, 320), metavar=('H', 'W'))
    ap.add_argument('--scale', type=float, default=0.75, help='tile size relative to --size')
    ap.add_argument('--conditions', nargs='+', default=list(CONDITIONS), choices=list(CONDITIONS))
    args = ap.parse_args(argv)
    samples, titles = [], []
    for i, cond in enumerate(args.conditions):
        s = generate_sample(args.first + i, args.seed, args.split, tuple(args.size), condition=cond)
        samples.append(s)
        titles.append(f'{cond}\n{args.split} #{args.first + i}')
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), grid(samples, titles, args.scale), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'wrote {out} ({len(samples)} samples)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
