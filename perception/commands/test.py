"""``perception test CONFIG CHECKPOINT`` / ``tools/test.py``: evaluate, optionally per sensor subset."""
from __future__ import annotations

import argparse
import json
import os.path as osp

HELP_EPILOG = """examples:
  perception test CONFIG work_dirs/demo/iter_2000.pth
  perception test CONFIG CKPT --modality-subsets        # every non-empty subset of the sensors the
                                                        # model and the test set share, one table
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction
    parser.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('config', help='OpenMMLab config file')
    parser.add_argument('checkpoint', help='checkpoint (.pth), read with weights_only=True')
    parser.add_argument('--work-dir', help='where logs and the metrics json go')
    parser.add_argument('--modality-subsets', action='store_true',
                        help='evaluate every non-empty subset of the sensors the model uses and '
                             'the test set has, on the test frames that have all of them, and '
                             'print a table')
    parser.add_argument('--out', help='write the metrics as json to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def evaluate(cfg, checkpoint: str, sensors=None) -> dict:
    """Run the test loop once; ``sensors`` keeps only those sensors (the rest become absent)."""
    from perception.engine.testing import run_test_loop
    if sensors is None:
        return run_test_loop(cfg, checkpoint)
    # The network sees zeros and a False mask bit for the dropped sensors. Synthetic scenes: leave
    # out simulated sensor failures, which would remove the only kept sensor of some frames (see
    # configs/_base_/datasets/synthetic_rgbtd.py).
    return run_test_loop(cfg, checkpoint, [dict(type='KeepSensors', sensors=list(sensors))],
                           conditions=cfg.get('subset_eval_conditions') or None,
                           experiment_name=f"subset_{'+'.join(sensors)}")


def run(args: argparse.Namespace) -> int:
    import perception.registry  # noqa: F401
    from perception.contract import sensor_subsets
    from perception.evaluation import format_matrix

    from .inputs import checkpoint_file, config_file
    cfg = config_file(args.config, args.cfg_options, args.work_dir, args.launcher)
    from perception.engine.distributed import closing_process_group
    checkpoint_file(args.checkpoint)
    from mmengine.dist import is_main_process
    with closing_process_group():
        if not args.modality_subsets:
            results = {'all': evaluate(cfg, args.checkpoint)}
        else:
            from perception.engine.testing import subset_plan
            plan = subset_plan(cfg, args.checkpoint)
            print(plan.describe())
            cfg = plan.config
            results = {}
            for subset in sensor_subsets(plan.shared):
                results['+'.join(subset)] = evaluate(cfg, args.checkpoint, subset)
        # asked while the group is open (the first Runner opens it, closing it makes every rank
        # 'main'); every rank holds the same gathered metrics: rank 0 alone reports them
        main = is_main_process()
    if not main:
        return 0
    if args.modality_subsets:
        print(format_matrix(results))
    out = args.out or osp.join(cfg.work_dir, 'metrics.json')
    with open(out, 'w') as f:
        json.dump({k: {m: float(v) for m, v in r.items()} for k, r in results.items()}, f, indent=1)
    print(f'metrics written to {out}')
    return 0
