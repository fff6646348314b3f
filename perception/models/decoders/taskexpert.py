"""``TaskExpertDecoder``: mixture-of-experts decoder with per-task gates and multi-task memory.

Coarse to fine, at every level ``l`` with experts (after a shared top-down path ``x_l``):
  * E experts (one conv with E x C outputs: pointwise or dense 3x3) turn ``x_l`` into E
    task-generic features;
  * each task ``t`` brings its memory ``m_t`` from the coarser level (1x1 conv, upsampled) -- at the
    coarsest level it is initialised from ``x_l``;
  * a per-task gate reads ``[x_l, m_t]`` and outputs per-pixel softmax weights over the E experts
    plus the memory (E + 1 slots); the gated sum is the task-specific feature ``f_t``;
  * the memory is updated: ``m_t <- m_t + update([f_t, m_t])`` and carried to the next finer level.
The memory at the levels a head reads is that task's output (seg/depth: stride 4; det: 8/16/32).
Gating is dense softmax (no top-k, no data-dependent branches), so the graph is static for ONNX.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from torch import Tensor, nn

from perception.contract import SENSORS
from perception.registry import MODELS

from ..layers.reparam import bn_scale_shift
from ..losses.balance import expert_balance_loss
from .base import STRIDES, BaseDecoder, DecoderOutput, TopDownPath, upsample_to


class ExpertBank(nn.Module):
    """E experts on one input, computed as ONE conv with E x C outputs: (B, C, H, W) ->
    (B, E, C, H, W). ``kernel`` 3 = dense 3x3 experts, 1 = pointwise experts (cheap at stride 4).
    ``expansion`` k > 1 makes each expert wider: the conv gives E x kC channels and a grouped 1x1
    (one group per expert) projects each expert back to C (fewer, wider experts for one budget)."""

    def __init__(self, channels: int, num_experts: int, kernel: int, norm_cfg, act_cfg,
                 expansion: int = 1):
        super().__init__()
        if expansion < 1:
            raise ValueError(f'expert_expansion must be >= 1, got {expansion}')
        self.num_experts, self.channels = num_experts, channels
        hidden = num_experts * channels * expansion
        self.conv = ConvModule(channels, hidden, kernel, padding=kernel // 2,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.project = (ConvModule(hidden, num_experts * channels, 1, groups=num_experts,
                                   norm_cfg=norm_cfg, act_cfg=None) if expansion > 1 else None)

    def __len__(self) -> int:
        return self.num_experts

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        y = self.conv(x)
        if self.project is not None:
            y = self.project(y)
        return y.view(b, self.num_experts, self.channels, h, w)


class TaskGates(nn.Module):
    """Every active task's gate in one pass: ``softmax(W2_t act(BN(Wx x + Wm_t m_t [+ Wk_t k])))``
    over the E experts + the task memory, i.e. a 1x1 conv on ``[x, m_t]`` per task, with the ``x``
    part for all tasks in one conv and the memory parts as one grouped conv. With
    ``num_sensors``, the gate also reads the modality mask ``k`` (B, S): routing can depend on
    which sensors are present, so experts can specialise per sensor combination. With ``allowed``
    (T, E + 1) booleans, a task's gate can only choose its own experts (and its memory): the others
    get a constant -1e4 logit (exactly 0 weight after the softmax; a constant add in the exported
    graph, safe in FP16). Returns (B, T, E + 1, H, W)."""

    def __init__(self, channels: int, num_tasks: int, num_experts: int, hidden: int,
                 norm_cfg, act_cfg, num_sensors: int = 0, allowed: Optional[Tensor] = None):
        super().__init__()
        self.num_tasks, self.slots = num_tasks, num_experts + 1
        self.from_x = nn.Conv2d(channels, num_tasks * hidden, 1, bias=False)
        self.from_memory = nn.Conv2d(num_tasks * channels, num_tasks * hidden, 1,
                                     groups=num_tasks, bias=norm_cfg is None)
        self.from_mask = (nn.Linear(num_sensors, num_tasks * hidden, bias=False)
                          if num_sensors else None)
        self.norm = (build_norm_layer(norm_cfg, num_tasks * hidden)[1] if norm_cfg
                     else nn.Identity())
        self.act = build_activation_layer(act_cfg) if act_cfg else nn.Identity()
        self.out = nn.Conv2d(num_tasks * hidden, num_tasks * self.slots, 1, groups=num_tasks)
        if allowed is not None:
            if tuple(allowed.shape) != (num_tasks, self.slots):
                raise ValueError(f'allowed slots {tuple(allowed.shape)}, expected '
                                 f'{(num_tasks, self.slots)}')
            bias = torch.where(allowed.bool(), 0.0, -1e4).view(1, num_tasks, self.slots, 1, 1)
            self.register_buffer('slot_bias', bias, persistent=False)
        else:
            self.slot_bias = None

    def forward(self, x: Tensor, memory: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        b, _, h, w = x.shape
        pre = self.from_x(x) + self.from_memory(memory)
        if self.from_mask is not None:
            if mask is None:
                raise ValueError('TaskGates built with num_sensors needs the modality mask')
            pre = pre + self.from_mask(mask.to(pre.dtype)).view(b, -1, 1, 1)
        hidden = self.act(self.norm(pre))
        logits = self.out(hidden).view(b, self.num_tasks, self.slots, h, w)
        if self.slot_bias is not None:
            logits = logits + self.slot_bias.to(logits.dtype)
        return logits.softmax(2)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the BatchNorm, which follows the *sum* of the two convs, into both of them."""
        if not isinstance(self.norm, nn.modules.batchnorm._BatchNorm):
            return
        scale, shift = bn_scale_shift(self.norm)
        for conv in (self.from_x, self.from_memory):
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
        if self.from_mask is not None:
            self.from_mask.weight.mul_(scale.view(-1, 1))
        bias = self.from_memory.bias if self.from_memory.bias is not None else 0.0
        self.from_memory.bias = nn.Parameter(bias * scale + shift)
        self.norm = nn.Identity()


