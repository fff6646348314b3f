"""Losses: dense depth, multi-task weighting, expert load balancing (task heads reuse mmseg/mmdet)."""
from .balance import expert_balance_loss
from .depth import DepthL1Loss, SILogLoss, valid_depth
from .dice import MaskedDiceLoss
from .task_weighting import FixedTaskWeighting, UncertaintyTaskWeighting

__all__ = ['expert_balance_loss', 'MaskedDiceLoss', 'DepthL1Loss', 'SILogLoss', 'valid_depth',
           'FixedTaskWeighting', 'UncertaintyTaskWeighting']
