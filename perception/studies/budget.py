"""Study 7: do the deciding orders hold with training? The comparisons that decide what ships, at
1x, 2x and 4x the study schedule (500 / 1,000 / 2,000 iterations).

Studies 2 and 3 found the baselines ahead of the design at 500 iterations: concatenation + modality
dropout ahead of the shipped attention fusion + dropout (study 2's scene-tied missingness, every test
pattern), and a plain decoder of equal deployed latency ahead of the TaskExpert MoE on detection
(study 3). A short schedule can favour the simpler model (fewer parameters to fit, no router to
learn), so both pairs are retrained from scratch with the whole schedule stretched (warm-up, cosine
decay to the same floor) and scored on the same held-out frames. The 1x models are the studies' own
(the same configs: the cache reuses them).

Three seeds (0, 1, 2): the first two disagreed on orders (the fusion pair under the shifted pattern
at 2,000 iterations, the decoder's mIoU at 500 and 1,000), so a third decides. A run of some seeds
(``--seeds 2``) joins the seeds kept beside the docs (``docs/study_results/budget.json``) in the
same setting (``join``); each seed says which command, day and CPU produced it.

The plain decoder's widths are study 3's equal-latency match from the same work dir when that study
ran there (the same seed and setting), else matched here the same way (``equal_latency_plain``) and
kept per seed for the next run: latency does not change with training, so one match serves every
budget, and a timing repeated would move the widths (and so the models) by its noise.
"""
from __future__ import annotations

import dataclasses
import json
import os.path as osp
import time
from typing import Dict, Optional, Sequence

from . import mnar, multitask, report
from .common import Log, Settings, base_config, evaluate, save_json, train

NAME = 'budget'
TITLE = 'Study 7: do the orders hold with training? (1x, 2x, 4x the iterations)'
FIGURE = 'study7_budget.png'
FIGURES = (FIGURE, )
#: schedules as multiples of the run's ``--iters`` (500 by default: 500, 1000, 2000)
FACTORS = (1, 2, 4)
#: (id, name in the tables, fusion) of study 2's models compared here, both with dropout
FUSIONS = tuple((key, name, fusion) for key, name, fusion, with_dropout in mnar.MODELS
                if key in ('attention_dropout', 'concat_dropout'))
MOE = 'MoE multi-task'
#: the settings under which study 3's latency match holds for this run's models
MATCH_KEYS = ('seed', 'iters', 'batch_size', 'img_size', 'quick')
#: the comparisons and the metrics that decide them: (title, models, {column: (pattern, metric)})
FUSION_COLUMNS = {f'mIoU {p}': (p, 'seg/mIoU') for p in mnar.TEST_PATTERNS}
DECODER_COLUMNS = {label: ('all conditions', key) for key, label, _ in report.HEADLINE[:3]}
#: the seeds of a full run (``--seeds`` picks some; ``--quick`` runs ``--seed`` alone)
SEEDS = (0, 1, 2)
#: the settings under which seeds of different runs are one result (``join``)
JOIN_KEYS = ('iters', 'batch_size', 'img_size', 'test_frames', 'quick')


def describe(settings: Settings) -> str:
    return settings.describe(iterations=', '.join(str(b) for b in budgets(settings)),
                             seeds=settings.run_seeds(SEEDS))


def budgets(settings: Settings) -> Sequence[int]:
    return tuple(settings.iters * f for f in FACTORS)


def _match_path(settings: Settings) -> str:
    return osp.join(settings.work_dir, NAME, f'plain_widths_seed{settings.seed}.json')


def _plain(value):
    """``value`` as JSON gives it back (tuples become lists): kept and new settings compare."""
    return json.loads(json.dumps(value))


def _same_setting(ran: Dict, settings: Settings) -> bool:
    return all(ran[k] == _plain(getattr(settings, k)) for k in MATCH_KEYS)


