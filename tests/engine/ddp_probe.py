"""A hook for tests/engine/test_distributed.py, imported by its config (``custom_imports``): every rank
logs the process group it actually trains in, as torch.distributed reports it."""
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ProcessGroupProbe(Hook):

    def before_train(self, runner) -> None:
        runner.logger.info(f'process group: backend={dist.get_backend()} '
                           f'world_size={dist.get_world_size()} rank={dist.get_rank()}')
