"""Draw guided depth super-resolution on RGB-D-D validation frames (docs/images/real_rgbd.png).

One row per frame: colour | depth input (the x``scale`` sensor, enlarged) | predicted depth | error
map. Depth in the package's one convention (perception.visualization.maps: turbo, near = red,
far = blue, linear in metres, the range printed on each tile, invalid black); the error |pred - gt|
in centimetres with the inferno map of perception.visualization.maps over a fixed range, printed on
the tile with the frame's RMSE and the bicubic baseline's. Frames: evenly spaced through the
validation split (never chosen by how well they look). The model runs through the Predictor, the
path ``perception infer`` takes.

    python tools/visualize_rgbdd.py configs/rgbdd/nano_rgbdd_gdsr_x8.py CKPT \\
        [--frames 4] [--out docs/images/real_rgbd.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

from perception.paths import REPO_ROOT

TILE_W = 320            # each tile is drawn at 320x240 (the frames are 512x384)
ERROR_MAX_CM = 10.0     # error map range: 0 (black) .. 10 cm (white-yellow), clipped above
GAP = 4                 # white pixels between tiles and rows


def _tile(img: np.ndarray, text: str) -> np.ndarray:
    from perception.visualization.panels import label
    h, w = img.shape[:2]
    small = cv2.resize(img, (TILE_W, round(h * TILE_W / w)), interpolation=cv2.INTER_AREA)
    return label(small, text)


def _rmse_cm(pred: np.ndarray, gt: np.ndarray) -> float:
    valid = gt > 0
    return float(np.sqrt(np.mean((pred[valid] - gt[valid]) ** 2)) * 100)


def frame_tiles(rgb: np.ndarray, depth_in: np.ndarray, pred: np.ndarray, gt: np.ndarray,
                scale: int, title: str) -> List[np.ndarray]:
    """RGB uint8 tiles: colour | input | prediction | error, one depth range for the depth tiles."""
    from perception.sensors.depth_resolution import low_resolution
    from perception.visualization.maps import depth_colormap, depth_range_of, thermal_colormap
    from perception.visualization.text import put_text
    rng = depth_range_of(gt)
    error_cm = np.where(gt > 0, np.abs(pred - gt) * 100, 0)
    error = thermal_colormap(error_cm / ERROR_MAX_CM, 'inferno')
    error[gt <= 0] = 0
    bicubic = _rmse_cm(low_resolution(gt, scale).baseline, gt)
    tiles = [_tile(rgb, title), _tile(depth_colormap(depth_in, rng), f'depth in (x{scale})'),
             _tile(depth_colormap(pred, rng), 'predicted depth'),
             _tile(error, f'|error| 0-{ERROR_MAX_CM:g} cm')]
    put_text(tiles[-1], f'RMSE {_rmse_cm(pred, gt):.2f} cm (bicubic {bicubic:.2f})',
             (4, tiles[-1].shape[0] - 8), 0.42)
    return tiles


def render(config: str, checkpoint: str, frames: int) -> np.ndarray:
    from perception.apis.predictor import Predictor
    from perception.datasets import RGBDDDataset
    from perception.models import load_config
    from perception.transforms import DepthDownsample
    cfg = load_config(config)
    data = cfg.test_dataloader.dataset
    scale = next(s['scale'] for s in data.pipeline if s['type'] == 'DepthDownsample')
    dataset = RGBDDDataset(data.data_root, split=data.split)
    predictor = Predictor(config, checkpoint)
    from perception.visualization.panels import pack_rows
    tiles: List[np.ndarray] = []
    for i in np.linspace(0, len(dataset) - 1, frames).round().astype(int):
        sample = DepthDownsample(scale)(dataset.load_sample(int(i)))
        pred = predictor(rgb=sample['rgb'], depth=sample['depth']).depth
        tiles += frame_tiles(sample['rgb'], sample['depth'], pred, sample['gt_depth'], scale,
                             sample['img_id'])
    return pack_rows(tiles, max_width=4 * tiles[0].shape[1] + 3 * GAP, gap=GAP)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from perception.visualization.panels import save_png_256
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--frames', type=int, default=4, help='validation frames, evenly spaced')
    parser.add_argument('--out', type=Path, default=REPO_ROOT / 'docs/images/real_rgbd.png')
    args = parser.parse_args(argv)
    img = render(args.config, args.checkpoint, args.frames)
    print(f'{args.frames} frames -> {save_png_256(args.out, img)}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
