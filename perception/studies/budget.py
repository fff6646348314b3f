"""Study 7: do the deciding orders hold with training? The comparisons that decide what ships, at
1x, 2x and 4x the study schedule (500 / 1,000 / 2,000 iterations).

Studies 2 and 3 found the baselines ahead of the design at 500 iterations: concatenation + modality
dropout ahead of the shipped attention fusion + dropout (study 2's scene-tied missingness, every test
pattern), and a plain decoder of equal deployed latency ahead of the TaskExpert MoE on detection
(study 3). A short schedule can favour the simpler model (fewer parameters to fit, no router to
learn), so both pairs are retrained from scratch with the whole schedule stretched (warm-up, cosine
decay to the same floor) and scored on the same held-out frames. The 1x models are the studies' own
(the same configs: the cache reuses them).

The plain decoder's widths are study 3's equal-latency match from the same work dir when that study
ran there (the same seed and setting), else matched here the same way (``equal_latency_plain``):
latency does not change with training, so one match serves every budget.
"""
from __future__ import annotations

import dataclasses
import json
import os.path as osp
from typing import Dict, Sequence

from . import mnar, multitask, report
from .common import Log, Settings, base_config, evaluate, train

NAME = 'budget'
TITLE = 'Study 7: do the orders hold with training? (1x, 2x, 4x the iterations)'
FIGURE = 'study7_budget.png'
FIGURES = (FIGURE, )
#: schedules as multiples of the run's ``--iters`` (500 by default: 500, 1000, 2000)
FACTORS = (1, 2, 4)
#: (id, name in the tables, fusion) of study 2's models compared here, both with dropout
FUSIONS = (('attention_dropout', 'attention + dropout', 'AttentionFusion'),
           ('concat_dropout', 'concat + dropout', 'ConcatFusion'))
MOE = 'MoE multi-task'
#: the settings under which study 3's latency match holds for this run's models
MATCH_KEYS = ('seed', 'iters', 'batch_size', 'img_size', 'quick')
#: the comparisons and the metrics that decide them: (title, models, {column: (pattern, metric)})
FUSION_COLUMNS = {f'mIoU {p}': (p, 'seg/mIoU') for p in mnar.TEST_PATTERNS}
DECODER_COLUMNS = {label: ('all conditions', key) for key, label, _ in report.HEADLINE[:3]}


def describe(settings: Settings) -> str:
    return settings.describe(iterations=', '.join(str(b) for b in budgets(settings)))


def budgets(settings: Settings) -> Sequence[int]:
    return tuple(settings.iters * f for f in FACTORS)


def decoder_widths(settings: Settings, log: Log = print) -> Dict:
    """Study 3's equal-latency match from this work dir when it ran with this setting, else a new
    match; ``dict(widths, factor, source)``."""
    path = osp.join(settings.work_dir, multitask.NAME, 'results.json')
    if osp.isfile(path):
        with open(path) as f:
            result = json.load(f)
        ran = result['run']['settings']
        if all(ran[k] == json.loads(json.dumps(getattr(settings, k))) for k in MATCH_KEYS):
            match = result['equal_latency']
            log(f'  plain decoder widths {tuple(match["widths"])} ({match["factor"]:g}x): study 3\'s '
                f'match in {path}')
            return dict(widths=list(match['widths']), factor=match['factor'], source=path)
    match = multitask.equal_latency_plain(base_config(settings), settings,
                                          osp.join(settings.work_dir, NAME, 'latency'), log)
    return dict(widths=list(match['widths']), factor=match['factor'], source='matched in this run')


def run(settings: Settings, log: Log = print) -> Dict:
    match = decoder_widths(settings, log)
    runs = {}   # iterations -> {model name: Trained}
    # the longest schedules first: a run stopped for time keeps the models that decide
    for iters in sorted(budgets(settings), reverse=True):
        s = dataclasses.replace(settings, iters=iters)
        base = base_config(s)
        models = {name: train(mnar.model_config(base, fusion, True), f'{key}_{iters}', s, log)
                  for key, name, fusion in FUSIONS}
        models[MOE] = train(base, f'moe_multitask_{iters}', s, log)
        models[multitask.EQUAL_PLAIN] = train(multitask.plain_config(base, match['widths']),
                                              f'plain_equal_latency_{iters}', s, log)
        runs[iters] = (s, models)
    metrics: Dict[str, Dict[str, Dict]] = {}
    for iters in budgets(settings):
        s, models = runs[iters]
        at = metrics[str(iters)] = {}
        for _, name, _ in FUSIONS:
            at[name] = mnar.evaluate_patterns(models[name], s, log)
        for name in (MOE, multitask.EQUAL_PLAIN):
            at[name] = {'all conditions': evaluate(models[name], s, 'all_conditions', log=log)}
    training = {f'{name} at {iters} it.': dict(seconds=m.seconds, reused=m.reused)
                for iters, (_, models) in sorted(runs.items()) for name, m in models.items()}
    return dict(metrics=metrics, plain_decoder=match, training=training)


