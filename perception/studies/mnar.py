"""Study 2: sensors missing not at random -- which fusion collapses when the pattern changes?

Training data: the scene conditions without simulated sensor failures, where sensors go missing
*because of the scene* (``ConditionMissingness``, ``TRAIN_RULES``): thermal is mostly off in
daylight, depth mostly absent in fog, RGB mostly dropped in glare. A model can learn "no thermal
means day".

Test, on held-out day/night/glare/fog frames, three patterns (deterministic):
  * all sensors present;
  * the training pattern (day: no thermal, fog: no depth, glare: no RGB);
  * a shifted pattern that removes the sensor the training pattern taught the model to rely on
    (day: no RGB, night/fog/glare: no thermal).

Four models, two factors: the mask-aware ``AttentionFusion`` vs the plain ``ConcatFusion``
baseline, each with and without uniform ``ModalityDropout`` on top of the scene-tied missingness.
The design claim is the first model (attention + dropout); the plain baseline is the last. Two more,
with dropout: the attention fusions that keep the concatenation (``GatedConcatFusion``,
``RectifyFusion``; perception/models/fusion/gated.py). Every model's deployed graph is timed in ONNX
Runtime at 256x320 (the fusion is the only difference), for the "at <= 1.15x concat's latency" goal.
"""
from __future__ import annotations

from typing import Dict

from mmengine.config import Config

from . import report
from .common import (Log, Settings, Trained, base_config, evaluate, latency_costs, size_label,
                     train, variant)

NAME = 'mnar'
TITLE = 'Study 2: sensors missing not at random (MNAR)'
FIGURE = 'study2_mnar.png'
FIGURES = (FIGURE, )

TRAIN_CONDITIONS = ('day', 'night', 'glare', 'fog', 'crossover', 'camouflage', 'depth_holes')
TEST_CONDITIONS = ('day', 'night', 'glare', 'fog')
TRAIN_RULES = {'day': {'thermal': 0.9}, 'fog': {'depth': 0.9}, 'glare': {'rgb': 0.9}}
TEST_PATTERNS = {
    'all sensors': {},
    'training pattern': {'day': {'thermal': 1.0}, 'fog': {'depth': 1.0}, 'glare': {'rgb': 1.0}},
    'shifted pattern': {'day': {'rgb': 1.0}, 'night': {'thermal': 1.0}, 'fog': {'thermal': 1.0},
                        'glare': {'thermal': 1.0}},
}
#: (id, name in the tables, fusion, with uniform modality dropout)
MODELS = (('attention_dropout', 'attention + dropout', 'AttentionFusion', True),
          ('attention', 'attention, no dropout', 'AttentionFusion', False),
          ('concat_dropout', 'concat + dropout', 'ConcatFusion', True),
          ('concat', 'concat, no dropout (plain baseline)', 'ConcatFusion', False),
          ('gated_concat_dropout', 'gated concat + dropout', 'GatedConcatFusion', True),
          ('rectify_dropout', 'rectify + dropout', 'RectifyFusion', True))
#: where the deployed graphs are timed
COST_SIZE = (256, 320)


def model_config(base: Config, fusion: str, with_dropout: bool) -> Config:
    """The study's training recipe around ``fusion``: the training scenes with their scene-tied
    missingness, plus the base config's uniform ``ModalityDropout`` when ``with_dropout``."""
    dropout = next(t for t in base.train_dataloader.dataset.pipeline
                   if t['type'] == 'ModalityDropout')
    scene_tied = dict(type='ConditionMissingness', rules=TRAIN_RULES)
    return variant(base, fusion=fusion, train_conditions=TRAIN_CONDITIONS,
                   train_missingness=[scene_tied] + ([dict(dropout)] if with_dropout else []))


def evaluate_patterns(model: Trained, settings: Settings,
                      log: Log = print) -> Dict[str, Dict[str, float]]:
    """``model``'s metrics on the test scenes under every test pattern."""
    out = {}
    for pattern, rules in TEST_PATTERNS.items():
        transforms = [dict(type='ConditionMissingness', rules=rules)] if rules else []
        out[pattern] = evaluate(model, settings, pattern.replace(' ', '_'), transforms,
                                TEST_CONDITIONS, log)
    return out


