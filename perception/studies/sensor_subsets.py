"""Study 1: the full model on every sensor subset, per condition, vs single-sensor models.

The full model is the study config (attention fusion, modality dropout, all scene conditions). Each
single-sensor model is the same network trained with only that sensor present (``KeepSensors`` in
the train pipeline, on every condition where that sensor exists): its other encoders only ever see
absent inputs, which the fusion masks out, so it is the best that sensor alone gives this network.
All are tested on the same held-out frames of the conditions without simulated sensor failures. The
concatenation baseline (``ConcatFusion``, the same recipe with modality dropout) is scored on every
subset too, so "fusion beats every sensor" can be read for attention and for concatenation alike,
and so are the two attention fusions that keep the concatenation (``GatedConcatFusion``,
``RectifyFusion``: perception/models/fusion/gated.py), trained with the same recipe. So is the full
recipe plus ``SubsetDistillation`` (perception/models/losses/subset_distillation.py:
in each step the network also runs on a random strict subset of each sample's sensors and learns
what it predicted with all of them), the measured answer to "restricted to one sensor, the full
model trails that sensor's specialist".
"""
from __future__ import annotations

from typing import Dict

from perception.contract import SENSORS

from . import report
from .common import Log, Settings, base_config, evaluate, train, variant

NAME = 'subsets'
FIGURE = 'study1_sensor_subsets.png'
FIGURES = (FIGURE, )
TITLE = 'Study 1: sensor subsets and single-sensor models'
#: the concatenation baseline of study 2, with modality dropout, on every scene condition
CONCAT = 'concat + dropout'
#: the other fusions scored on every subset, the full recipe around each:
#: (key in the results, name in the tables, fusion, model id)
FUSIONS = (('concat', CONCAT, 'ConcatFusion', 'concat_dropout_all'),
           ('gated', 'gated concat + dropout', 'GatedConcatFusion', 'gated_concat_dropout_all'),
           ('rectify', 'rectify + dropout', 'RectifyFusion', 'rectify_dropout_all'))
#: the full recipe plus distillation from the all-sensor pass to sensor-subset passes
DISTILLED = 'full + subset distillation'


def keep(sensors) -> dict:
    return dict(type='KeepSensors', sensors=list(sensors))


def run(settings: Settings, log: Log = print) -> Dict:
    from perception.datasets.synthetic import CONDITIONS
    from perception.contract import sensor_subsets
    base = base_config(settings)
    conditions = list(base.subset_eval_conditions)
    models = {'full': train(base, 'full', settings, log)}
    for _, name, fusion, key in FUSIONS:
        models[name] = train(variant(base, fusion=fusion), key, settings, log)
    models[DISTILLED] = train(distilled(base), 'full_subset_distillation', settings, log)
    for s in SENSORS:
        single = variant(base, train_conditions=[c for c in CONDITIONS if c != f'no_{s}'],
                         train_missingness=[keep([s])])
        models[f'{s} only'] = train(single, f'{s}_only', settings, log)
    scored = {'full': 'full', DISTILLED: 'distilled'}
    scored.update({name: key for key, name, _, _ in FUSIONS})
    out: Dict = {key: {} for key in scored.values()}
    for subset in sensor_subsets(SENSORS):
        label = '+'.join(subset)
        for name, key in scored.items():
            out[key][label] = evaluate(models[name], settings, label, [keep(subset)], conditions,
                                       log)
    single = {s: evaluate(models[f'{s} only'], settings, s, [keep([s])], conditions, log)
              for s in SENSORS}
    return dict(out, single=single, conditions=conditions,
                training={k: dict(seconds=m.seconds, reused=m.reused) for k, m in models.items()})


def distilled(base):
    """The study config plus ``SubsetDistillation`` with its defaults (every task, T = 2)."""
    import copy
    cfg = copy.deepcopy(base)
    cfg.model.subset_distillation = dict(type='SubsetDistillation')
    return cfg


def _rows(result: Dict) -> Dict[str, Dict[str, float]]:
    """Full model on each subset, then each single-sensor model on its sensor."""
    rows = {f'full model, {k}': v for k, v in result['full'].items()}
    for key, name, _, _ in FUSIONS:   # a run of before a fusion was added lacks its rows
        rows.update({f'{name}, {k}': v for k, v in result.get(key, {}).items()})
    rows.update({f'{DISTILLED}, {k}': v for k, v in result.get('distilled', {}).items()})
    rows.update({f'{s}-only model, {s}': v for s, v in result['single'].items()})
    return rows


def figures(result: Dict, folder: str) -> list:
    plt = report.pyplot()
    rows = _rows(result)
    conds = result['conditions']
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.2))
    for ax, (key, label, up) in zip(axes, report.HEADLINE[:3]):
        values = [[r.get(f'{key}@{c}', float('nan')) for c in conds] for r in rows.values()]
        report.heatmap(ax, values, list(rows), conds,
                       f'{label} ({"higher" if up else "lower"} is better)', up)
    fig.suptitle('Full model on each sensor subset vs single-sensor models, per condition')
    return [report.save_figure(fig, folder, FIGURE)]


def summary(result: Dict) -> str:
    """The key table: overall metrics of each row."""
    return report.md_table(report.metric_header('model, sensors at test'),
                           report.metric_rows(_rows(result)))


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    rows = _rows(result)
    conds = result['conditions']
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {settings.describe()}. '
           f'Test scenes: {", ".join(conds)} (the conditions without simulated sensor failures).',
           '', report.training_lines(result['training']), '',
           'Overall, all test conditions together:', '', summary(result), '']
    for key, label, up in report.HEADLINE[:3]:
        out += [f'{label} per condition ({"higher" if up else "lower"} is better):', '',
                report.md_table(['model, sensors at test'] + conds,
                                [[n] + [report.fmt(r.get(f'{key}@{c}')) for c in conds]
                                 for n, r in rows.items()]), '']
    out += [f'![sensor subsets]({images}/{FIGURE})', '',
            'The full model on one sensor vs the model trained on that sensor only:', '']
    full, single, dist = result['full'], result['single'], result.get('distilled', {})
    for s in SENSORS:
        a, b = full[s], single[s]
        out.append(f'- {s}: ' + '; '.join(
            f'{label} {report.fmt(a.get(key))} (full)' +
            (f', {report.fmt(dist[s].get(key))} (distilled)' if s in dist else '') +
            f' vs {report.fmt(b.get(key))} ({s}-only)'
            for key, label, _ in report.HEADLINE))
    return '\n'.join(out) + '\n'
