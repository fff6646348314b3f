"""Pictures for people: overlays of predictions and the mmengine visualiser used by the Runner."""
from .visualizer import MultiTaskVisualizer  # noqa: F401