def decoder_widths(settings: Settings, log: Log = print) -> Dict:
    """The plain decoder's equal-latency widths for this seed and setting: study 3's match from this
    work dir when it ran with them, else this study's own earlier match (kept per seed), else a new
    match, kept for the next run; ``dict(widths, factor, source)``."""
    study3 = osp.join(settings.work_dir, multitask.NAME, 'results.json')
    if osp.isfile(study3):
        with open(study3) as f:
            result = json.load(f)
        if _same_setting(result['run']['settings'], settings):
            match = result['equal_latency']
            log(f'  plain decoder widths {tuple(match["widths"])} ({match["factor"]:g}x): '
                f'study 3\'s match in {study3}')
            return dict(widths=list(match['widths']), factor=match['factor'], source='study 3')
    own = _match_path(settings)
    if osp.isfile(own):
        with open(own) as f:
            kept = json.load(f)
        if _same_setting(kept['settings'], settings):
            log(f'  plain decoder widths {tuple(kept["widths"])} ({kept["factor"]:g}x): matched by '
                f'an earlier run of this study, {own}')
            return dict(widths=kept['widths'], factor=kept['factor'], source=kept['source'])
    match = multitask.equal_latency_plain(base_config(settings), settings,
                                          osp.join(settings.work_dir, NAME, 'latency'), log)
    kept = dict(widths=list(match['widths']), factor=match['factor'],
                source=f'matched by this study on {time.strftime("%Y-%m-%d")}',
                settings={k: getattr(settings, k) for k in MATCH_KEYS})
    save_json(kept, own)
    return {k: kept[k] for k in ('widths', 'factor', 'source')}


def run_seed(settings: Settings, log: Log = print) -> Dict:
    """Both comparisons at every schedule for ``settings.seed``: ``dict(metrics={iterations:
    {model: {pattern: metrics}}}, plain_decoder, training)``."""
    t0 = time.time()
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
    return dict(metrics=metrics, plain_decoder=match, training=training,
                seconds=time.time() - t0)


def run(settings: Settings, log: Log = print) -> Dict:
    """Every seed in turn (seed 0's models first: a run stopped for time keeps one whole seed)."""
    per_seed = {}
    for seed in settings.run_seeds(SEEDS):
        log(f'-- seed {seed}')
        per_seed[str(seed)] = run_seed(dataclasses.replace(settings, seed=seed), log)
    return dict(seeds=[int(s) for s in per_seed], runs=per_seed)


def join(kept: Optional[Dict], result: Dict, log: Log = print) -> Dict:
    """Stamp each seed of this run with its provenance (``run``: command, day, CPU, wall time) and
    add the seeds of ``kept`` (the results kept beside the docs) that this run did not train, when
    both ran in the same setting (``JOIN_KEYS``); a seed run again replaces its kept one."""
    run = result['run']
    for r in result['runs'].values():
        r['run'] = dict(command=run['command'], date=run['date'], cpu=run.get('cpu', ''),
                        cpus=run['cpus'], seconds=r.pop('seconds', run['seconds']))
    if not kept:
        return result
    theirs, ours = kept['run']['settings'], _plain(run['settings'])
    differ = [k for k in JOIN_KEYS if _plain(theirs.get(k)) != ours[k]]
    if differ:
        log(f'  the kept results ({kept["run"]["date"]}) differ in {", ".join(differ)}: '
            'not joined')
        return result
    added = [s for s in kept['seeds'] if str(s) not in result['runs']]
    if not added:
        return result
    for seed in added:   # a kept seed must fill every table this run's seeds fill
        theirs = kept['runs'].get(str(seed), {}).get('metrics', {})
        for iters, models in next(iter(result['runs'].values()))['metrics'].items():
            missing = [m for m in models if m not in theirs.get(iters, {})]
            if missing:
                raise ValueError(f'the kept results\' seed {seed} has no {", ".join(missing)} '
                                 f'at {iters} iterations: rerun it (--seeds {seed}) or remove '
                                 'it from the kept file')
    runs = dict(result['runs'])
    for seed in added:
        runs[str(seed)] = dict(kept['runs'][str(seed)])
        runs[str(seed)].setdefault('run', {k: kept['run'].get(k) for k in (
            'command', 'date', 'cpu', 'cpus', 'seconds')})
    seeds = sorted(int(s) for s in runs)
    log(f'  seeds {", ".join(map(str, added))} joined from the kept results '
        f'({kept["run"]["date"]}); the result holds seeds {", ".join(map(str, seeds))}')
    return dict(result, seeds=seeds, runs={str(s): runs[str(s)] for s in seeds},
                run=dict(run, settings=dict(run['settings'], seeds=seeds)))


def mean_run(result: Dict) -> Dict:
    """The seeds' mean in a run's shape (``metrics`` only), for the verdicts of several seeds."""
    runs = [result['runs'][str(s)] for s in result['seeds']]
    first = runs[0]['metrics']
    return dict(metrics={iters: {model: {pattern: {
        key: sum(r['metrics'][iters][model][pattern][key] for r in runs) / len(runs)
        for key in values} for pattern, values in patterns.items()}
        for model, patterns in at.items()} for iters, at in first.items()})


