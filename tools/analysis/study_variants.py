#!/usr/bin/env python
"""Train recipe variants in the study setting and score them on the validation stream.

    python tools/analysis/study_variants.py [VARIANT ...] [--seed 0] [--work-dir work_dirs/variants]
    python tools/analysis/study_variants.py --quick base aux     # pipeline check, numbers meaningless

How nano's recipe was chosen (docs/results.md, "Diagnosis"): every variant is the study config
(``configs/studies/nano_study_128x160.py``, 500 iterations at 128x160) with one change, trained by
the studies' own ``train`` (models cached by config) and evaluated on the ``val`` seed stream --
never on the test frames the studies report -- with every sensor, then restricted to each single
sensor (the full-vs-specialist question). ``earlier`` is the recipe before issue 13 (detection at
strides 8-32, no per-sensor auxiliary heads); the other variants change it, or today's nano
(``nano``), in one named way. Prints one line per variant and writes ``variants.json``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os.path as osp
import sys
from pathlib import Path
from typing import Callable, Dict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

COLUMNS = (('seg/mIoU', 'mIoU'), ('det/mAP_50', 'mAP@50'), ('depth/AbsRel', 'AbsRel'))


def _det_strides(cfg, strides):
    cfg = copy.deepcopy(cfg)
    det = cfg.model.heads.det
    det.strides, det.head.anchor_generator.strides = tuple(strides), list(strides)
    return cfg


def _aux(cfg, on: bool):
    cfg = copy.deepcopy(cfg)
    if on:
        cfg.model.sensor_aux = dict(type='SensorAuxHeads', tasks=('seg', 'depth'), loss_weight=0.5)
    else:
        cfg.model.pop('sensor_aux', None)
    return cfg


def _earlier(cfg):
    return _aux(_det_strides(cfg, (8, 16, 32)), False)


def _det_weight(cfg, weight):
    cfg = copy.deepcopy(cfg)
    cfg.model.task_weighting.weights['det'] = weight
    return cfg


def _mask_routing(cfg):
    cfg = copy.deepcopy(cfg)
    cfg.model.decoder.mask_routing = True
    return cfg


def _dropout(cfg, single, pair):
    cfg = copy.deepcopy(cfg)
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'ModalityDropout':
            step['drop_subsets'] = {'rgb': single, 'thermal': single, 'depth': single,
                                    'rgb+thermal': pair, 'rgb+depth': pair,
                                    'thermal+depth': pair}
    return cfg


#: name -> (what it is, config edit of the study config built from today's nano)
VARIANTS: Dict[str, tuple] = {
    'earlier': ('earlier recipe (strides 8-32, no aux heads)', _earlier),
    'det_w2': ('detection loss weight x2', lambda c: _det_weight(_earlier(c), 2.0)),
    'det_s4': ('detection strides 4-16', lambda c: _det_strides(_earlier(c), (4, 8, 16))),
    'aux': ('per-sensor aux heads', lambda c: _aux(_earlier(c), True)),
    'nano': ('aux heads + strides 4-16 (nano now)', lambda c: c),
    'mask_routing': ('nano + mask routing in the gates', _mask_routing),
    'dropout': ('nano + stronger modality dropout (single 0.15, pairs 0.05)',
                lambda c: _dropout(c, 0.15, 0.05)),
}


def run(names, settings, log: Callable = print) -> Dict[str, Dict[str, Dict[str, float]]]:
    from perception.contract import SENSORS
    from perception.studies.common import base_config, evaluate, train
    base = base_config(settings)
    conditions = list(base.subset_eval_conditions)
    quiet = lambda *a: None  # noqa: E731
    results = {}
    for name in names:
        label, edit = VARIANTS[name]
        model = train(edit(base), name, settings, quiet)
        rows = {}
        for subset in ('all', ) + SENSORS:
            sensors = list(SENSORS) if subset == 'all' else [subset]
            rows[subset] = evaluate(model, settings, subset,
                                    [dict(type='KeepSensors', sensors=sensors)], conditions,
                                    quiet, split='val')
        results[name] = rows
        log(f'{label:58s} ' + ' | '.join(
            f'{s}: ' + ' / '.join(f'{m.get(k, float("nan")):.3f}' for k, _ in COLUMNS)
            for s, m in rows.items()))
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('variants', nargs='*', default=list(VARIANTS), choices=list(VARIANTS),
                    metavar='VARIANT', help=f'default: all of {", ".join(VARIANTS)}')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--work-dir', default='work_dirs/variants')
    ap.add_argument('--quick', action='store_true', help='tiny models and frames: pipeline check')
    args = ap.parse_args(argv)
    import perception.registry  # noqa: F401
    from perception.studies.common import Settings
    settings = (Settings.quick_settings if args.quick else Settings)(
        work_dir=args.work_dir, seed=args.seed, progress=False)
    print('columns: ' + ' / '.join(label for _, label in COLUMNS) + ', on validation frames; '
          'all sensors, then each sensor alone', flush=True)
    results = run(args.variants, settings)
    with open(osp.join(args.work_dir, 'variants.json'), 'w') as f:
        json.dump(results, f, indent=1, default=float)
    return 0


if __name__ == '__main__':
    sys.exit(main())
