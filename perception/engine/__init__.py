"""Training/evaluation glue around mmengine's Runner: config handling, hooks, safe checkpoints, the
outputs of masked pretraining."""
from .hooks import DDPConsistencyHook, ProgressBarHook, SensorsSeenHook  # noqa: F401
from .precision import ChannelsLastHook, CPUAutocastOptimWrapper  # noqa: F401
from .pretraining import PretrainedWeightsHook, ReconstructionFigureHook  # noqa: F401