COMPARISONS = (
    ('Fusion (study 2 recipe: scene-tied missingness + dropout)', 'concat + dropout',
     'attention + dropout', FUSION_COLUMNS),
    ('Decoder (study 3 recipe)', multitask.EQUAL_PLAIN, MOE, DECODER_COLUMNS),
)


def _value(result: Dict, iters: str, model: str, column) -> float:
    pattern, key = column
    return result['metrics'][iters][model][pattern].get(key, float('nan'))


#: a difference that rounds to 0.000 in the tables: no leader
TIE = 0.0005


def _leader(run: Dict, iters: str, baseline: str, design: str, column) -> str:
    gap = (_value(run, iters, design, column) -
           _value(run, iters, baseline, column)) * report.direction(column[1])
    return 'tie' if abs(gap) < TIE else design if gap > 0 else baseline


def agreement_table(result: Dict) -> str:
    """Per comparison, metric and schedule: in how many seeds each model leads (and ties)."""
    runs = [result['runs'][str(s)] for s in result['seeds']]
    schedules = list(runs[0]['metrics'])
    rows = []
    for title, baseline, design, columns in COMPARISONS:
        for label, column in columns.items():
            cells = []
            for iters in schedules:
                leaders = [_leader(r, iters, baseline, design, column) for r in runs]
                cells.append(', '.join(f'{short} {leaders.count(who)}' for who, short in (
                    (design, 'design'), (baseline, 'baseline'), ('tie', 'tie'))
                    if leaders.count(who)))
            rows.append([f'{title.split(" (")[0]}: {label}'] + cells)
    return report.md_table(['comparison: metric'] + [f'{i} it.' for i in schedules], rows)


def order_lines(result: Dict) -> list:
    """Per comparison and column: which model leads at each schedule, and whether the order of the
    shortest schedule holds at the longest (the issue's test) and at every one in between."""
    lines = []
    for title, baseline, design, columns in COMPARISONS:
        for label, column in columns.items():
            leads = []
            for iters in result['metrics']:
                gap = abs(_value(result, iters, design, column) -
                          _value(result, iters, baseline, column))
                leads.append((iters, _leader(result, iters, baseline, design, column), gap))
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


def _tables(run: Dict) -> str:
    parts = []
    for title, baseline, design, columns in COMPARISONS:
        rows = []
        for label, column in columns.items():
            for iters in run['metrics']:
                a, b = (_value(run, iters, m, column) for m in (design, baseline))
                rows.append([label, iters, report.fmt(a), report.fmt(b), report.signed(a - b)])
        parts.append(f'{title}:\n\n' + report.md_table(
            ['metric', 'iterations', design, baseline, 'difference (left - right)'], rows))
    return '\n\n'.join(parts)


def _mean_table(result: Dict) -> str:
    """Both comparisons on the seeds' mean, each seed's value in brackets."""
    runs = [result['runs'][str(s)] for s in result['seeds']]
    mean = mean_run(result)
    both = lambda values: '(' + ' / '.join(values) + ')'   # noqa: E731
    rows = []
    for title, baseline, design, columns in COMPARISONS:
        for label, column in columns.items():
            for iters in mean['metrics']:
                cells = []
                for model in (design, baseline):
                    cells.append(f'{report.fmt(_value(mean, iters, model, column))} ' + both(
                        [report.fmt(_value(r, iters, model, column)) for r in runs]))
                gaps = [_value(r, iters, design, column) - _value(r, iters, baseline, column)
                        for r in runs]
                rows.append([f'{title.split(" (")[0]}: {label}', iters] + cells + [
                    f'{report.signed(sum(gaps) / len(gaps))} ' +
                    both([report.signed(g) for g in gaps])])
    return report.md_table(['metric', 'iterations', 'design: attention + dropout / MoE',
                            'baseline: concat + dropout / plain', 'difference, mean (per seed)'],
                           rows)


