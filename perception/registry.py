"""Registries of the ``perception`` scope, children of mmengine's roots (the mmseg/mmdet pattern).

Configs set ``default_scope = 'perception'``; parts of other scopes are reached with a prefix,
e.g. ``dict(type='mmseg.MixVisionTransformer')`` or ``dict(type='mmdet.FCOSHead')``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='perception',
                  locations=['perception.models'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='perception',
                      locations=['perception.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='perception',
                    locations=['perception.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='perception',
                         locations=['perception.datasets'])
# Loading transforms live with the datasets (perception.datasets.loading), the rest in transforms.
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='perception',
                      locations=['perception.transforms', 'perception.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='perception',
                   locations=['perception.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='perception',
                 locations=['perception.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='perception',
                          locations=['perception.engine'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='perception',
                       locations=['perception.visualization.visualizer'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='perception',
                       locations=['perception.visualization'])
# ``init_cfg=dict(type='Pretrained', ...)`` in the perception scope: mmengine's, plus the adaptation
# of a first layer made for other input channels (perception.models.encoders.input_adaptation).
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS,
                               scope='perception', locations=['perception.models'])

# Every training/evaluation entry point imports this module: make checkpoints load safely.
from .compat import apply_compat_patches  # noqa: E402

apply_compat_patches()
