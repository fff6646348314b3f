"""Multi-sensor transform pipeline (docs/transforms.md).

Importing this package registers every transform in ``perception.registry.TRANSFORMS``:

* geometric, identical for every sensor and target: ``Resize``, ``RandomResize``, ``RandomCrop``,
  ``RandomFlip``, ``Pad``;
* photometric, one sensor each: ``RGBColorJitter``, ``LowLightSimulation`` (rgb);
  ``ThermalGainOffsetNoise``, ``ThermalCrossover`` (thermal); ``DepthHoles``, ``DepthNoise``,
  ``DepthQuantize``, ``DepthFlyingPixels``, ``DepthDownsample`` (depth input: a sensor's failures,
  its lower resolution);
* ``ModalityDropout`` (sensor subsets), ``KeepSensors``, ``ConditionMissingness`` (scene-tied
  missingness), ``DropTargets`` (a labelled source read unlabelled, for pretraining) and
  ``PackMultiSensorInputs`` (last step).
"""
import os

# albumentations asks pypi.org for a newer release when imported (a blocking request with a 2 s
# timeout): pointless on robots and offline CI. A user who wants the check sets the variable.
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')

from .depth_corruption import DepthHoles, DepthNoise, DepthQuantize  # noqa: E402
from .depth_sensor import DepthDownsample, DepthFlyingPixels  # noqa: E402
from .formatting import PackMultiSensorInputs  # noqa: E402
from .geometric import Pad, RandomCrop, RandomFlip, RandomResize, Resize  # noqa: E402
from .modality_dropout import KeepSensors, ModalityDropout  # noqa: E402
from .scene_missingness import ConditionMissingness  # noqa: E402
from .rgb_photometric import LowLightSimulation, RGBColorJitter  # noqa: E402
from .thermal_photometric import ThermalCrossover, ThermalGainOffsetNoise  # noqa: E402
from .unlabelled import DropTargets  # noqa: E402

__all__ = [
    'Resize', 'RandomResize', 'RandomCrop', 'RandomFlip', 'Pad', 'RGBColorJitter',
    'LowLightSimulation', 'ThermalGainOffsetNoise', 'ThermalCrossover', 'DepthHoles', 'DepthNoise',
    'DepthQuantize', 'DepthFlyingPixels', 'DepthDownsample', 'ModalityDropout', 'KeepSensors',
    'ConditionMissingness', 'DropTargets', 'PackMultiSensorInputs'
]