@MODELS.register_module()
class TaskExpertDecoder(BaseDecoder):
    """Args (besides ``BaseDecoder``'s, which the model fills in):
        num_experts: E, experts per level.
        expert_levels: level indices (0 = stride 4) that carry experts; at the others a task's
            feature is the shared ``x_l`` (no gate), the memory is still updated.
        expert_kernel: 3 (dense 3x3 experts) or 1 (pointwise), per level or one for all.
        gate_channels: hidden width of each gate.
        balance_weight: weight of the load-balancing loss (0 turns it off).
        mask_routing: the gates also read the modality mask (which sensors are present), so that
            experts can specialise per sensor combination.
        expert_expansion: each expert's width as a multiple of the level's (1: as wide as the level;
            k > 1: E x kC hidden channels projected back per expert; fewer, wider experts).
        task_experts: optional ``{task: expert indices}``: each task routes only among its own
            experts (plus its memory), e.g. one shared expert and one private per task. Tasks not
            named use every expert. The balance term then evens each task's use of its own experts.

    All tasks are computed together: the memories of the tasks active at a level are one tensor
    (B, T x C, H, W), and every per-task layer is a grouped conv with one group per task (the same
    function as one layer per task, a few kernel calls instead of T times as many). Tasks are kept
    ordered by the finest level they read, so the tasks active at a level are a prefix of them.
    """

    def __init__(self, in_channels: Sequence[int], tasks: Sequence[str],
                 out_levels: Mapping[str, Sequence[int]], channels: Optional[Sequence[int]] = None,
                 num_experts: int = 4, expert_levels: Sequence[int] = (0, 1, 2, 3),
                 expert_kernel=3, gate_channels: int = 16, balance_weight: float = 0.01,
                 mask_routing: bool = False, num_sensors: int = len(SENSORS),
                 expert_expansion: int = 1,
                 task_experts: Optional[Mapping[str, Sequence[int]]] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, tasks, out_levels, channels, init_cfg)
        if num_experts < 1:
            raise ValueError(f'num_experts must be >= 1, got {num_experts}')
        self.num_experts = num_experts
        self.balance_weight = balance_weight
        top = self.num_levels - 1
        self.expert_levels = tuple(sorted(l for l in expert_levels if l >= self.finest))
        kernels = (tuple(expert_kernel) if isinstance(expert_kernel, (tuple, list))
                   else (expert_kernel, ) * self.num_levels)
        if len(kernels) != self.num_levels or set(kernels) - {1, 3}:
            raise ValueError(f'expert_kernel must be 1 or 3, or one of them per level '
                             f'({self.num_levels} levels), got {expert_kernel!r}')
        #: tasks ordered by the finest level they read: the active ones at a level are a prefix
        self.order: Tuple[str, ...] = tuple(sorted(self.tasks, key=lambda t: self.out_levels[t][0]))
        self.top_down = TopDownPath(self.in_channels, self.channels, self.finest, norm_cfg, act_cfg)
        ch = self.channels
        self.task_experts = self._check_task_experts(task_experts)
        self.experts = nn.ModuleDict({
            str(l): ExpertBank(ch[l], num_experts, kernels[l], norm_cfg, act_cfg,
                               expert_expansion)
            for l in self.expert_levels})
        self.mem_init = ConvModule(ch[top], len(self.order) * ch[top], 1, norm_cfg=norm_cfg,
                                   act_cfg=act_cfg)
        self.mem_carry, self.gate, self.update = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for l in range(top, self.finest - 1, -1):
            t = self._num_active(l)
            if l < top:
                self.mem_carry[str(l)] = ConvModule(t * ch[l + 1], t * ch[l], 1, groups=t,
                                                    norm_cfg=norm_cfg, act_cfg=None)
            if l in self.expert_levels:
                self.gate[str(l)] = TaskGates(ch[l], t, num_experts, gate_channels, norm_cfg,
                                              act_cfg, num_sensors if mask_routing else 0,
                                              self._allowed_slots(t))
            self.update[str(l)] = nn.Sequential(
                ConvModule(2 * t * ch[l], t * ch[l], 1, groups=t, norm_cfg=norm_cfg,
                           act_cfg=act_cfg),
                ConvModule(t * ch[l], t * ch[l], 3, padding=1, groups=t * ch[l],
                           norm_cfg=norm_cfg, act_cfg=None))

    def _check_task_experts(self, task_experts) -> Dict[str, Tuple[int, ...]]:
        """Every task's expert indices (all of them for a task not named), validated."""
        task_experts = dict(task_experts or {})
        unknown = set(task_experts) - set(self.tasks)
        if unknown:
            raise ValueError(f'task_experts names tasks {sorted(unknown)} the decoder does not '
                             f'have (tasks: {list(self.tasks)})')
        out = {}
        for t in self.tasks:
            idx = tuple(sorted(set(task_experts.get(t, range(self.num_experts)))))
            if not idx or min(idx) < 0 or max(idx) >= self.num_experts:
                raise ValueError(f'task_experts[{t!r}] = {task_experts.get(t)!r}: expected a '
                                 f'non-empty subset of 0..{self.num_experts - 1}')
            out[t] = idx
        return out

    def _allowed_slots(self, num_active: int) -> Optional[Tensor]:
        """(T, E + 1) booleans of the slots each active task may use; None when all are."""
        if all(len(self.task_experts[t]) == self.num_experts for t in self.order[:num_active]):
            return None
        allowed = torch.zeros(num_active, self.num_experts + 1, dtype=torch.bool)
        for i, t in enumerate(self.order[:num_active]):
            allowed[i, list(self.task_experts[t])] = True
            allowed[i, -1] = True   # the task's memory
        return allowed

    def _num_active(self, level: int) -> int:
        """How many tasks (a prefix of ``self.order``) are computed at ``level``."""
        return sum(self.out_levels[t][0] <= level for t in self.order)

    def forward(self, feats: Sequence[Tensor], mask: Optional[Tensor] = None) -> DecoderOutput:
        xs = self.top_down(feats)
        top = self.num_levels - 1
        gates: Dict[str, Tensor] = {}
        outs: Dict[str, List[Tensor]] = {t: [] for t in self.tasks}
        memory: Optional[Tensor] = None          # (B, T x C, H, W), tasks in ``self.order``
        for lvl in range(top, self.finest - 1, -1):
            x = xs[lvl]
            b, c, h, w = x.shape
            t = self._num_active(lvl)
            if lvl == top:
                m_in = self.mem_init(x)
            else:  # the first t tasks of the coarser level's memory, carried and upsampled
                prev = memory[:, :t * memory.shape[1] // self._num_active(lvl + 1)]
                m_in = upsample_to(self.mem_carry[str(lvl)](prev), x)
            m5 = m_in.view(b, t, c, h, w)
            feat = x.unsqueeze(1).expand(b, t, c, h, w)
            if lvl in self.expert_levels:
                g = self.gate[str(lvl)](x, m_in, mask)                # (B, T, E + 1, H, W)
                experts = self.experts[str(lvl)](x)                   # (B, E, C, H, W)
                e = self.num_experts
                feat = (g[:, :, :e, None] * experts.unsqueeze(1)).sum(2) + g[:, :, e:] * m5
                for i, task in enumerate(self.order[:t]):
                    gates[f'gate_{task}_s{STRIDES[lvl]}'] = g[:, i]
            pair = torch.stack([feat, m5], 2).reshape(b, 2 * t * c, h, w)  # per task [f_t, m_t]
            memory = m_in + self.update[str(lvl)](pair)
            for i, task in enumerate(self.order[:t]):
                if lvl in self.out_levels[task]:
                    outs[task].insert(0, memory[:, i * c:(i + 1) * c])
        return DecoderOutput(outs, gates)

    def aux_loss(self, gates: Mapping[str, Tensor]) -> Optional[Tensor]:
        if self.balance_weight <= 0 or not gates:
            return None
        if all(len(idx) == self.num_experts for idx in self.task_experts.values()):
            return self.balance_weight * expert_balance_loss(gates.values(), self.num_experts)
        terms = []   # each task evens the use of its own experts (the memory slot stays last)
        for name, g in gates.items():
            idx = list(self.task_experts[name[len('gate_'):name.rindex('_s')]])
            terms.append(expert_balance_loss([g[:, idx + [self.num_experts]]], len(idx)))
        return self.balance_weight * torch.stack(terms).mean()
