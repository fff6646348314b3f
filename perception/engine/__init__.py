"""Training/evaluation glue around mmengine's Runner: config handling, hooks, safe checkpoints."""
from .hooks import DDPConsistencyHook, ProgressBarHook, SensorsSeenHook  # noqa: F401
from .precision import ChannelsLastHook, CPUAutocastOptimWrapper  # noqa: F401
