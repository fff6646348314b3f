"""The node's colour overlay for RViz/Foxglove: ``perception.visualization.overlay`` over the best
available of the node's decoded sensors. numpy only (no cv2 on the node's import path)."""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from perception.visualization.colors import base_image as _base_image
from perception.visualization.colors import palette  # noqa: F401  (the overlay's class colours)
from perception.visualization.overlay import render_overlay  # noqa: F401  (used by outputs)


def base_image(inputs: Mapping[str, Optional[np.ndarray]], shape: tuple) -> np.ndarray:
    """RGB uint8 background from the node's decoded sensors (see visualization.colors.base_image)."""
    return _base_image(inputs.get('rgb'), inputs.get('thermal'), inputs.get('depth'), shape)
