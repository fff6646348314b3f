"""Study 6: masked multi-sensor pretraining -- does it save labels, help a missing sensor?

One MultiMAE-style pretraining run (``MaskedMultiSensorAutoencoder``: patches of every present
sensor hidden at random, each sensor reconstructed from what is left of all of them;
docs/pretraining.md) of the study model's encoders and fusion on unlabelled synthetic frames -- a
seed stream disjoint from the labelled training frames, targets dropped -- for as many iterations
as a fine-tuning run.
Then the study model is trained from it (``init_cfg=dict(type='Pretrained')``: encoder + fusion
weights) and from scratch, on 1 %, 10 % and 100 % of the labelled frames a study run sees (500
iterations x batch 8 = 4,000 frames; 1 % = 40 frames, repeated), everything else equal. Both are
scored on the held-out test frames of every condition, and the two 100 % models on every sensor
subset of study 1 (the missing-sensor behaviour).

The real RGB-thermal half: the shipped pretraining recipe (configs/pretrain/nano_mae_rgbt.py: real
RGB-thermal frames + synthetic scenes, no labels) at the run's seed, then the real-data recipe
(configs/rgbt_det/nano_rgbt_mixed.py) fine-tuned from its encoder + fusion weights and, as the
baseline, trained from scratch (the same config and seed as the real RGB-thermal study's shipped
model: the two share the cached model), both scored on the validation frames of docs/real_rgbt.md.
It needs the real frames (``PERCEPTION_REAL_DATA``; skipped, and said so, without them), about
12 min of pretraining and 30 min per recipe run on 2 cores.
"""
from __future__ import annotations

import copy
import os.path as osp
from typing import Dict, List, Optional

from perception.contract import SENSORS

from . import report
from .common import Log, Settings, base_config, evaluate, train

NAME = 'pretraining'
TITLE = 'Study 6: masked multi-sensor pretraining and label efficiency'
FIGURE = 'study6_pretraining.png'
FIGURES = (FIGURE, )
#: its section is docs/pretraining.md's "Label efficiency"
DOC = 'docs/pretraining.md'
#: shares of the labelled frames of a study run
FRACTIONS = (0.01, 0.1, 1.0)
#: the unlabelled pool: this many frames of the ``train`` stream at another seed than the labels'
UNLABELLED_FRAMES = 100_000
UNLABELLED_SEED_OFFSET = 1_000
WEIGHTS = 'pretrained_encoders.pth'
#: the real RGB-thermal half: the shipped pretraining recipe and the recipe it feeds
REAL_PRETRAIN = 'configs/pretrain/nano_mae_rgbt.py'


