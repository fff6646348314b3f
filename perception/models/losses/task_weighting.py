"""Combining per-task losses: fixed weights or learned homoscedastic uncertainty (Kendall et al. 2018).

Both take ``{task: {term name: loss}}`` plus which tasks had any target in the batch, and return the
flat dict mmengine logs (keys ``<task>_<term>``; keys containing ``loss`` are summed into the total)
with one extra non-loss entry per task, ``<task>_weight``, so the weighting can be watched in logs.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from perception.registry import MODELS

TaskLosses = Mapping[str, Mapping[str, Tensor]]


def _flatten(task: str, terms: Mapping[str, Tensor], weight: Tensor) -> Dict[str, Tensor]:
    out = {f'{task}_{name}': weight * value if 'loss' in name else value
           for name, value in terms.items()}
    out[f'{task}_weight'] = weight.detach()
    return out


@MODELS.register_module()
class FixedTaskWeighting(nn.Module):
    """``sum_t w_t * L_t`` with configured ``weights`` (missing tasks weigh 1)."""

    def __init__(self, tasks: Sequence[str], weights: Optional[Mapping[str, float]] = None):
        super().__init__()
        unknown = set(weights or {}) - set(tasks)
        if unknown:
            raise KeyError(f'task weights for tasks not enabled: {sorted(unknown)}')
        self.weights = {t: float((weights or {}).get(t, 1.0)) for t in tasks}

    def forward(self, losses: TaskLosses, has_target: Mapping[str, bool]) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = {}
        for task, terms in losses.items():
            ref = next(iter(terms.values()))
            out.update(_flatten(task, terms, ref.new_tensor(self.weights[task])))
        return out


@MODELS.register_module()
class UncertaintyTaskWeighting(nn.Module):
    """Learned weighting: ``sum_t exp(-s_t) * L_t + s_t`` with ``s_t = log sigma_t^2`` learned.

    The common simplified form of Kendall et al. (no 1/2 factor for regression), used e.g. by
    Liebel & Koerner 2018. The regulariser ``s_t`` is logged as ``<task>_loss_logvar``; it is dropped
    for a task with no target in the batch, otherwise it would push ``s_t`` down with nothing to
    balance it.
    """

    def __init__(self, tasks: Sequence[str], init_log_var: float = 0.0):
        super().__init__()
        self.log_vars = nn.ParameterDict(
            {t: nn.Parameter(torch.tensor(float(init_log_var))) for t in tasks})

    def forward(self, losses: TaskLosses, has_target: Mapping[str, bool]) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = {}
        for task, terms in losses.items():
            s = self.log_vars[task]
            out.update(_flatten(task, terms, torch.exp(-s)))
            out[f'{task}_loss_logvar'] = s if has_target[task] else s * 0.0
        return out
