"""perception: RGB + thermal + depth multi-task perception (segmentation, detection, depth).

Importing the package is cheap and needs only numpy: the training stack (torch, mmengine, mmseg, mmdet)
is imported by the sub-packages that need it, so an exported model runs with the deployment extra only.
"""
from .contract import (IGNORE_INDEX, INPUT_NAMES, OUTPUT_NAMES, SENSORS, TASKS,  # noqa: F401
                       SensorError)

__version__ = '0.1.0'


def __getattr__(name):  # lazy: `perception.Predictor` without importing torch up front
    if name == 'Predictor':
        from .apis.predictor import Predictor
        return Predictor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
