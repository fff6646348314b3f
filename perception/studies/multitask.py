"""Study 3: the multi-task MoE model vs three single-task models vs the multi-task plain decoder.

All five models share the encoders, the attention fusion and the training recipe (same iterations,
batch, data and augmentation); they differ only in the decoder (TaskExpert MoE or the plain shared
top-down decoder) and in the tasks they carry. Each single-task model gets the same training budget
as the multi-task model, so the three together cost three times its training. Params, FLOPs and
CPU latency are measured here with all three sensors at the deployment size 256x320 (batch 1,
PyTorch eager on this machine's CPU threads).
"""
from __future__ import annotations

from typing import Dict

from . import report
from .common import Log, Settings, Trained, base_config, evaluate, train, variant

NAME = 'multitask'
TITLE = 'Study 3: multi-task MoE vs single-task models vs plain shared decoder'
FIGURE = 'study3_multitask.png'
FIGURES = (FIGURE, )
COST_SIZE = (256, 320)
SINGLE = {'seg': 'seg only', 'det': 'det only', 'depth': 'depth only'}


def cost(model: Trained, runs: int) -> Dict[str, float]:
    """Parameters, multiply-adds and median latency of one forward with every sensor present."""
    import torch

    from perception.benchmark.runners import (count_flops, latency_stats, perception_model,
                                              sensor_inputs, time_runner, torch_runner)
    net = perception_model(model.config)
    inputs = sensor_inputs(COST_SIZE)
    params = sum(p.numel() for p in net.parameters())
    flops = count_flops(net, inputs)
    with torch.inference_mode():
        stats = latency_stats(time_runner(torch_runner(net, inputs), runs, max(1, runs // 5)))
    return dict(params_m=params / 1e6, gmacs=flops / 1e9, latency_ms=stats['median_ms'])


def run(settings: Settings, log: Log = print) -> Dict:
    base = base_config(settings)
    trained = {'MoE multi-task': train(base, 'moe_multitask', settings, log),
               'plain multi-task': train(variant(base, decoder='PlainDecoder'), 'plain_multitask',
                                         settings, log)}
    for task, name in SINGLE.items():
        trained[name] = train(variant(base, tasks=(task, )), name.replace(' ', '_'), settings, log)
    metrics = {name: evaluate(m, settings, 'all_conditions', log=log)
               for name, m in trained.items()}
    log(f'  measuring params, FLOPs and latency at {COST_SIZE[0]}x{COST_SIZE[1]}')
    costs = {name: cost(m, settings.latency_runs) for name, m in trained.items()}
    costs['3 single-task models (sum)'] = {
        k: sum(costs[n][k] for n in SINGLE.values()) for k in ('params_m', 'gmacs', 'latency_ms')}
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
                    [f"{c['params_m']:.2f}", f"{c['gmacs']:.2f}", f"{c['latency_ms']:.1f}"])
    return report.md_table(report.metric_header('model') +
                           ['params (M)', 'GMACs', 'latency (ms)'], rows)


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
    axes[4].set_title(f'CPU latency, ms at {COST_SIZE[0]}x{COST_SIZE[1]}', fontsize=10)
    axes[4].legend(fontsize=7)
    return [report.save_figure(fig, folder, FIGURE)]


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {settings.describe()}. Test: '
           'held-out frames of every condition (including the simulated sensor failures), all '
           'sensors the frame has.', '', report.training_lines(result['training']), '',
           'Metrics on the test frames; params, multiply-adds (GMACs, all three sensors) and '
           f'median CPU latency (PyTorch, batch 1) at {COST_SIZE[0]}x{COST_SIZE[1]}. A single-task '
           'model has its task\'s metrics only; the sum row adds up the three single-task models '
           'and shows each one\'s own metric:', '', summary(result), '',
           f'![multi-task vs single-task]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
