"""Text on pictures (OpenCV's Hershey simplex font): one helper, so labels look alike everywhere."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: where the outline is drawn around the text, pixels
OUTLINE_OFFSETS = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)


def put_text(img: np.ndarray, text: str, org: Tuple[int, int], scale: float = 0.45,
             colour: Sequence[int] = (255, 255, 255),
             outline: Optional[Sequence[int]] = (0, 0, 0)) -> np.ndarray:
    """Draw ``text`` with its baseline starting at ``org`` (x, y), in place.

    Args:
        img: uint8 (H, W, 3) picture, contiguous.
        text: the label.
        org: (x, y) of the baseline's start, pixels.
        scale: font scale (0.45 is about 10 px high).
        colour: text colour, in the picture's channel order.
        outline: a 1-pixel outline around the text so it reads on any background; ``None`` for
            plain text on a plain background.

    Returns:
        ``img``.
    """
    if outline is not None:
        # The text itself drawn 1 px around: a thicker stroke would widen OpenCV 5's glyph advance
        # and the outline would no longer sit under the letters.
        x, y = org
        for dx, dy in OUTLINE_OFFSETS:
            cv2.putText(img, text, (x + dx, y + dy), FONT, scale,
                        tuple(int(c) for c in outline), 1, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, tuple(int(c) for c in colour), 1, cv2.LINE_AA)
    return img
