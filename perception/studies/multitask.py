"""Study 3: the multi-task MoE model vs three single-task models vs the multi-task plain decoder.

All five models share the encoders, the attention fusion and the training recipe (same iterations,
batch, data and augmentation); they differ only in the decoder (TaskExpert MoE or the plain shared
top-down decoder) and in the tasks they carry. Each single-task model gets the same training budget
as the multi-task model, so the three together cost three times its training. Params, FLOPs and
CPU latency are measured here with all three sensors at the deployment size 256x320 (batch 1) on the
deployed graph -- re-parameterised, as ``perception export`` writes it -- in ONNX Runtime FP32 (the
latency column) and PyTorch eager (``common.latency_costs``, as every study and the benchmark time
it).
"""
from __future__ import annotations

from typing import Dict

from . import report
from .common import (Log, Settings, Trained, base_config, evaluate, latency_costs, size_label,
                     train, variant)

NAME = 'multitask'
TITLE = 'Study 3: multi-task MoE vs single-task models vs plain shared decoder'
FIGURE = 'study3_multitask.png'
FIGURES = (FIGURE, )
COST_SIZE = (256, 320)
SINGLE = {'seg': 'seg only', 'det': 'det only', 'depth': 'depth only'}


COST_KEYS = ('params_m', 'gmacs', 'latency_ms', 'eager_ms')


def cost(name: str, model: Trained, runs: int, folder: str, log: Log = print) -> Dict[str, float]:
    """Parameters (as trained), multiply-adds and median latency of the deployed graph with every
    sensor present: ``latency_ms`` in ONNX Runtime FP32, ``eager_ms`` in PyTorch eager."""
    c = latency_costs(name, model, [COST_SIZE], runs, folder, log)
    at = c[size_label(COST_SIZE)]
    return dict(params_m=c['params_m'], gmacs=at['gmacs'], latency_ms=at['onnxruntime fp32'],
                eager_ms=at['pytorch eager'])


def run(settings: Settings, log: Log = print) -> Dict:
    base = base_config(settings)
    trained = {'MoE multi-task': train(base, 'moe_multitask', settings, log),
               'plain multi-task': train(variant(base, decoder='PlainDecoder'), 'plain_multitask',
                                         settings, log)}
    for task, name in SINGLE.items():
        trained[name] = train(variant(base, tasks=(task, )), name.replace(' ', '_'), settings, log)
    metrics = {name: evaluate(m, settings, 'all_conditions', log=log)
               for name, m in trained.items()}
    log(f'  measuring params, FLOPs and latency of the deployed graphs at '
        f'{size_label(COST_SIZE)}')
    import os.path as osp
    folder = osp.join(settings.work_dir, NAME, 'latency')
    costs = {name: cost(name, m, settings.latency_runs, folder, log)
             for name, m in trained.items()}
    costs['3 single-task models (sum)'] = {
        k: sum(costs[n][k] for n in SINGLE.values()) for k in COST_KEYS}
    return dict(metrics=metrics, costs=costs,
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
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.4))
    colours = ['C0', 'C1', 'C2', 'C3', 'C4']
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
           'and shows each one\'s own metric:', '', summary(result), '',
           f'![multi-task vs single-task]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
