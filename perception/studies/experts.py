"""Study 4: expert specialisation in the TaskExpert decoder, and what the load-balancing term does.

Three models differ only in the weight of the load-balancing term (``decoder.balance_weight``): 0
(off), 0.01 (the default of every config) and 0.1. For each, on held-out frames: the mean gate
weight per task, level and slot (4 experts + the task's memory), how evenly and how sharply the
gates route (``perception.studies.gate_analysis.specialisation``), how differently the tasks route, and the
task metrics. Gate-map pictures show, per task and level, which slot dominates each pixel.
"""
from __future__ import annotations

import os.path as osp
from typing import Dict

import numpy as np

from . import report
from .common import Log, Settings, base_config, evaluate, train, variant

NAME = 'experts'
TITLE = 'Study 4: expert specialisation and the load-balancing term'
FIGURES = ('study4_expert_usage.png', 'study4_gate_maps.png')
BALANCE = {'no balancing (0)': 0.0, 'default (0.01)': 0.01, 'strong (0.1)': 0.1}
PICTURES = 3


def _gates(model, settings: Settings, num: int):
    from perception.studies.gate_analysis import collect
    from perception.apis import Predictor
    from perception.registry import DATASETS
    predictor = Predictor.from_config(model.config, model.checkpoint)
    ds = dict(model.config.test_dataloader.dataset, split='test', seed=settings.seed,
              num_samples=num, pipeline=[])
    return collect(predictor, DATASETS.build(ds), num)


def run(settings: Settings, log: Log = print) -> Dict:
    from perception.studies.gate_analysis import specialisation
    from perception.visualization.gates import dominant_slot_picture
    base = base_config(settings)
    gate_frames = 4 if settings.quick else 48
    out: Dict[str, Dict] = {}
    pictures = {}
    trained = {}
    for name, weight in BALANCE.items():
        # the default weight gives the default config: the model studies 1 and 3 use (cached)
        trained[name] = model = train(variant(base, balance_weight=weight), f'balance_{weight:g}',
                                      settings, log)
        frames, samples = _gates(model, settings, gate_frames)
        log(f'  {name}: gate maps of {len(frames)} frames')
        out[name] = dict(specialisation(frames),
                         metrics=evaluate(model, settings, 'all_conditions', log=log))
        pictures[name] = [dominant_slot_picture(f, (96, 120), s['rgb'])
                          for f, s in zip(frames[:PICTURES], samples[:PICTURES])]
        out[name]['picture_conditions'] = [s.get('condition', '') for s in samples[:PICTURES]]
    return dict(models=out, pictures=pictures, gate_frames=gate_frames,
                training={k: dict(seconds=m.seconds, reused=m.reused) for k, m in trained.items()})


def summary(result: Dict) -> str:
    header = ['balance weight', 'usage evenness (mean)', 'min evenness', 'pixel entropy (mean)',
              'task divergence (mean JS)', 'max slot share'] + [label for _, label, _ in
                                                                report.HEADLINE]
    rows = []
    for name, r in result['models'].items():
        per = r['per_task_level'].values()
        rows.append([name, report.fmt(np.mean([p['usage_entropy'] for p in per])),
                     report.fmt(min(p['usage_entropy'] for p in per)),
                     report.fmt(np.mean([p['pixel_entropy'] for p in per])),
                     report.fmt(np.mean(list(r['task_divergence'].values())), 4),
                     report.fmt(max(p['max_share'] for p in per))] +
                    [report.fmt(r['metrics'].get(k)) for k, _, _ in report.HEADLINE])
    return report.md_table(header, rows)


def usage_tables(result: Dict) -> str:
    parts = []
    for name, r in result['models'].items():
        slots = len(next(iter(r['usage'].values())))
        header = ['task, level'] + [f'expert {i}' for i in range(slots - 1)] + ['memory',
                                                                                'evenness']
        rows = [[key.replace('_s', ', stride ')] + [f'{x:.3f}' for x in usage] +
                [report.fmt(r['per_task_level'][key]['usage_entropy'])]
                for key, usage in r['usage'].items()]
        parts += [f'Mean gate weight, **{name}**:', '', report.md_table(header, rows), '']
    return '\n'.join(parts)


def figures(result: Dict, folder: str) -> list:
    from perception.visualization.gates import slot_legend
    from perception.visualization.panels import caption_bar, save_rgb
    plt = report.pyplot()
    names = list(result['models'])
    keys = list(next(iter(result['models'].values()))['usage'])
    fig, axes = plt.subplots(len(names), 1, figsize=(16, 3.2 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        usage = np.array([result['models'][name]['usage'][k] for k in keys])
        bottom = np.zeros(len(keys))
        for slot in range(usage.shape[1]):
            label = 'memory' if slot == usage.shape[1] - 1 else f'expert {slot}'
            ax.bar(range(len(keys)), usage[:, slot], bottom=bottom, label=label)
            bottom += usage[:, slot]
        ax.set_xticks(range(len(keys)), [k.replace('_s', '\ns') for k in keys], fontsize=7)
        ax.set_ylabel('mean gate weight')
        ax.set_title(f'balance weight: {name}', fontsize=10)
    axes[0, 0].legend(ncol=5, fontsize=7, loc='upper right')
    usage_path = report.save_figure(fig, folder, FIGURES[0])
    maps_path = osp.join(folder, FIGURES[1])
    if 'pictures' not in result:   # --render: the pictures are only drawn by a run
        return [usage_path, maps_path]
    # pictures: one block per model, its frames side by side, a caption bar on top
    blocks = []
    for name, pics in result['pictures'].items():
        row = np.concatenate(pics, axis=1)
        blocks += [caption_bar(row.shape[1], f'balance weight {name}'), row]
    slots = len(next(iter(result['models'].values()))['usage'][keys[0]])
    blocks.append(slot_legend(blocks[-1].shape[1], slots))
    save_rgb(maps_path, np.concatenate(blocks, axis=0))
    return [usage_path, maps_path]


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    conds = next(iter(result['models'].values()))['picture_conditions']
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {settings.describe()}. Gate '
           f'statistics over {result["gate_frames"]} held-out test frames (every condition, all '
           'sensors the frame has); metrics over the test frames.', '',
           report.training_lines(result['training']), '',
           '*Usage evenness*: entropy of the mean slot usage / log 5 (1 = all 5 slots used '
           'equally; 0 = one slot takes all), averaged over tasks and levels, and its minimum. '
           '*Pixel entropy*: mean per-pixel gate entropy / log 5 (low = sharp routing). '
           '*Task divergence*: '
           'mean Jensen-Shannon divergence between the tasks\' usage at a level (0 = the tasks '
           'route identically; at most ln 2 = 0.693).', '', summary(result), '',
           f'![expert usage]({images}/{FIGURES[0]})', '',
           f'Dominant slot per pixel (colours in the legend strip at the bottom), rows = tasks '
           f'(depth, det, seg), columns = the RGB input then strides 4, 8, 16, 32 (a black cell: '
           f'no gate for that task at that stride); frames: '
           f'{", ".join(conds)}:', '', f'![gate maps]({images}/{FIGURES[1]})', '',
           usage_tables(result)]
    return '\n'.join(out) + '\n'
