"""Losses: dense depth, multi-task weighting, expert load balancing, partial detection labels (task
heads reuse mmseg/mmdet)."""
from .balance import expert_balance_loss
from .depth import DepthL1Loss, SILogLoss, valid_depth
from .dice import MaskedDiceLoss
from .partial_labels import labelled_classes, stop_unlabelled
from .task_weighting import FixedTaskWeighting, UncertaintyTaskWeighting

__all__ = ['expert_balance_loss', 'MaskedDiceLoss', 'DepthL1Loss', 'SILogLoss', 'valid_depth',
           'FixedTaskWeighting', 'UncertaintyTaskWeighting', 'labelled_classes', 'stop_unlabelled']