def summary(result: Dict) -> str:
    """Per seed the tables; with several seeds the mean table and the verdicts on the mean, then
    each seed's (an order the seeds disagree on is not settled)."""
    out = []
    for seed in map(str, result['seeds']):
        out += [f'Seed {seed}.', '', _tables(result['runs'][seed]), '']
    if len(result['seeds']) == 1:
        return '\n'.join(out + ['\n'.join(order_lines(result['runs'][str(result['seeds'][0])]))])
    out += [f'Mean of seeds {", ".join(map(str, result["seeds"]))}, each seed in brackets '
            '(difference: design - baseline; for AbsRel a negative one favours the design):', '',
            _mean_table(result), '', 'In how many seeds each leads (design: attention + dropout '
            '/ MoE; baseline: concat + dropout / plain; tie: within 0.0005):', '',
            agreement_table(result), '', 'Who leads, on the mean:', '',
            '\n'.join(order_lines(mean_run(result)))]
    for seed in map(str, result['seeds']):
        out += ['', f'Who leads, seed {seed}:', '', '\n'.join(order_lines(result['runs'][seed]))]
    return '\n'.join(out)


def figures(result: Dict, folder: str) -> list:
    """Learning curves: the seeds' mean as lines, each seed's value as a small marker."""
    plt = report.pyplot()
    rows = [[(title, baseline, design, label, column) for label, column in columns.items()]
            for title, baseline, design, columns in COMPARISONS]   # one row per comparison
    width = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), width, figsize=(4.2 * width, 3.8 * len(rows)),
                             squeeze=False)
    mean = mean_run(result)
    runs = [result['runs'][str(s)] for s in result['seeds']]
    iters = [int(i) for i in mean['metrics']]
    for ax, (title, baseline, design, label, column) in (
            (axes[i][j], panel) for i, r in enumerate(rows) for j, panel in enumerate(r)):
        for model, style, color in ((design, 'o-', 'C0'), (baseline, 's--', 'C1')):
            ax.plot(iters, [_value(mean, str(i), model, column) for i in iters], style,
                    color=color, label=model)
            if len(runs) > 1:
                for r in runs:
                    ax.plot(iters, [_value(r, str(i), model, column) for i in iters], style[0],
                            color=color, alpha=0.35, markersize=4)
        ax.set_xscale('log', base=2)
        ax.set_xticks(iters, [str(i) for i in iters])
        ax.set_xlabel('training iterations')
        better = 'higher' if report.direction(column[1]) > 0 else 'lower'
        ax.set_title(f'{title.split(" (")[0]}: {label} ({better} is better)', fontsize=9)
        ax.legend(fontsize=7)
    said = f'seeds {", ".join(map(str, result["seeds"]))}'
    if len(runs) > 1:
        said += ': lines the mean, small markers each seed'
    fig.suptitle('Learning curves of the deciding comparisons (same frames and recipe, the '
                 f'schedule stretched; {said})')
    return [report.save_figure(fig, folder, FIGURE)]


def full_command(seeds: Sequence[int]) -> str:
    """The command that trains and reports ``seeds`` in one run."""
    picked = '' if tuple(seeds) == SEEDS else ' --seeds ' + ' '.join(map(str, seeds))
    return f'python tools/study.py {NAME}{picked}'


def provenance_lines(result: Dict) -> list:
    """Which run produced each seed: command, day, CPU, wall time; recovered seeds say so."""
    lines = []
    for seed in result['seeds']:
        run = result['runs'][str(seed)].get('run') or result['run']
        cpu = run.get('cpu') or f'{run.get("cpus", "?")} cores'
        line = (f'- seed {seed}: `{run["command"]}`, {run["date"]}, {cpu}, '
                f'{report.minutes(run["seconds"])}')
        if run.get('recovered'):
            line += f' ({run["recovered"]})'
        lines.append(line)
    return lines


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    plain = '; '.join(
        f'seed {seed}: {m["factor"]:g}x, {tuple(m["widths"])} ({m["source"]})'
        for seed, m in ((s, result['runs'][str(s)]['plain_decoder']) for s in result['seeds']))
    training = [f'Seed {seed}. ' + report.training_lines(result['runs'][str(seed)]['training'])
                for seed in result['seeds']]
    seeds = result['seeds']
    out = [f'## {TITLE}', '', f'Command: `{full_command(seeds)}`  ',
           f'Setting: {describe(dataclasses.replace(settings, seeds=tuple(seeds)))}; each '
           'schedule trains from scratch with its warm-up and cosine decay stretched to its '
           'length. Models: study 2\'s attention + dropout and concat + dropout (scored on its '
           'test scenes and patterns), study 3\'s MoE and its plain decoder widened to the MoE\'s '
           f'deployed latency ({plain}; scored on every condition). Latency does not change '
           'with training: studies 2 and 3 give it.', '', 'The runs behind each seed:', '',
           '\n'.join(provenance_lines(result)), '', '\n\n'.join(training), '',
           summary(result), '', f'![learning curves]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
