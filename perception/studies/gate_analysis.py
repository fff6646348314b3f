"""Expert specialisation of the TaskExpert decoder: per-task, per-level gate maps and usage statistics
(study 4, ``experts``, and tools/analysis/gate_maps.py).

For each frame the model's gates give, at every pixel of every expert level, softmax weights over the
E experts plus the task's memory (``forward_export(return_gates=True)``). This module averages them into
a usage table (task x level x slot) and specialisation statistics; the pictures of which slot
dominates each pixel are drawn by ``perception.visualization.gates``.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np
import torch

from perception.contract import input_names

_GATE = re.compile(r'gate_(?P<task>\w+?)_s(?P<stride>\d+)$')


def gate_maps(model: torch.nn.Module, inputs: Mapping[str, np.ndarray]) -> Dict[Tuple[str, int], np.ndarray]:
    """(task, stride) -> (E + 1, h, w) gate weights of one frame (last slot = the task memory)."""
    with torch.no_grad():
        out = model.forward_export(*(torch.from_numpy(np.asarray(inputs[k]))
                                     for k in input_names(model.sensors)),
                                   return_gates=True)
    maps = {}
    for name, value in out.items():
        m = _GATE.match(name)
        if m:
            maps[(m['task'], int(m['stride']))] = value[0].float().numpy()
    if not maps:
        raise ValueError('the model returned no gate maps: is its decoder a TaskExpertDecoder?')
    return maps


def usage_table(frames: Iterable[Dict[Tuple[str, int], np.ndarray]]) -> Dict[Tuple[str, int], np.ndarray]:
    """Mean weight of each slot per (task, stride) over all pixels of all frames; rows sum to 1."""
    sums: Dict[Tuple[str, int], np.ndarray] = {}
    count = 0
    for maps in frames:
        count += 1
        for key, g in maps.items():
            sums[key] = sums.get(key, 0) + g.reshape(g.shape[0], -1).mean(axis=1)
    if not count:
        raise ValueError('no frames')
    return {k: v / count for k, v in sorted(sums.items())}


def format_usage(table: Mapping[Tuple[str, int], np.ndarray]) -> str:
    """Markdown table: one row per task and level, one column per expert, then the memory."""
    slots = max(len(v) for v in table.values())
    head = '| task | stride | ' + ' | '.join([f'expert {i}' for i in range(slots - 1)] + ['memory'])
    lines = [head + ' |', '|' + '---|' * (slots + 2)]
    for (task, stride), w in table.items():
        lines.append(f'| {task} | {stride} | ' + ' | '.join(f'{x:.3f}' for x in w) + ' |')
    return '\n'.join(lines)


def _entropy(p: np.ndarray, axis: int = 0) -> np.ndarray:
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=axis)


def collect(predictor, dataset, num: int) -> Tuple[List[Dict[Tuple[str, int], np.ndarray]], List[dict]]:
    """Gate maps of the first ``num`` frames of ``dataset`` (decoded samples, every sensor the frame
    has), and those samples."""
    model = predictor.backend.model.eval()
    frames, samples = [], []
    for i in range(min(num, len(dataset))):
        s = dataset.load_sample(i)
        inputs, _ = predictor.prepare(rgb=s['rgb'], thermal=s['thermal'], depth=s['depth'])
        frames.append(gate_maps(model, inputs))
        samples.append(s)
    return frames, samples


def specialisation(frames: List[Dict[Tuple[str, int], np.ndarray]]) -> Dict[str, Dict]:
    """How the gates use the slots, per (task, stride) and across tasks.

    * ``usage_entropy``: entropy of the mean slot usage / log(E + 1): 1 = every slot used equally
      on average, 0 = one slot takes everything (collapse).
    * ``pixel_entropy``: mean per-pixel gate entropy / log(E + 1): low = each pixel commits to a
      few slots (sharp routing), 1 = uniform mixing everywhere.
    * ``task_divergence`` per stride: mean pairwise Jensen-Shannon divergence (nats, at most log 2)
      between the tasks' mean usage: 0 = all tasks route alike, higher = tasks specialise.
    """
    table = usage_table(frames)
    per_key: Dict[str, Dict[str, float]] = {}
    for key, usage in table.items():
        norm = np.log(len(usage))
        pixel = np.mean([_entropy(f[key].reshape(f[key].shape[0], -1)).mean() for f in frames])
        per_key[f'{key[0]}_s{key[1]}'] = dict(usage_entropy=float(_entropy(usage) / norm),
                                              pixel_entropy=float(pixel / norm),
                                              max_share=float(usage.max()))
    divergence: Dict[str, float] = {}
    for stride in sorted({s for _, s in table}):
        rows = [u for (t, s), u in table.items() if s == stride]
        pairs = [(a, b) for i, a in enumerate(rows) for b in rows[i + 1:]]
        if pairs:
            js = [_entropy((a + b) / 2) - (_entropy(a) + _entropy(b)) / 2 for a, b in pairs]
            divergence[f's{stride}'] = float(np.mean(js))
    return dict(per_task_level=per_key, task_divergence=divergence,
                usage={f'{t}_s{s}': u.tolist() for (t, s), u in table.items()})