COMPARISONS = (
    ('Fusion (study 2 recipe: scene-tied missingness + dropout)', 'concat + dropout',
     'attention + dropout', FUSION_COLUMNS),
    ('Decoder (study 3 recipe)', multitask.EQUAL_PLAIN, MOE, DECODER_COLUMNS),
)


def _value(result: Dict, iters: str, model: str, column) -> float:
    pattern, key = column
    return result['metrics'][iters][model][pattern].get(key, float('nan'))


def _better(key: str) -> int:
    """+1 where higher is better, -1 where lower is (AbsRel)."""
    return next((1 if up else -1 for k, _, up in report.HEADLINE if k == key), 1)


#: a difference that rounds to 0.000 in the tables: no leader
TIE = 0.0005


def order_lines(result: Dict) -> list:
    """Per comparison and column: which model leads at each schedule, and whether the order of the
    shortest schedule holds at the longest (the issue's test) and at every one in between."""
    lines = []
    for title, baseline, design, columns in COMPARISONS:
        for label, column in columns.items():
            leads = []
            for iters in result['metrics']:
                gap = (_value(result, iters, design, column) -
                       _value(result, iters, baseline, column)) * _better(column[1])
                leads.append((iters, 'tie' if abs(gap) < TIE else design if gap > 0 else baseline,
                              gap))
            first, last = leads[0][1], leads[-1][1]
            if len({w for _, w, _ in leads}) == 1:
                verdict = 'the order holds at every schedule'
            elif first == last:
                verdict = f'the order holds at {leads[-1][0]}, not at every schedule between'
            else:
                verdict = f'the order of {leads[0][0]} does not hold at {leads[-1][0]}'
            lines.append(f'- {title.split(" (")[0]}, {label}: ' + '; '.join(
                f'{iters} it. {w}' + ('' if w == 'tie' else f' by {abs(g):.3f}')
                for iters, w, g in leads) + f' -- {verdict}')
    return lines


def summary(result: Dict) -> str:
    parts = []
    for title, baseline, design, columns in COMPARISONS:
        rows = []
        for label, column in columns.items():
            for iters in result['metrics']:
                a, b = (_value(result, iters, m, column) for m in (design, baseline))
                rows.append([label, iters, report.fmt(a), report.fmt(b), report.signed(a - b)])
        parts.append(f'{title}:\n\n' + report.md_table(
            ['metric', 'iterations', design, baseline, 'difference (left - right)'], rows))
    return '\n\n'.join(parts + ['\n'.join(order_lines(result))])


def figures(result: Dict, folder: str) -> list:
    plt = report.pyplot()
    rows = [[(title, baseline, design, label, column) for label, column in columns.items()]
            for title, baseline, design, columns in COMPARISONS]   # one row per comparison
    width = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), width, figsize=(4.2 * width, 3.8 * len(rows)),
                             squeeze=False)
    iters = [int(i) for i in result['metrics']]
    for ax, (title, baseline, design, label, column) in (
            (axes[i][j], panel) for i, r in enumerate(rows) for j, panel in enumerate(r)):
        for model, style in ((design, 'o-'), (baseline, 's--')):
            ax.plot(iters, [_value(result, str(i), model, column) for i in iters], style,
                    label=model)
        ax.set_xscale('log', base=2)
        ax.set_xticks(iters, [str(i) for i in iters])
        ax.set_xlabel('training iterations')
        better = 'higher' if _better(column[1]) > 0 else 'lower'
        ax.set_title(f'{title.split(" (")[0]}: {label} ({better} is better)', fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle('Learning curves of the deciding comparisons (same frames, seed and recipe; '
                 'the schedule stretched)')
    return [report.save_figure(fig, folder, FIGURE)]


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    match = result['plain_decoder']
    source = ('study 3\'s equal-latency match of this seed' if match['source'].endswith('.json')
              else 'matched in this run as in study 3')
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {describe(settings)}; each '
           'schedule trains from scratch with its warm-up and cosine decay stretched to its length. '
           'Models: study 2\'s attention + dropout and concat + dropout (scored on its test scenes '
           'and patterns), study 3\'s MoE and its plain decoder of equal deployed latency at '
           f'{match["factor"]:g}x the widths, {tuple(match["widths"])} ({source}; scored on every '
           'condition). Latency does not change with training: studies 2 and 3 give it.', '',
           report.training_lines(result['training']), '', summary(result), '',
           f'![learning curves]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
