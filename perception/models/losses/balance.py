"""Load-balancing term for dense (softmax) expert gating.

With dense gating every expert gets gradient, but a gate can still put almost all weight on one
expert everywhere, leaving the others unused. The term below penalises uneven *average* usage:
with ``p_k`` the mean gate weight of expert ``k`` over batch and pixels (renormalised over the
experts, the task-memory slot is excluded: relying on memory is legitimate), it returns
``E * sum_k p_k^2 - 1``: 0 for uniform use, ``E - 1`` when one expert takes everything. It is the
soft counterpart of the Switch-Transformer auxiliary loss ``E * sum_k f_k * P_k``.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor


def expert_balance_loss(gates: Iterable[Tensor], num_experts: int) -> Tensor:
    """Mean balance term over gate maps, each (B, E [+ 1 memory slot], H, W)."""
    terms = []
    for g in gates:
        usage = g[:, :num_experts].mean(dim=(0, 2, 3))
        p = usage / usage.sum().clamp_min(1e-12)
        terms.append(num_experts * (p * p).sum() - 1.0)
    if not terms:
        raise ValueError('expert_balance_loss needs at least one gate map')
    return torch.stack(terms).mean()
