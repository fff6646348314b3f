"""Losses: dense depth, multi-task weighting, expert load balancing, partial detection labels (task
heads reuse mmseg/mmdet), distillation from all sensors to sensor subsets, the masked-reconstruction
loss of pretraining."""
from .balance import expert_balance_loss
from .depth import DepthL1Loss, SILogLoss, valid_depth
from .dice import MaskedDiceLoss
from .masked_reconstruction import masked_patch_loss, normalised_patches
from .partial_labels import labelled_classes, stop_unlabelled
from .subset_distillation import SubsetDistillation, strict_subsets
from .task_weighting import FixedTaskWeighting, UncertaintyTaskWeighting

__all__ = ['expert_balance_loss', 'MaskedDiceLoss', 'DepthL1Loss', 'SILogLoss', 'valid_depth',
           'FixedTaskWeighting', 'UncertaintyTaskWeighting', 'labelled_classes', 'stop_unlabelled',
           'masked_patch_loss', 'normalised_patches', 'SubsetDistillation', 'strict_subsets']
