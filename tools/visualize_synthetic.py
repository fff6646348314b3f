"""Draw synthetic samples across conditions into one picture (docs/images/synthetic_grid.png).

Rows are samples, one per condition; columns are RGB, thermal (inferno over the [0, 1] intensity,
i.e. the fixed -25..55 deg C scale), the depth sensor's reading and the clean depth target, and the
label map with the boxes. Colours are the package's (perception.visualization): depth near = warm,
far = cool, linear in metres over one range for the whole grid, printed in the column headers,
invalid black; classes in the overlay palette. A dropped sensor shows grey.

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
from perception.datasets.synthetic import (CONDITIONS, DET_CLASSES, SEG_CLASSES,  # noqa: E402
                                           generate_sample)
from perception.results import PerceptionResult  # noqa: E402
from perception.visualization.maps import (DepthRange, depth_colormap,  # noqa: E402
                                           depth_range_of, thermal_colormap)
from perception.visualization.overlay import draw_result  # noqa: E402
from perception.visualization.panels import absent_tile, save_rgb  # noqa: E402
from perception.visualization.text import put_text  # noqa: E402

COLUMNS = ('RGB', 'thermal', 'depth (sensor)', 'depth (ground truth)', 'labels + boxes')
LABEL_W, HEADER_H, GAP = 96, 38, 4


def _text(img, text, org, scale=0.45):
    put_text(img, text, org, scale, (0, 0, 0), outline=None)


def label_panel(sample: dict) -> np.ndarray:
    """Ground-truth classes in the overlay palette, boxes outlined with their class names."""
    gt = PerceptionResult(seg_labels=sample['gt_sem_seg'].astype(np.int32),
                          det_boxes=np.asarray(sample['gt_bboxes'], np.float32).reshape(-1, 4),
                          det_labels=np.asarray(sample['gt_bboxes_labels'], np.int32),
                          seg_classes=SEG_CLASSES, det_classes=[c[:3] for c in DET_CLASSES])
    return draw_result(np.zeros((*sample['gt_sem_seg'].shape, 3), np.uint8), gt, alpha=1.0,
                       text_scale=0.3)


def sample_row(sample: dict, rng: DepthRange) -> List[np.ndarray]:
    shape = sample['gt_sem_seg'].shape

    def sensor(name, draw):
        return absent_tile(shape, name, 0.6) if sample[name] is None else draw(sample[name])
    return [sensor('rgb', np.copy), sensor('thermal', lambda t: thermal_colormap(t, 'inferno')),
            sensor('depth', lambda d: depth_colormap(d, rng, legend=False)),
            depth_colormap(sample['gt_depth'], rng, legend=False), label_panel(sample)]


def grid(samples: Sequence[dict], titles: Sequence[str], scale: float = 1.0) -> np.ndarray:
    """RGB uint8: a header, then one row per sample (its title, then the COLUMNS)."""
    h, w = samples[0]['gt_sem_seg'].shape
    th, tw = int(round(h * scale)), int(round(w * scale))
    cols = len(COLUMNS)
    rng = depth_range_of(*(s[k] for s in samples for k in ('depth', 'gt_depth')))
    out = np.full((HEADER_H + len(samples) * (th + GAP), LABEL_W + cols * (tw + GAP), 3), 255,
                  np.uint8)
    for c, name in enumerate(COLUMNS):
        x = LABEL_W + c * (tw + GAP) + 4
        _text(out, name, (x, HEADER_H - 20))
        if 'depth' in name:   # the range of the colour map, the same for the whole grid
            _text(out, f'red {rng[0]:.1f} m ... blue {rng[1]:.1f} m', (x, HEADER_H - 5), 0.38)
    for r, (sample, title) in enumerate(zip(samples, titles)):
        y = HEADER_H + r * (th + GAP)
        for i, line in enumerate(title.split('\n')):
            _text(out, line, (4, y + th // 2 + 16 * i), 0.45 if i == 0 else 0.38)
        for c, panel in enumerate(sample_row(sample, rng)):
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
    save_rgb(out, grid(samples, titles, args.scale))
    print(f'wrote {out} ({len(samples)} samples)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
