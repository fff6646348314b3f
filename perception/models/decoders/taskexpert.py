"""``TaskExpertDecoder``: mixture-of-experts decoder with per-task gates and multi-task memory.

Coarse to fine, at every level ``l`` with experts (after a shared top-down path ``x_l``):
  * E experts (depthwise 3x3 + pointwise) turn ``x_l`` into E task-generic features;
  * each task ``t`` brings its memory ``m_t`` from the coarser level (1x1 conv, upsampled) -- at the
    coarsest level it is initialised from ``x_l``;
  * a per-task gate reads ``[x_l, m_t]`` and outputs per-pixel softmax weights over the E experts
    plus the memory (E + 1 slots); the gated sum is the task-specific feature ``f_t``;
  * the memory is updated: ``m_t <- m_t + update([f_t, m_t])`` and carried to the next finer level.
The memory at the levels a head reads is that task's output (seg/depth: stride 4; det: 8/16/32).
Gating is dense softmax (no top-k, no data-dependent branches), so the graph is static for ONNX.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from perception.registry import MODELS

from ..losses.balance import expert_balance_loss
from .base import STRIDES, BaseDecoder, DecoderOutput, TopDownPath, upsample_to


def _expert(c: int, norm_cfg, act_cfg) -> nn.Sequential:
    return nn.Sequential(
        ConvModule(c, c, 3, padding=1, groups=c, norm_cfg=norm_cfg, act_cfg=act_cfg),
        ConvModule(c, c, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))


@MODELS.register_module()
class TaskExpertDecoder(BaseDecoder):
    """Args (besides ``BaseDecoder``'s, which the model fills in):
        num_experts: E, experts per level.
        expert_levels: level indices (0 = stride 4) that carry experts; at the others a task's
            feature is the shared ``x_l`` (no gate), the memory is still updated.
        gate_channels: hidden width of each gate.
        balance_weight: weight of the load-balancing loss (0 turns it off).
    """

    def __init__(self, in_channels: Sequence[int], tasks: Sequence[str],
                 out_levels: Mapping[str, Sequence[int]], channels: Optional[Sequence[int]] = None,
                 num_experts: int = 4, expert_levels: Sequence[int] = (0, 1, 2, 3),
                 gate_channels: int = 16, balance_weight: float = 0.01,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'), init_cfg=None):
        super().__init__(in_channels, tasks, out_levels, channels, init_cfg)
        if num_experts < 1:
            raise ValueError(f'num_experts must be >= 1, got {num_experts}')
        self.num_experts = num_experts
        self.balance_weight = balance_weight
        top = self.num_levels - 1
        self.expert_levels = tuple(sorted(l for l in expert_levels if l >= self.finest))
        self.top_down = TopDownPath(self.in_channels, self.channels, self.finest, norm_cfg, act_cfg)
        ch = self.channels
        self.experts = nn.ModuleDict({
            str(l): nn.ModuleList(_expert(ch[l], norm_cfg, act_cfg) for _ in range(num_experts))
            for l in self.expert_levels})
        self.mem_init = nn.ModuleDict({
            t: ConvModule(ch[top], ch[top], 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for t in self.tasks})
        self.mem_carry, self.gate, self.update = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for t in self.tasks:
            for l in self._levels(t):
                key = f'{t}_{l}'
                if l < top:
                    self.mem_carry[key] = ConvModule(ch[l + 1], ch[l], 1, norm_cfg=norm_cfg,
                                                     act_cfg=None)
                if l in self.expert_levels:
                    self.gate[key] = nn.Sequential(
                        ConvModule(2 * ch[l], gate_channels, 1, norm_cfg=norm_cfg,
                                   act_cfg=act_cfg),
                        nn.Conv2d(gate_channels, num_experts + 1, 1))
                self.update[key] = nn.Sequential(
                    ConvModule(2 * ch[l], ch[l], 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
                    ConvModule(ch[l], ch[l], 3, padding=1, groups=ch[l], norm_cfg=norm_cfg,
                               act_cfg=None))

    def _levels(self, task: str) -> range:
        """Levels where ``task`` is computed: coarsest down to the finest one its head reads."""
        return range(self.num_levels - 1, self.out_levels[task][0] - 1, -1)

    def forward(self, feats: Sequence[Tensor]) -> DecoderOutput:
        xs = self.top_down(feats)
        memory: Dict[str, Tensor] = {}
        gates: Dict[str, Tensor] = {}
        outs: Dict[str, List[Tensor]] = {t: [] for t in self.tasks}
        for lvl in range(self.num_levels - 1, self.finest - 1, -1):
            x = xs[lvl]
            experts = None
            if lvl in self.expert_levels:  # (B, E, C, H, W), shared by all tasks
                experts = torch.stack([e(x) for e in self.experts[str(lvl)]], 1)
            for t in self.tasks:
                if lvl not in self._levels(t):
                    continue
                key = f'{t}_{lvl}'
                if lvl == self.num_levels - 1:
                    m_in = self.mem_init[t](x)
                else:
                    m_in = upsample_to(self.mem_carry[key](memory[t]), x)
                feat = x
                if experts is not None:
                    g = torch.softmax(self.gate[key](torch.cat([x, m_in], 1)), dim=1)
                    slots = torch.cat([experts, m_in.unsqueeze(1)], 1)
                    feat = (slots * g.unsqueeze(2)).sum(1)
                    gates[f'gate_{t}_s{STRIDES[lvl]}'] = g
                memory[t] = m_in + self.update[key](torch.cat([feat, m_in], 1))
                if lvl in self.out_levels[t]:
                    outs[t].insert(0, memory[t])
        return DecoderOutput(outs, gates)

    def aux_loss(self, gates: Mapping[str, Tensor]) -> Optional[Tensor]:
        if self.balance_weight <= 0 or not gates:
            return None
        return self.balance_weight * expert_balance_loss(gates.values(), self.num_experts)
