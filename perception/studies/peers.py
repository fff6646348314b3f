"""Study 5: head-to-head with the single-task models a user would pick instead of nano.

SegFormer-B0 (mmseg) for segmentation and RTMDet-tiny (mmdet) for detection, from the libraries'
own configs (``perception.models.LibraryModel``: backbone, neck, head, losses and assigner as
published, our class counts, random init like nano), each on RGB only and on RGB + thermal + depth
stacked as one 5-channel image (early fusion); one nano trained for depth only; and the nano
multi-task model of the study setting. Every model gets the same training frames (the ``train``
stream), resolution, iterations, batch, optimiser and schedule, and is scored by the same
``MultiTaskMetric`` on the same held-out frames, per condition.

Latency is measured in the same run for every model at the study resolution and at 256x320, batch
1, all sensors present, in PyTorch eager FP32 and ONNX Runtime FP32: network only for the library
models (their raw head outputs, no decoding or NMS), the deployed graph for nano (re-parameterised,
with its top-K detection candidates: ``perception export``'s host graph, as docs/benchmarks.md).
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Sequence

from perception.contract import SENSORS

from . import report
from .common import (Log, Settings, Trained, base_config, evaluate, latency_costs, size_label,
                     train, variant)

NAME = 'peers'
TITLE = 'Study 5: head-to-head with SegFormer-B0 and RTMDet-tiny'
FIGURE = 'study5_peers.png'
FIGURES = (FIGURE, )
DEPLOY_SIZE = (256, 320)
BACKENDS = ('onnxruntime fp32', 'pytorch eager')
NANO, DEPTH = 'nano (seg+det+depth)', 'nano depth only'
RGB, FUSED = 'RGB', 'RGB+T+D'
#: label -> (library config, task, sensors); the configs are those of docs/benchmarks.md
PEERS = {
    f'SegFormer-B0 {RGB}': ('segformer', 'seg', ('rgb', )),
    f'SegFormer-B0 {FUSED}': ('segformer', 'seg', SENSORS),
    f'RTMDet-tiny {RGB}': ('rtmdet', 'det', ('rgb', )),
    f'RTMDet-tiny {FUSED}': ('rtmdet', 'det', SENSORS),
}
#: the metric each task is judged on: (key, label, higher is better)
TASK_METRIC = {'seg': ('seg/mIoU', 'mIoU', True), 'det': ('det/mAP_50', 'mAP@50', True),
               'depth': ('depth/AbsRel', 'AbsRel', False)}
#: the pairs whose sum a nano forward replaces, per input form
PAIRS = {form: (f'SegFormer-B0 {form}', f'RTMDet-tiny {form}') for form in (RGB, FUSED)}


def _library(key: str) -> str:
    from perception.benchmark.runners import RTMDET_TINY, SEGFORMER_B0
    return {'segformer': SEGFORMER_B0, 'rtmdet': RTMDET_TINY}[key]


def peer_config(base, library: str, task: str, sensors: Sequence[str]):
    """The study config with the library model in place of nano. An RGB-only model is trained as a
    user would train it: on the scenes that have an RGB image and without modality dropout (as the
    single-sensor models of study 1); the 5-channel model on nano's exact pipeline (modality
    dropout included: absent sensors are zeros in its stack, as in nano's inputs). Detection
    post-processing uses nano's settings (score threshold, NMS IoU, boxes kept) in mmdet's own
    ``predict_by_feat``, so the two detectors differ only in the network."""
    from perception.datasets.synthetic import CONDITIONS
    if tuple(sensors) == SENSORS:
        cfg = variant(base)
    else:
        cfg = variant(base, train_missingness=[],
                      train_conditions=[c for c, cond in CONDITIONS.items()
                                        if not set(cond.dropped) & set(sensors)])
    model = dict(type='LibraryModel', config=library, sensors=tuple(sensors),
                 num_classes=int(base.model.num_classes[task]),
                 data_preprocessor=base.model.data_preprocessor)
    if task == 'det':
        nms = base.model.heads.det.nms
        model['test_cfg'] = dict(score_thr=nms.score_thr, nms_pre=nms.pre_nms_topk,
                                 max_per_img=nms.max_det,
                                 nms=dict(type='nms', iou_threshold=nms.iou_thr))
    cfg.model = model
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key] = dict(cfg[key], tasks=(task, ))
    return cfg


def run(settings: Settings, log: Log = print) -> Dict:
    base = base_config(settings)
    trained: Dict[str, Trained] = {
        NANO: train(base, 'full', settings, log),   # the model of studies 1, 3 and 4 (cached)
        DEPTH: train(variant(base, tasks=('depth', )), 'depth_only', settings, log)}
    tasks = {NANO: list(base.model.tasks), DEPTH: ['depth']}
    sensors = {NANO: list(SENSORS), DEPTH: list(SENSORS)}
    for label, (key, task, used) in PEERS.items():
        cfg = peer_config(base, _library(key), task, used)
        trained[label] = train(cfg, label.lower().replace(' ', '_').replace('+', ''), settings,
                               log)
        tasks[label], sensors[label] = [task], list(used)
    metrics = {name: evaluate(m, settings, 'all_conditions', log=log)
               for name, m in trained.items()}
    sizes = [tuple(settings.img_size), DEPLOY_SIZE]
    log(f'  measuring latency at {", ".join(size_label(s) for s in sizes)}')
    folder = osp.join(settings.work_dir, NAME, 'latency')
    costs = {name: latency_costs(name, m, sizes, settings.latency_runs, folder, log, BACKENDS)
             for name, m in trained.items()}
    from perception.datasets.synthetic import CONDITIONS
    conditions = [c for c in CONDITIONS if any(f'{TASK_METRIC[t][0]}@{c}' in m
                                               for m in metrics.values() for t in TASK_METRIC)]
    return dict(metrics=metrics, costs=costs, sizes=[size_label(s) for s in sizes],
                conditions=conditions, tasks=tasks, sensors=sensors,
                training={k: dict(seconds=m.seconds, reused=m.reused) for k, m in trained.items()})


# --- report --------------------------------------------------------------------------------------
def _cell(metrics: Dict, key: str) -> str:
    return report.fmt(metrics[key]) if key in metrics else '-'


def _pair_metrics(result: Dict, form: str) -> Dict:
    out: Dict = {}
    for name in PAIRS[form]:
        out.update(result['metrics'][name])
    return out


def _pair_cost(result: Dict, form: str, size: str, backend: str) -> float:
    return sum(result['costs'][n][size][backend] for n in PAIRS[form])


def summary(result: Dict) -> str:
    """Accuracy and latency in one table; a sum row is one SegFormer-B0 + one RTMDet-tiny forward
    (each with its own metric)."""
    sizes = result['sizes']
    header = (['model', 'sensors'] + [f'{label} {"↑" if up else "↓"}'
                                      for _, label, up in report.HEADLINE]
              + ['params (M)', f'GMACs {sizes[0]}']
              + [f'{"ORT" if b.startswith("onnx") else "eager"} ms {s}' for s in sizes
                 for b in BACKENDS])
    rows = []
    for name, m in result['metrics'].items():
        c = result['costs'][name]
        rows.append([name, '+'.join(result['sensors'][name])]
                    + [_cell(m, key) for key, _, _ in report.HEADLINE]
                    + [f"{c['params_m']:.2f}", f"{c[sizes[0]]['gmacs']:.2f}"]
                    + [f'{c[s][b]:.1f}' for s in sizes for b in BACKENDS])
    for form, (seg, det) in PAIRS.items():
        m = _pair_metrics(result, form)
        params = sum(result['costs'][n]['params_m'] for n in (seg, det))
        gmacs = sum(result['costs'][n][sizes[0]]['gmacs'] for n in (seg, det))
        rows.append([f'SegFormer-B0 + RTMDet-tiny {form} (sum)', '+'.join(result['sensors'][seg])]
                    + [_cell(m, key) for key, _, _ in report.HEADLINE]
                    + [f'{params:.2f}', f'{gmacs:.2f}']
                    + [f'{_pair_cost(result, form, s, b):.1f}' for s in sizes for b in BACKENDS])
    return report.md_table(header, rows)


def goal_lines(result: Dict) -> List[str]:
    """The issue's goals as measured: nano vs each peer on its own task, and one nano forward vs
    one SegFormer-B0 + one RTMDet-tiny forward in the same backend."""
    nano = result['metrics'][NANO]
    lines = []
    for task in ('seg', 'det'):
        key, label, up = TASK_METRIC[task]
        for name in (n for n, (_, t, _) in PEERS.items() if t == task):
            ours, theirs = nano.get(key), result['metrics'][name].get(key)
            if ours is None or theirs is None:
                continue
            better = ours > theirs if up else ours < theirs
            lines.append(f'- {label}: nano {report.fmt(ours)} vs {name} {report.fmt(theirs)} '
                         f'({report.signed(ours - theirs)}): '
                         + ('**met**' if better else '**not met**'))
    key, label, _ = TASK_METRIC['depth']
    if key in nano and key in result['metrics'][DEPTH]:
        ours, theirs = nano[key], result['metrics'][DEPTH][key]
        lines.append(f'- {label} (no peer goal; for reference): nano {report.fmt(ours)} vs the '
                     f'depth-only nano {report.fmt(theirs)} ({report.signed(ours - theirs)}, lower '
                     'is better)')
    for size in result['sizes']:
        for backend in BACKENDS:
            ours = result['costs'][NANO][size][backend]
            parts = []
            for form in PAIRS:
                pair = _pair_cost(result, form, size, backend)
                parts.append(f'{form} {pair:.1f} ms: ratio **{ours / pair:.2f}** '
                             + ('(met)' if ours < pair else '(not met)'))
            lines.append(f'- Latency, {backend} at {size}: one nano forward {ours:.1f} ms vs '
                         'SegFormer-B0 + RTMDet-tiny ' + '; '.join(parts))
    return lines


def condition_table(result: Dict) -> str:
    """Each task's metric per condition: nano against the models of that task."""
    conds = result['conditions']
    rows = []
    for task, (key, label, up) in TASK_METRIC.items():
        names = [NANO] + [n for n, t in result['tasks'].items() if n != NANO and t == [task]]
        for name in names:
            m = result['metrics'][name]
            rows.append([f'{label} {"↑" if up else "↓"}', name, _cell(m, key)]
                        + [_cell(m, f'{key}@{c}') for c in conds])
    return report.md_table(['metric', 'model', 'all'] + conds, rows)


