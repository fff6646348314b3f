"""``SubsetDistillation``: sensor-subset passes learn to predict what the all-sensor pass does.

Modality dropout trains a fused model on sensor subsets only from the labels, and the studies
measure that its single-sensor restrictions still trail the single-sensor specialists (docs/
results.md, study 1). Any2Seg and ShaSpec add a second signal: in the same training step, the
prediction made with more sensors teaches the prediction made with fewer. Here, per training step:

  * the usual pass runs on each sample's own sensors (the teacher; its outputs are detached);
  * every sample with at least two sensors present gets a random strict, non-empty subset of them
    (each such subset equally likely), and the network runs again on those (the student);
  * the student's raw outputs are pulled toward the teacher's: segmentation by the KL divergence of
    the temperature-softened class distributions (times T^2, Hinton et al.), detection by the binary
    cross-entropy of the class logits toward the teacher's sigmoid scores, depth by the L1 distance
    of the log depths.

Training only: the exported graph and inference are unchanged. The second pass costs about one more
forward and backward per step (the training time is reported next to the results).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from perception.registry import MODELS

DISTILLED_TASKS = ('seg', 'det', 'depth')


def strict_subsets(present: Tensor, generator: Optional[torch.Generator] = None
                   ) -> Tuple[Tensor, Tensor]:
    """For each row of ``present`` (B, S) bool with >= 2 sensors: a random strict, non-empty subset
    of its present sensors, every such subset equally likely. Returns ``(student (B, S) bool,
    rows (B,) bool)``: ``rows`` marks the samples that got one (the others keep their row)."""
    student = present.clone()
    rows = present.sum(1) >= 2
    for i in torch.nonzero(rows).flatten().tolist():
        idx = torch.nonzero(present[i]).flatten()
        k = int(idx.numel())
        # the 2^k - 2 strict non-empty subsets, as the bit patterns 1 .. 2^k - 2
        code = int(torch.randint(1, 2 ** k - 1, (1, ), generator=generator))
        keep = torch.tensor([(code >> j) & 1 for j in range(k)], dtype=torch.bool,
                            device=present.device)
        student[i] = False
        student[i, idx[keep]] = True
    return student, rows


def select_rows(raw, idx: Tensor):
    """The samples ``idx`` of a head's raw output: a tensor, or (nested) tuples/lists of them
    (the detection head's per-level class and box maps)."""
    if isinstance(raw, Tensor):
        return raw.index_select(0, idx)
    return type(raw)(select_rows(r, idx) for r in raw)


@MODELS.register_module()
class SubsetDistillation(nn.Module):
    """Args:
        tasks: which outputs are distilled, a subset of ``('seg', 'det', 'depth')`` (the model
            narrows it to its enabled tasks).
        loss_weight: weight of each task's distillation term.
        temperature: T of the segmentation KL (softer targets for T > 1).
    """

    def __init__(self, tasks: Sequence[str] = DISTILLED_TASKS, loss_weight: float = 1.0,
                 temperature: float = 2.0):
        super().__init__()
        bad = set(tasks) - set(DISTILLED_TASKS)
        if bad or not tasks:
            raise ValueError(f'SubsetDistillation: tasks must be a non-empty subset of '
                             f'{DISTILLED_TASKS}, got {tuple(tasks)}')
        if temperature <= 0:
            raise ValueError(f'SubsetDistillation: temperature must be > 0, got {temperature}')
        self.tasks = tuple(t for t in DISTILLED_TASKS if t in tasks)
        self.loss_weight, self.temperature = float(loss_weight), float(temperature)

    def loss(self, teacher: Mapping[str, object], student: Mapping[str, object]
             ) -> Dict[str, Tensor]:
        """Raw head outputs of the same samples with more sensors (``teacher``, detached here) and
        with fewer (``student``) -> ``distill_loss_<task>`` for each distilled task present."""
        out: Dict[str, Tensor] = {}
        for task in self.tasks:
            if task not in student:
                continue
            value = getattr(self, f'_{task}')(teacher[task], student[task])
            out[f'distill_loss_{task}'] = self.loss_weight * value
        return out

    def _seg(self, teacher: Tensor, student: Tensor) -> Tensor:
        t = self.temperature
        target = F.log_softmax(teacher.detach().float() / t, dim=1)
        pred = F.log_softmax(student.float() / t, dim=1)
        per_pixel = (target.exp() * (target - pred)).sum(1)
        return per_pixel.mean() * t * t

    @staticmethod
    def _det(teacher: tuple, student: tuple) -> Tensor:
        """Cross-entropy of the class logits toward the teacher's scores, less the teacher's own
        entropy (so the term is 0 when they agree), per level."""
        terms = []
        for tc, s in zip(teacher[0], student[0]):   # class logits per level
            logits = tc.detach().float()
            p = logits.sigmoid()
            terms.append(F.binary_cross_entropy_with_logits(s.float(), p) -
                         F.binary_cross_entropy_with_logits(logits, p))
        return torch.stack(terms).mean()

    @staticmethod
    def _depth(teacher: Tensor, student: Tensor) -> Tensor:
        return (student.float().clamp_min(1e-3).log() -
                teacher.detach().float().clamp_min(1e-3).log()).abs().mean()