def run(settings: Settings, log: Log = print) -> Dict:
    base = base_config(settings)
    trained = {name: train(model_config(base, fusion, with_dropout), key, settings, log)
               for key, name, fusion, with_dropout in MODELS}
    metrics = {name: evaluate_patterns(model, settings, log) for name, model in trained.items()}
    import os.path as osp
    folder = osp.join(settings.work_dir, NAME, 'latency')
    costs = {name: latency_costs(name, model, [COST_SIZE], settings.latency_runs, folder, log)
             for name, model in trained.items()}
    return dict(metrics=metrics, train_rules=TRAIN_RULES, test_patterns=TEST_PATTERNS,
                costs={name: c[size_label(COST_SIZE)] for name, c in costs.items()},
                cost_size=size_label(COST_SIZE),
                training={k: dict(seconds=m.seconds, reused=m.reused) for k, m in trained.items()})


def _change(metrics: Dict[str, Dict[str, float]], key: str, ref: str) -> float:
    return metrics['shifted pattern'].get(key, float('nan')) - metrics[ref].get(key, float('nan'))


def summary(result: Dict) -> str:
    """Key tables: mIoU and AbsRel under each pattern, and the change the shift causes."""
    parts = []
    for key, label, up in (report.HEADLINE[0], report.HEADLINE[2]):
        header = ['model'] + [f'{label} {p}' for p in TEST_PATTERNS] + [
            'shifted - training pattern', 'shifted - all sensors']
        rows = [[name] + [report.fmt(m[p].get(key)) for p in TEST_PATTERNS] +
                [report.signed(_change(m, key, 'training pattern')),
                 report.signed(_change(m, key, 'all sensors'))]
                for name, m in result['metrics'].items()]
        parts.append(report.md_table(header, rows))
    if result.get('costs'):
        size = result['cost_size']
        concat = result['costs'].get('concat + dropout', {}).get('onnxruntime fp32')
        rows = [[name, f"{c['gmacs']:.3f}", f"{c['onnxruntime fp32']:.2f}",
                 f"{c['pytorch eager']:.2f}",
                 f"{c['onnxruntime fp32'] / concat:.2f}x" if concat else '-']
                for name, c in result['costs'].items()]
        parts.append(report.md_table(['model', f'GMACs {size}', f'ORT ms {size}',
                                      f'eager ms {size}', 'ORT vs concat + dropout'], rows))
    return '\n\n'.join(parts)


def figures(result: Dict, folder: str) -> list:
    import numpy as np
    plt = report.pyplot()
    names = list(result['metrics'])
    patterns = list(TEST_PATTERNS)
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6))
    width = 0.8 / len(names)
    for ax, (key, label, up) in zip(axes, report.HEADLINE):
        for i, name in enumerate(names):
            values = [result['metrics'][name][p].get(key, np.nan) for p in patterns]
            ax.bar(np.arange(len(patterns)) + (i - (len(names) - 1) / 2) * width, values, width,
                   label=name)
        ax.set_xticks(range(len(patterns)), patterns, fontsize=8)
        ax.set_title(f'{label} ({"higher" if up else "lower"} is better)', fontsize=10)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)   # head room for the legend
    axes[0].legend(fontsize=7, loc='upper left', ncol=2)
    fig.suptitle('Scene-tied missingness in training; test with all sensors, the training pattern, '
                 'and a shifted pattern')
    return [report.save_figure(fig, folder, FIGURE)]


def _rules_text(rules: Dict) -> str:
    return '; '.join(f'{c}: ' + ', '.join(f'no {s} (p={p:g})' for s, p in r.items())
                     for c, r in rules.items()) or 'none'


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {settings.describe()}.', '',
           f'Training scenes: {", ".join(TRAIN_CONDITIONS)}, with scene-tied missingness '
           f'{_rules_text(result["train_rules"])}. Test scenes: {", ".join(TEST_CONDITIONS)}.', '']
    for pattern, rules in result['test_patterns'].items():
        out.append(f'- test pattern **{pattern}**: {_rules_text(rules)}')
    out += ['', report.training_lines(result['training']), '',
            'What the shift costs each model (for mIoU a negative change is a loss, for AbsRel a '
            'positive one). The patterns remove different sensors -- the shifted one never removes '
            'depth, the training one does in fog -- so depth metrics are not comparable *across* '
            'patterns; compare the models within a column, and the change per model:', '',
            summary(result), '']
    for name, m in result['metrics'].items():
        out += [f'**{name}**, every pattern:', '',
                report.md_table(report.metric_header('test pattern'), report.metric_rows(m)), '']
    out += ['Per condition under the shifted pattern (mIoU / AbsRel):', '']
    rows = [[name] + [f'{report.fmt(m["shifted pattern"].get(f"seg/mIoU@{c}"))} / '
                      f'{report.fmt(m["shifted pattern"].get(f"depth/AbsRel@{c}"))}'
                      for c in TEST_CONDITIONS]
            for name, m in result['metrics'].items()]
    out += [report.md_table(['model'] + list(TEST_CONDITIONS), rows), '',
            f'![MNAR study]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