def figures(result: Dict, folder: str) -> list:
    import numpy as np
    plt = report.pyplot()
    conds = result['conditions']
    fig, axes = plt.subplots(2, 2, figsize=(15, 9))
    axes = axes.ravel()
    for ax, (task, (key, label, up)) in zip(axes, TASK_METRIC.items()):
        names = [NANO] + [n for n, t in result['tasks'].items() if n != NANO and t == [task]]
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            m = result['metrics'][name]
            values = [m.get(f'{key}@{c}', float('nan')) for c in conds]
            ax.bar(np.arange(len(conds)) + (i - (len(names) - 1) / 2) * width, values, width,
                   label=name, color=f'C{i}')
        ax.set_xticks(range(len(conds)), conds, rotation=35, ha='right', fontsize=8)
        ax.set_title(f'{label} per condition ({"higher" if up else "lower"} is better)',
                     fontsize=10)
        ax.legend(fontsize=7)
    ax = axes[3]
    names = list(result['metrics'])
    size = result['sizes'][-1]
    width = 0.8 / len(BACKENDS)
    for i, backend in enumerate(BACKENDS):
        ax.bar(np.arange(len(names)) + (i - 0.5) * width,
               [result['costs'][n][size][backend] for n in names], width, label=backend,
               color=f'C{i}')
        for j, form in enumerate(PAIRS):
            ax.axhline(_pair_cost(result, form, size, backend), color=f'C{i}',
                       ls=('--', ':')[j], lw=1, label=f'SegFormer-B0 + RTMDet-tiny {form}, '
                       f'{backend}')
    ax.set_xticks(range(len(names)), names, rotation=35, ha='right', fontsize=8)
    ax.set_title(f'latency at {size}, ms (batch 1, CPU)', fontsize=10)
    ax.legend(fontsize=6)
    return [report.save_figure(fig, folder, FIGURE)]


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    from perception.benchmark.runners import RTMDET_TINY, SEGFORMER_B0
    sizes = result['sizes']
    out = [f'## {TITLE}', '', f'Command: `{command}`  ',
           f'Setting: {settings.describe()}. Test: held-out frames of every condition (including '
           'the simulated sensor failures), all sensors the frame has.', '',
           '**The peers** are the libraries\' own models, built from their configs by '
           f'`perception.models.LibraryModel`: SegFormer-B0 (`{SEGFORMER_B0}`: MiT-B0 backbone, '
           f'all-MLP head) and RTMDet-tiny (`{RTMDET_TINY}`: CSPNeXt backbone, PAFPN neck, '
           'RTMDet head, dynamic soft-label assigner), with our class counts, trained from '
           'random initialisation like nano (no ImageNet or COCO weights), BN instead of SyncBN, '
           'and our data preprocessor in place of theirs. "RGB" is the model as published; '
           '"RGB+T+D" stacks RGB, thermal and depth into one 5-channel image (early fusion: the '
           'backbone\'s first convolution takes 5 channels). The RGB models train on the scenes '
           'that have an RGB image, without modality dropout (as a user would, and as the '
           'single-sensor models of study 1); the 5-channel models on nano\'s exact pipeline, '
           'modality dropout included. The depth model is nano with only its depth head. '
           'The detectors use nano\'s detection post-processing settings (score > 0.05, '
           'class-aware NMS at IoU 0.6, 100 boxes) in mmdet\'s own decoding.', '',
           '**Same budget**: every model sees the same training frames (the `train` stream), at '
           'the same resolution, iterations and batch, with the study\'s optimiser and schedule '
           '(AdamW, lr 3e-3, weight decay 0.01, gradient clipping at 10, linear warm-up then '
           'cosine decay, the same precision), not the libraries\' published recipes (SegFormer: '
           'AdamW lr 6e-5 for 160k iterations from ImageNet weights; RTMDet: 300 COCO epochs): '
           'the comparison is of the networks under one short from-scratch budget.', '',
           report.training_lines(result['training']), '',
           'Accuracy on the test frames and latency (median of '
           f'{settings.latency_runs} runs, batch 1, all sensors present) in PyTorch eager FP32 '
           f'and ONNX Runtime FP32 (ORT) at {" and ".join(sizes)}, measured in this run on this '
           'machine\'s CPU. Library models: network only (raw head outputs; no decoding, NMS or '
           'upsampling); nano: its deployed graph (re-parameterised, with the top-K detection '
           'candidates of `perception export`; the NMS itself is not timed for any model). A '
           '"-" is a task the model does not have; a sum row adds one SegFormer-B0 and one '
           'RTMDet-tiny forward, each with its own metric:', '',
           summary(result), '', '**The goals of issue 13, as measured:**', '']
    out += goal_lines(result)
    out += ['', 'Each task\'s metric per test condition (nano against the models of that task):',
            '', condition_table(result), '', f'![peers]({images}/{FIGURE})', '']
    return '\n'.join(out) + '\n'
