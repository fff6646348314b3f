"""Study 3: the multi-task MoE model vs three single-task models vs the multi-task plain decoder.

The fair comparison for the MoE is a plain decoder that costs as much when deployed: the study times
the MoE's deployed graph and the plain decoder's at several widths (untrained: weights do not change
the time) and trains the plain decoder at the width whose ONNX Runtime latency is closest to the
MoE's (``equal_latency_plain``). Four MoE variants spend about the same time differently: fewer,
wider experts; experts only at the coarse levels (strides 16-32); per-task expert subsets (one
shared expert and one private per task); routing on the modality mask.

All the models share the encoders, the attention fusion and the training recipe (same iterations,
batch, data and augmentation); they differ only in the decoder (TaskExpert MoE or the plain shared
top-down decoder) and in the tasks they carry. Each single-task model gets the same training budget
as the multi-task model, so the three together cost three times its training. Params, FLOPs and
CPU latency are measured here with all three sensors at the deployment size 256x320 (batch 1) on the
deployed graph -- re-parameterised, as ``perception export`` writes it -- in ONNX Runtime FP32 (the
latency column) and PyTorch eager (``common.latency_costs``, as every study and the benchmark time
it).
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

from mmengine.config import Config

from . import report
from .common import (Log, Settings, Trained, base_config, evaluate, latency_costs, size_label,
                     train, variant)

NAME = 'multitask'
TITLE = 'Study 3: multi-task MoE vs single-task models vs plain shared decoder'
FIGURE = 'study3_multitask.png'
FIGURES = (FIGURE, )
COST_SIZE = (256, 320)
SINGLE = {'seg': 'seg only', 'det': 'det only', 'depth': 'depth only'}
#: (id, name in the tables, options on the shipped TaskExpertDecoder)
MOE_VARIANTS = (
    ('moe_2_wide_experts', 'MoE, 2 wider experts', dict(num_experts=2, expert_expansion=2)),
    ('moe_coarse_experts', 'MoE, experts at strides 16-32', dict(expert_levels=(2, 3))),
    ('moe_task_experts', 'MoE, per-task experts',
     dict(task_experts=dict(seg=(0, 1), det=(0, 2), depth=(0, 3)))),
    ('moe_mask_routing', 'MoE, routing on the modality mask', dict(mask_routing=True)),
)
#: plain decoder widths tried for the equal-latency match, as multiples of the shipped widths
PLAIN_WIDTHS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
EQUAL_PLAIN = 'plain, equal latency'


COST_KEYS = ('params_m', 'gmacs', 'latency_ms', 'eager_ms')


def cost(name: str, model: Trained, runs: int, folder: str, log: Log = print) -> Dict[str, float]:
    """Parameters (as trained), multiply-adds and median latency of the deployed graph with every
    sensor present: ``latency_ms`` in ONNX Runtime FP32, ``eager_ms`` in PyTorch eager."""
    c = latency_costs(name, model, [COST_SIZE], runs, folder, log)
    at = c[size_label(COST_SIZE)]
    return dict(params_m=c['params_m'], gmacs=at['gmacs'], latency_ms=at['onnxruntime fp32'],
                eager_ms=at['pytorch eager'])


def _scaled(widths: Sequence[int], factor: float) -> Tuple[int, ...]:
    """Decoder widths times ``factor``, rounded to multiples of 8 (fast kernels, even groups)."""
    return tuple(max(8, int(round(w * factor / 8)) * 8) for w in widths)


def equal_latency_plain(base: Config, settings: Settings, folder: str,
                        log: Log = print) -> Dict:
    """The plain-decoder widths whose deployed ONNX Runtime latency at ``COST_SIZE`` equals the MoE
    model's, measured in this run on untrained models (the weights do not change the time).

    One timing on a shared 2-core machine is noisy (+-15 %), so the choice does not trust any single
    one: the MoE is timed before and after the candidates (mean), a robust line (Theil-Sen: the
    median of the pairwise slopes) is fitted to latency against the width factor, and the factor
    where the line meets the MoE's time is taken (rounded to 0.25, within the widths tried). Returns
    ``dict(widths, factor, target_ms, tried={factor: ms}, fit=(intercept, slope))``."""
    import statistics
    widths = tuple(base.model.fusion.channels)
    untrained = lambda cfg, name: Trained(name, '', cfg, 0.0, False)   # noqa: E731
    moe = lambda: cost('MoE (timing)', untrained(base, 'moe'), settings.latency_runs,  # noqa: E731
                       folder, log)['latency_ms']
    before = moe()
    tried = {}
    factors = (PLAIN_WIDTHS[0], PLAIN_WIDTHS[2]) if settings.quick else PLAIN_WIDTHS
    for factor in factors:
        cfg = variant(base, decoder='PlainDecoder',
                      decoder_options=dict(channels=_scaled(widths, factor)))
        tried[factor] = cost(f'plain x{factor:g} (timing)', untrained(cfg, 'plain'),
                             settings.latency_runs, folder, log)['latency_ms']
    target = (before + moe()) / 2
    pairs = [(a, b) for a in tried for b in tried if b > a]
    slope = statistics.median((tried[b] - tried[a]) / (b - a) for a, b in pairs)
    intercept = statistics.median(ms - slope * f for f, ms in tried.items())
    if slope > 0:
        factor = (target - intercept) / slope
    else:   # no measurable growth with width: the widest tried
        factor = max(tried)
    factor = min(max(round(factor * 4) / 4, min(tried)), max(tried))
    log(f'  equal latency: MoE {target:.1f} ms (mean of {before:.1f} and the second timing); '
        f'plain ms = {intercept:.1f} + {slope:.2f} x width factor -> {factor:g}x the widths '
        f'{_scaled(widths, factor)}')
    return dict(widths=_scaled(widths, factor), factor=factor, target_ms=target,
                tried={f'{f:g}': ms for f, ms in tried.items()}, fit=(intercept, slope))


def plain_config(base: Config, widths: Sequence[int]) -> Config:
    """The multi-task model with the plain shared decoder at ``widths`` (the equal-latency match)."""
    return variant(base, decoder='PlainDecoder', decoder_options=dict(channels=tuple(widths)))


def run(settings: Settings, log: Log = print) -> Dict:
    import os.path as osp
    base = base_config(settings)
    folder = osp.join(settings.work_dir, NAME, 'latency')
    log(f'  matching the plain decoder\'s deployed latency to the MoE\'s at '
        f'{size_label(COST_SIZE)}')
    match = equal_latency_plain(base, settings, folder, log)
    trained = {'MoE multi-task': train(base, 'moe_multitask', settings, log),
               'plain multi-task': train(variant(base, decoder='PlainDecoder'), 'plain_multitask',
                                         settings, log),
               EQUAL_PLAIN: train(plain_config(base, match['widths']), 'plain_equal_latency',
                                  settings, log)}
    for key, name, options in MOE_VARIANTS:
        trained[name] = train(variant(base, decoder_options=options), key, settings, log)
    for task, name in SINGLE.items():
        trained[name] = train(variant(base, tasks=(task, )), name.replace(' ', '_'), settings, log)
    metrics = {name: evaluate(m, settings, 'all_conditions', log=log)
               for name, m in trained.items()}
    log(f'  measuring params, FLOPs and latency of the deployed graphs at '
        f'{size_label(COST_SIZE)}')
    costs = {name: cost(name, m, settings.latency_runs, folder, log)
             for name, m in trained.items()}
    costs['3 single-task models (sum)'] = {
        k: sum(costs[n][k] for n in SINGLE.values()) for k in COST_KEYS}
    return dict(metrics=metrics, costs=costs, equal_latency=match,
                variants={name: options for _, name, options in MOE_VARIANTS},
                training={k: dict(seconds=m.seconds, reused=m.reused) for k, m in trained.items()})


def summary(result: Dict) -> str:
    rows = []
    for name, c in result['costs'].items():
        m = result['metrics'].get(name)
        if m is None:   # the sum row: the best each single-task model gives on its task
            m = {k: v for n in SINGLE.values() for k, v in result['metrics'][n].items()
                 if v == v}  # NaN: a task the model does not have
        rows.append([name] + [report.fmt(m.get(key)) for key, _, _ in report.HEADLINE] +
                    [f"{c['params_m']:.2f}", f"{c['gmacs']:.2f}", f"{c['latency_ms']:.1f}",
                     f"{c['eager_ms']:.1f}"])
    return report.md_table(report.metric_header('model') +
                           ['params (M)', 'GMACs', 'ORT ms', 'eager ms'], rows)


def figures(result: Dict, folder: str) -> list:
    plt = report.pyplot()
    names = list(result['metrics'])
    fig, axes = plt.subplots(1, 5, figsize=(24, 5.2))
    colours = [f'C{i % 10}' for i in range(len(names))]
    for ax, (key, label, up) in zip(axes, report.HEADLINE):
        values = [result['metrics'][n].get(key, float('nan')) for n in names]
        ax.bar(range(len(names)), values, color=colours[:len(names)])
        ax.set_xticks(range(len(names)), names, rotation=30, ha='right', fontsize=8)
        ax.set_title(f'{label} ({"higher" if up else "lower"} is better)', fontsize=10)
    lat = [result['costs'][n]['latency_ms'] for n in names]
    axes[4].bar(range(len(names)), lat, color=colours[:len(names)])
    axes[4].axhline(result['costs']['3 single-task models (sum)']['latency_ms'], color='k', ls='--',
                    label='3 single-task models (sum)')
    axes[4].set_xticks(range(len(names)), names, rotation=30, ha='right', fontsize=8)
    axes[4].set_title(f'deployed graph, ONNX Runtime ms at {COST_SIZE[0]}x{COST_SIZE[1]}',
                      fontsize=10)
    axes[4].legend(fontsize=7)
    return [report.save_figure(fig, folder, FIGURE)]


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {settings.describe()}. Test: '
           'held-out frames of every condition (including the simulated sensor failures), all '
           'sensors the frame has.', '', report.training_lines(result['training']), '',
           'Metrics on the test frames; params (as trained), multiply-adds (GMACs, all three '
           'sensors) and median CPU latency of the deployed graph (re-parameterised as exported, '
           f'batch 1) in ONNX Runtime FP32 and PyTorch eager at {COST_SIZE[0]}x{COST_SIZE[1]}, '
           'measured in this run. A single-task '
           'model has its task\'s metrics only; the sum row adds up the three single-task models '
           'and shows each one\'s own metric:', '', summary(result), '']
    match = result.get('equal_latency')
    if match:
        tried = ', '.join(f'{f}x {ms:.1f} ms' for f, ms in match['tried'].items())
        fit = match.get('fit')
        line = (f'; a robust line through them, {fit[0]:.1f} + {fit[1]:.2f} ms per unit of '
                'width, meets the MoE\'s time' if fit else '')
        out += [f'Equal-latency match (untrained deployed graphs, ONNX Runtime, this run): the MoE '
                f'model {match["target_ms"]:.1f} ms; plain decoder widths tried {tried}{line}; '
                f'trained at {match["factor"]:g}x, decoder widths {tuple(match["widths"])} '
                f'("{EQUAL_PLAIN}"). The latency column above is the trained models\' own '
                'measurement.', '']
    if result.get('retimed'):
        out += [f'Latency re-measured after the study ({result["retimed"]}): the study\'s own '
                'pass ran while the machine was slower (its first timings stay in results.json, '
                '`costs_first_pass`).', '']
    if result.get('variants'):
        out += ['MoE variants (options on the shipped `TaskExpertDecoder`): ' + '; '.join(
            f'{name}: `{options}`' for name, options in result['variants'].items()) + '.', '']
    out += [f'![multi-task vs single-task]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
