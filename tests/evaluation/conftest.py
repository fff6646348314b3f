import pytest
from eval_frames import default_frames


@pytest.fixture
def frames():
    """12 frames with all three targets; frame 3 has no gt box, frames 5 and 8 no detections."""
    return default_frames()
