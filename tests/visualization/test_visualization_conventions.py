"""One drawing convention per thing drawn: depth (near warm, far cool, linear in metres, range
printed), thermal grey levels, and labels whose outline sits under the letters."""
from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip('cv2')

from perception.visualization.colors import base_image, thermal_grey  # noqa: E402
from perception.visualization.maps import depth_colormap, thermal_colormap  # noqa: E402
from perception.visualization.text import put_text  # noqa: E402


def _depth_ramp(h: int = 64, w: int = 160) -> np.ndarray:
    depth = np.tile(np.linspace(1.0, 20.0, w, dtype=np.float32), (h, 1))
    depth[:4, :4] = 0.0    # no reading
    return depth


def test_depth_only_background_uses_the_one_depth_convention():
    depth = _depth_ramp()
    base = base_image(None, None, depth, depth.shape)
    np.testing.assert_array_equal(base, depth_colormap(depth))
    near, far = base[20, 8].astype(int), base[20, -8].astype(int)
    assert near[0] > near[2] and far[2] > far[0]     # near red, far blue
    assert not base[:4, :4].any()                    # no reading: black
    # the range is printed on the picture (legend at the bottom left)
    assert not np.array_equal(base, depth_colormap(depth, legend=False))


def test_depth_background_is_linear_in_metres_not_scaled_by_the_frame_maximum():
    """The same depth gets the same colour whatever else the frame holds (same range)."""
    depth = _depth_ramp()
    farther = depth.copy()
    farther[:, -20:] = 80.0
    rng = (1.0, 20.0)
    a, b = depth_colormap(depth, rng, legend=False), depth_colormap(farther, rng, legend=False)
    np.testing.assert_array_equal(a[:, :100], b[:, :100])


def test_thermal_background_and_thermal_tile_share_grey_levels():
    thermal = np.linspace(0, 1, 50, dtype=np.float32).reshape(5, 10)
    thermal[0, 0] = np.nan
    base = base_image(None, thermal, None, thermal.shape)
    np.testing.assert_array_equal(base, thermal_colormap(thermal, 'grey'))
    np.testing.assert_array_equal(base[..., 0], thermal_grey(thermal))
    assert base[0, 0, 0] == 0 and base[-1, -1, 0] == 255


def test_empty_frame_background_is_black():
    assert not base_image(None, None, np.zeros((4, 6), np.float32), (4, 6)).any()
    assert base_image(None, None, None, (4, 6, 3)).shape == (4, 6, 3)


def test_label_outline_sits_under_the_letters():
    """The outline hugs the text (1 px around it), whatever OpenCV's stroke width does to the
    glyph advance: no second, shifted copy of the label."""
    img = np.full((30, 400, 3), 128, np.uint8)
    put_text(img, 'colour 320x240 (reference)', (4, 18))
    white = np.argwhere((img > 200).all(-1))
    dark = np.argwhere((img < 60).all(-1))
    assert len(white) and len(dark)
    (wy0, wx0), (wy1, wx1) = white.min(0), white.max(0)
    (dy0, dx0), (dy1, dx1) = dark.min(0), dark.max(0)
    assert wx0 - 2 <= dx0 <= wx0 and wx1 <= dx1 <= wx1 + 2
    assert wy0 - 2 <= dy0 <= wy0 and wy1 <= dy1 <= wy1 + 2


def test_overlay_takes_label_images_of_any_integer_type():
    """uint8 label PNGs (255 = ignore) and the Predictor's int32 labels blend the same; a frame
    with no valid label is left as it is."""
    from perception.visualization.overlay import render_overlay
    base = np.full((8, 10, 3), 100, np.uint8)
    labels = np.zeros((8, 10), np.int32)
    labels[:, 5:] = 2
    labels[0, 0] = 255
    expected = render_overlay(base, labels, None, None, 0.5)
    assert np.array_equal(render_overlay(base, labels.astype(np.uint8), None, None, 0.5), expected)
    assert np.array_equal(expected[0, 0], base[0, 0]) and not np.array_equal(expected[1, 1],
                                                                             base[1, 1])
    ignored = np.full((8, 10), 255, np.uint8)
    assert np.array_equal(render_overlay(base, ignored, None, None, 0.5), base)


@pytest.mark.parametrize('alpha', [0.0, 0.3, 0.45, 0.5, 1.0])
def test_overlay_blend_is_the_float_blend_rounded(alpha):
    """The overlay's blend table gives, per pixel, rint(base (1 - alpha) + colour alpha) in float32,
    clipped to 0-255, where a class is; the background elsewhere (ignore, negative)."""
    from perception.contract import IGNORE_INDEX
    from perception.visualization.colors import palette
    from perception.visualization.overlay import render_overlay
    rng = np.random.default_rng(int(alpha * 100))
    base = rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)
    labels = rng.integers(0, 12, (48, 64)).astype(np.int32)
    labels[rng.random((48, 64)) < 0.1] = IGNORE_INDEX
    labels[rng.random((48, 64)) < 0.05] = -1
    valid = (labels >= 0) & (labels != IGNORE_INDEX)
    colour = palette(12).astype(np.float32)[np.clip(labels, 0, 11)]
    blended = base.astype(np.float32) * np.float32(1 - alpha) + colour * np.float32(alpha)
    expected = np.where(valid[..., None], np.clip(np.rint(blended), 0, 255).astype(np.uint8), base)
    assert np.array_equal(render_overlay(base, labels, None, None, alpha), expected)