def pretrain_config(base, settings: Settings):
    """The study model's encoder and fusion inside ``MaskedMultiSensorAutoencoder``, trained on
    unlabelled synthetic frames with the study's augmentation (no modality dropout: the
    autoencoder draws its own sensor mix) and MAE's optimiser settings."""
    cfg = copy.deepcopy(base)
    m = base.model
    cfg.model = dict(type='MaskedMultiSensorAutoencoder', sensors=tuple(SENSORS),
                     data_preprocessor=m.data_preprocessor, encoder=m.encoder, fusion=m.fusion,
                     decoder=dict(type='ReconstructionDecoder', channels=32), patch_size=16,
                     mask_ratio=(0.6, 0.9), dirichlet_alpha=1.0)
    h, w = settings.img_size
    cfg.train_dataloader.dataset.update(
        num_samples=UNLABELLED_FRAMES, seed=settings.seed + UNLABELLED_SEED_OFFSET,
        pipeline=[dict(type='DropTargets'),
                  dict(type='RandomResize', scale=(w, h), ratio_range=(0.75, 1.5),
                       keep_ratio=True),
                  dict(type='RandomCrop', crop_size=(w, h)),
                  dict(type='RandomFlip', prob=0.5),
                  dict(type='Pad', size=(w, h)),
                  dict(type='PackMultiSensorInputs')])
    cfg.optim_wrapper.optimizer.update(lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.custom_hooks = [dict(type='PretrainedWeightsHook', filename=WEIGHTS)]
    return cfg


def fine_tune_config(base, settings: Settings, fraction: float, weights=None):
    """The study model trained on ``fraction`` of the labelled frames, from ``weights`` (encoder +
    fusion, through the model's ``init_cfg``: part of the cached model's identity) or scratch."""
    cfg = copy.deepcopy(base)
    frames = settings.iters * settings.batch_size
    cfg.train_dataloader.dataset.num_samples = max(settings.batch_size, round(fraction * frames))
    if weights is not None:
        cfg.model.init_cfg = dict(type='Pretrained', checkpoint=weights)
    return cfg


def _label(fraction: float) -> str:
    return f'{fraction * 100:g} %'


def run(settings: Settings, log: Log = print) -> Dict:
    from perception.contract import sensor_subsets
    base = base_config(settings)
    pre = train(pretrain_config(base, settings), 'mae_pretrain', settings, log)
    weights = osp.join(osp.dirname(pre.checkpoint), WEIGHTS)
    if not osp.isfile(weights):
        raise FileNotFoundError(f'{weights}: the pretraining run wrote no encoder weights')
    metrics: Dict[str, Dict[str, Dict[str, float]]] = {'scratch': {}, 'pretrained': {}}
    trained, subsets = {}, {'scratch': {}, 'pretrained': {}}
    for fraction in FRACTIONS:
        for start, w in (('scratch', None), ('pretrained', weights)):
            name = f'{start}_{_label(fraction).replace(" %", "pct")}'
            model = train(fine_tune_config(base, settings, fraction, w), name, settings, log)
            trained[f'{start}, {_label(fraction)}'] = model
            metrics[start][_label(fraction)] = evaluate(model, settings, 'all_conditions',
                                                        log=log)
    conditions = list(base.subset_eval_conditions)
    for start in subsets:
        model = trained[f'{start}, {_label(1.0)}']
        for subset in sensor_subsets(SENSORS):
            label = '+'.join(subset)
            subsets[start][label] = evaluate(
                model, settings, label, [dict(type='KeepSensors', sensors=list(subset))],
                conditions, log)
    frames = settings.iters * settings.batch_size
    real = run_real(settings, log)
    if real is not None:
        trained.update({f'real {k}': m for k, m in real.pop('models').items()})
    return dict(metrics=metrics, subsets=subsets, conditions=conditions, real=real,
                labelled_frames={_label(f): max(settings.batch_size, round(f * frames))
                                 for f in FRACTIONS},
                pretraining=dict(seconds=pre.seconds, iterations=settings.iters,
                                 unlabelled_frames=UNLABELLED_FRAMES),
                training={k: dict(seconds=m.seconds, reused=m.reused)
                          for k, m in dict(trained, pretraining=pre).items()})


def run_real(settings: Settings, log: Log = print) -> Optional[Dict]:
    """The real RGB-thermal half (module docstring): person AP@50 etc. of the recipe from scratch
    and from the pretrained weights on the MSRS and LLVIP validation frames; None (logged) where
    the real frames are absent."""
    from perception.paths import REAL_DATA_ENV, real_data_root

    from . import real_rgbt
    if not (real_data_root() / 'rgbt_det').is_dir():
        log(f'  real RGB-thermal half skipped: no {real_data_root() / "rgbt_det"} (set '
            f'{REAL_DATA_ENV} to the folder holding rgbt_det/)')
        return None
    seed = settings.seed
    pre_cfg = real_rgbt.recipe_config(REAL_PRETRAIN, settings, seed)
    pre = real_rgbt.train_recipe(pre_cfg, f'mae_rgbt_seed{seed}', settings, log)
    weights = osp.join(osp.dirname(pre.checkpoint), WEIGHTS)
    if not osp.isfile(weights):
        raise FileNotFoundError(f'{weights}: the pretraining run wrote no encoder weights')
    rows, models = {}, {'pretraining': pre}
    for start, w in (('scratch', None), ('pretrained', weights)):
        cfg = real_rgbt.recipe_config(real_rgbt.MODELS[real_rgbt.SHIPPED], settings, seed)
        if w is not None:
            cfg.model.init_cfg = dict(type='Pretrained', checkpoint=w)
        model = real_rgbt.train_recipe(cfg, f'rgbt_{start}_seed{seed}', settings, log)
        model.name = f'{real_rgbt.SHIPPED} ({start})'
        models[start] = model
        rows[start] = real_rgbt.real_rows(model, log)
    return dict(seed=seed, config=REAL_PRETRAIN, recipe=real_rgbt.MODELS[real_rgbt.SHIPPED],
                pretraining=dict(seconds=pre.seconds, iterations=int(pre_cfg.train_cfg.max_iters),
                                 reused=pre.reused), rows=rows, models=models)


REAL_GOAL = 0.05      # person AP@50 the pretrained recipe must gain (MSRS validation, RGB+T)


def real_table(real: Dict) -> str:
    """Person AP@50 of the recipe from scratch and pretrained, per sensor row and set."""
    from .real_rgbt import PERSON_COLUMNS
    header = ['sensors'] + [f'{name}{g.replace("@", " ")} {start}' for name, g in PERSON_COLUMNS
                            for start in ('scratch', 'pretrained')]
    rows = []
    for row in real['rows']['scratch']['MSRS']:
        cells = [row]
        for name, g in PERSON_COLUMNS:
            for start in ('scratch', 'pretrained'):
                cells.append(report.fmt(real['rows'][start][name].get(row, {})
                                        .get('det/person/AP_50' + g)))
        rows.append(cells)
    return report.md_table(header, rows)


def real_goal_line(real: Dict) -> str:
    a = real['rows']['scratch']['MSRS']['RGB+T'].get('det/person/AP_50')
    b = real['rows']['pretrained']['MSRS']['RGB+T'].get('det/person/AP_50')
    if a is None or b is None:
        return '- real RGB-thermal goal: not measured (no person AP@50)'
    return (f'- seed {real["seed"]}: MSRS validation, RGB+T person AP@50 pretrained {report.fmt(b)} '
            f'vs scratch {report.fmt(a)} ({report.signed(b - a)}; goal >= +{REAL_GOAL:.2f}: '
            + ('**met**' if b - a >= REAL_GOAL else '**not met**') + ')')


def label_table(result: Dict) -> str:
    """The label-efficiency table: each share of the labels, from scratch and pretrained."""
    rows = []
    for fraction, frames in result['labelled_frames'].items():
        a, b = result['metrics']['scratch'][fraction], result['metrics']['pretrained'][fraction]
        for key, label, _ in report.HEADLINE[:3]:
            rows.append([f'{fraction} ({frames} frames)', label, report.fmt(a.get(key)),
                         report.fmt(b.get(key)), report.signed(b.get(key) - a.get(key))
                         if a.get(key) is not None and b.get(key) is not None else 'n/a'])
    return report.md_table(['labelled frames', 'metric', 'from scratch', 'pretrained',
                            'pretrained - scratch'], rows)


#: the synthetic goals: mIoU gained at these label shares; "no loss" at 100 % within this
LABEL_GOAL, LABEL_GOAL_SHARES, NO_LOSS = 0.05, ('1 %', '10 %'), 0.01


def label_goal_lines(result: Dict) -> List[str]:
    """The issue's synthetic goals as measured: >= +0.05 mIoU at 1 % and 10 % of the labels, no
    loss (within 0.01 on mIoU, mAP@50 and AbsRel) at 100 %."""
    metrics = result['metrics']
    lines = []
    for share in LABEL_GOAL_SHARES:
        gain = metrics['pretrained'][share]['seg/mIoU'] - metrics['scratch'][share]['seg/mIoU']
        lines.append(f'- {share} of the labels: mIoU {report.signed(gain)} (goal >= '
                     f'+{LABEL_GOAL:.2f}: ' + ('**met**' if gain >= LABEL_GOAL else '**not met**')
                     + ')')
    a, b = metrics['scratch']['100 %'], metrics['pretrained']['100 %']
    losses = [f'{label} {report.signed(b[key] - a[key])}' for key, label, up in report.HEADLINE[:3]
              if key in a and key in b and (a[key] - b[key] if up else b[key] - a[key]) > NO_LOSS]
    lines.append('- 100 % of the labels: no loss beyond 0.01 on mIoU, mAP@50, AbsRel: '
                 + (f'**not met** ({", ".join(losses)})' if losses else '**met**'))
    return lines


def summary(result: Dict) -> str:
    """What the run prints: the label-efficiency table and, where it ran, the real half's."""
    real = result.get('real')
    parts = [label_table(result), '\n'.join(label_goal_lines(result))]
    if real:
        parts += ['Real RGB-thermal, person AP@50:\n' + real_table(real), real_goal_line(real)]
    return '\n\n'.join(parts)


def subsets_table(result: Dict) -> str:
    rows = [[label] + [report.fmt(result['subsets'][s][label].get(key))
                       for key, _, _ in report.HEADLINE[:3] for s in ('scratch', 'pretrained')]
            for label in result['subsets']['scratch']]
    header = ['sensors at test'] + [f'{label} {s}' for _, label, _ in report.HEADLINE[:3]
                                    for s in ('scratch', 'pretrained')]
    return report.md_table(header, rows)


def figures(result: Dict, folder: str) -> list:
    plt = report.pyplot()
    fractions = list(result['labelled_frames'])
    frames = [result['labelled_frames'][f] for f in fractions]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (key, label, up) in zip(axes, report.HEADLINE[:3]):
        for start, style in (('scratch', 'o--'), ('pretrained', 's-')):
            ax.plot(frames, [result['metrics'][start][f].get(key, float('nan'))
                             for f in fractions], style, label=start)
        ax.set_xscale('log')
        ax.set_xlabel('labelled training frames')
        ax.set_title(f'{label} ({"higher" if up else "lower"} is better)', fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle('Label efficiency: pretrained encoders + fusion vs from scratch')
    return [report.save_figure(fig, folder, FIGURE)]


def markdown(result: Dict, settings: Settings, command: str, images: str) -> str:
    pre = result['pretraining']
    out = [f'## {TITLE}', '', f'Command: `{command}`  ', f'Setting: {settings.describe()}. '
           f'Pretraining: {pre["iterations"]} iterations of masked multi-sensor autoencoding on '
           f'unlabelled synthetic frames (a seed stream the labelled frames do not come from), '
           f'{pre["seconds"] / 60:.1f} min on this machine. Fine-tuning: the study model from the '
           'pretrained encoder + fusion weights or from scratch, on the share of the labelled '
           'frames named (repeated to fill the same iterations). Test: held-out frames of every '
           'condition.', '', report.training_lines(result['training']), '', label_table(result),
           ''] + label_goal_lines(result) + ['',
           f'![label efficiency]({images}/{FIGURE})', '',
           'The 100 % models on every sensor subset (conditions without simulated failures: '
           f'{", ".join(result["conditions"])}):', '', subsets_table(result), '']
    real = result.get('real')
    if real:
        pre = real['pretraining']
        out += ['### Real RGB-thermal frames', '',
                f'`{real["recipe"]}` (seed {real["seed"]}) from scratch and fine-tuned from '
                f'`{real["config"]}` ({pre["iterations"]} iterations of masked autoencoding on the '
                'real RGB-thermal frames and synthetic scenes, no labels: '
                f'{pre["seconds"] / 60:.1f} min on this machine'
                + (', reused from an earlier run' if pre['reused'] else '') + '), everything else '
                'equal; person AP@50 on the validation frames of [real_rgbt.md](real_rgbt.md) '
                '(MSRS: 7 frames, 27 people; LLVIP: 10 pairs of one scene, 44 people):', '',
                real_table(real), '', real_goal_line(real), '']
    else:
        out += ['### Real RGB-thermal frames', '', 'Not run: the real frames '
                '(`PERCEPTION_REAL_DATA`) were absent.', '']
    return '\n'.join(out) + '\n'
