"""The reconstruction figure of masked pretraining: per held-out frame one row, per sensor three
tiles -- what the encoders saw (hidden patches grey) | the reconstruction (hidden patches
predicted, the visible ones pasted back) | the frame itself. Sensors in the package's colours
(``maps``: thermal in inferno, so that a grey hidden patch stands out; depth tiles of one sensor
share one range in metres); a sensor the frame lacks is a light-grey ``no <sensor>`` tile (it was
neither input nor target).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import cv2
import numpy as np

from .maps import DepthRange, depth_colormap, depth_range_of, thermal_colormap
from .panels import absent_tile, caption_bar, label

#: grey of a hidden patch in the input tile (apart from the lighter absent-sensor grey)
HIDDEN_GREY = 128
TILES = ('input', 'reconstruction', 'target')


def sensor_picture(sensor: str, chw: np.ndarray,
                   depth_range: Optional[DepthRange] = None) -> np.ndarray:
    """(C, H, W) values in the contract's units (rgb 0..255, thermal [0, 1], depth metres) as an
    RGB uint8 picture in the package's colours (thermal: inferno)."""
    if sensor == 'rgb':
        return np.ascontiguousarray(np.clip(np.rint(chw.transpose(1, 2, 0)), 0, 255)
                                    .astype(np.uint8))
    if sensor == 'thermal':
        return thermal_colormap(chw[0], 'inferno')
    return depth_colormap(chw[0], depth_range, legend=False)


def sensor_tiles(sensor: str, views: Mapping[str, np.ndarray]) -> list:
    """The three pictures of one present sensor, unlabelled: ``views`` holds ``input``,
    ``reconstruction``, ``target`` (C, H, W) and ``visible`` (1, H, W) bool."""
    rng = depth_range_of(views['target'][0]) if sensor == 'depth' else None
    tiles = []
    for kind in TILES:
        picture = sensor_picture(sensor, views[kind], rng)
        if kind == 'input':
            picture[~views['visible'][0]] = HIDDEN_GREY
        tiles.append(picture)
    return tiles


def reconstruction_row(frame: Mapping[str, Mapping[str, np.ndarray]], sensors: Sequence[str],
                       height: int = 160, title: str = '') -> np.ndarray:
    """One frame: for each of ``sensors`` input | reconstruction | target, tiles ``height`` px tall.

    Args:
        frame: sensor -> its views (``sensor_tiles``); a sensor not in it is absent.
        sensors: the model's sensors, in order.
        height: tile height (the frame is scaled, keeping its aspect).
        title: printed on the first tile of a present sensor (e.g. the frame id).
    """
    shape = tuple(next(iter(frame.values()))['target'].shape[-2:])
    width = max(1, round(shape[1] * height / shape[0]))
    tiles = []
    for sensor in sensors:
        if sensor not in frame:
            tiles += [absent_tile((height, width), sensor)] * len(TILES)
            continue
        for kind, picture in zip(TILES, sensor_tiles(sensor, frame[sensor])):
            text = f'{title}: {sensor} {kind}' if title else f'{sensor} {kind}'
            title = ''
            tiles.append(label(cv2.resize(picture, (width, height),
                                          interpolation=cv2.INTER_AREA), text))
    return np.concatenate(tiles, axis=1)


def reconstruction_figure(frames: Sequence[Mapping[str, Mapping[str, np.ndarray]]],
                          sensors: Sequence[str], titles: Sequence[str] = (),
                          caption: str = '', height: int = 160) -> np.ndarray:
    """Rows of ``reconstruction_row`` (one per frame, padded to the widest), with an optional
    caption bar on top."""
    rows = [reconstruction_row(f, sensors, height, t)
            for f, t in zip(frames, list(titles) + [''] * len(frames))]
    width = max(r.shape[1] for r in rows)     # frames of other aspect ratios: padded white
    figure = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)),
                                    constant_values=255) for r in rows], axis=0)
    if caption:
        figure = np.concatenate([caption_bar(figure.shape[1], caption), figure], axis=0)
    return figure
