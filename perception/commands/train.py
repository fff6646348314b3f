"""``perception train CONFIG`` / ``tools/train.py CONFIG``: train with mmengine's Runner."""
from __future__ import annotations

import argparse

HELP_EPILOG = """examples:
  perception train configs/demo/nano_synthetic_demo.py
  perception train CONFIG --work-dir work_dirs/run1 --cfg-options train_cfg.max_iters=500
  perception train CONFIG --resume            # continue from the latest checkpoint of the work dir
  tools/dist_train.sh CONFIG 2                # DDP on 2 processes (torchrun, launcher=pytorch)
"""


def add_config_arguments(parser: argparse.ArgumentParser, epilog: str, config_help: str,
                         work_dir_help: str) -> None:
    """What a command that runs a config through mmengine's Runner takes: the config, --work-dir,
    --amp / --fp32 and --cfg-options; ``epilog``: the examples of its help."""
    from mmengine.config import DictAction
    parser.epilog = epilog
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('config', help=config_help)
    parser.add_argument('--work-dir', help=work_dir_help)
    add_precision_arguments(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. train_cfg.max_iters=100')


def add_precision_arguments(parser: argparse.ArgumentParser) -> None:
    """--amp / --fp32: the numeric precision whatever the config's ``precision`` says."""
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument('--amp', dest='precision', action='store_const', const='bf16',
                           help='bf16 autocast (CPU; fp16 AmpOptimWrapper on CUDA), whatever the '
                                "config's precision says")
    precision.add_argument('--fp32', dest='precision', action='store_const', const='fp32',
                           help='plain fp32, whatever the config says (default: the config\'s '
                                "`precision`, 'auto' = bf16 where the CPU has native bf16)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, HELP_EPILOG, 'OpenMMLab config file (configs/...)',
                         'where logs and checkpoints go (default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume training; without CKPT from the latest checkpoint in work-dir')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher for distributed training (tools/dist_train.sh sets it)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from mmengine.runner import Runner

    import perception.registry  # noqa: F401  (registries + safe checkpoint loading)
    from perception.engine.config import runner_config, set_resume
    from perception.engine.distributed import closing_process_group
    cfg = runner_config(args.config, args.cfg_options, args.work_dir, args.launcher,
                        precision=args.precision)
    set_resume(cfg, args.resume)
    with closing_process_group():
        runner = Runner.from_cfg(cfg)
        runner.train()
    return 0
