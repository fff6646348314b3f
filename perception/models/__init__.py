"""The multi-task model, in data-flow order:

    data_preprocessor -> encoders -> fusion -> decoders -> heads -> postprocess
    (losses: per-task terms, multi-task weighting, expert balance; perceptor ties it together)

``masked_autoencoder`` pretrains the same encoders and fusion on unlabelled frames (patch_masking,
decoders.reconstruction, losses.masked_reconstruction).

Importing this package registers every part in the ``perception`` registry scope, and imports
``mmseg.models``/``mmdet.models`` so ``type='mmseg.X'``/``'mmdet.X'`` configs resolve.
"""
import mmdet.models  # noqa: F401  (registers mmdet heads, assigners, coders, losses)
import mmseg.models  # noqa: F401  (registers mmseg backbones, decode heads, losses)

from .builder import build_model, build_module, load_config
from .data_preprocessor import MultiSensorDataPreprocessor
from .decoders import PlainDecoder, ReconstructionDecoder, TaskExpertDecoder
from .encoders import LiteNet, MultiSensorEncoder
from .export import ExportForward, ExportWrapper, dummy_inputs
from .fusion import AttentionFusion, ConcatFusion, GatedConcatFusion, RectifyFusion, SumFusion
from .heads import DenseDetHead, DepthHead, SegHead
from .library_model import LibraryModel
from .losses import (DepthL1Loss, FixedTaskWeighting, MaskedDiceLoss, SILogLoss,
                     UncertaintyTaskWeighting, expert_balance_loss)
from .masked_autoencoder import MaskedMultiSensorAutoencoder
from .perceptor import MultiTaskPerceptor
from .postprocess import topk_nms

__all__ = [
    'ExportForward', 'ExportWrapper', 'build_model', 'build_module', 'dummy_inputs', 'load_config',
    'MultiSensorDataPreprocessor', 'PlainDecoder', 'TaskExpertDecoder', 'LiteNet',
    'MultiSensorEncoder', 'AttentionFusion', 'ConcatFusion', 'GatedConcatFusion', 'RectifyFusion',
    'SumFusion', 'DenseDetHead', 'DepthHead', 'SegHead', 'DepthL1Loss', 'FixedTaskWeighting',
    'MaskedDiceLoss', 'SILogLoss', 'UncertaintyTaskWeighting', 'expert_balance_loss',
    'MultiTaskPerceptor', 'topk_nms', 'LibraryModel', 'MaskedMultiSensorAutoencoder',
    'ReconstructionDecoder'
]
