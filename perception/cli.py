"""The ``perception`` console entry point: one obvious command per job.

Each subcommand lives in ``perception/commands/<name>.py`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; the scripts in ``tools/`` call the very same functions, so
``perception train CFG`` and ``python tools/train.py CFG`` are one code path.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

#: subcommand -> (module, one-line help). Modules are imported only when their command runs, so
#: ``perception --help`` is instant and ``perception infer`` works with the deployment extra only.
COMMANDS = {
    'demo': ('perception.commands.demo', 'train the nano model on synthetic scenes, evaluate, draw overlays'),
    'train': ('perception.commands.train', 'train a model from an OpenMMLab config'),
    'test': ('perception.commands.test', 'evaluate a checkpoint (optionally on every sensor subset)'),
    'export': ('perception.commands.export', 'export to ONNX with parity checks (+ INT8, TensorRT check)'),
    'infer': ('perception.commands.infer', 'run a model on image files/folders and write overlays'),
    'benchmark': ('perception.commands.benchmark', 'latency / throughput of the backends side by side'),
    'study': ('perception.commands.study', 'run an evidence study (sensor subsets, MNAR, multi-task, experts)'),
}


def _available() -> dict:
    """Only list commands whose implementation module is present in this install."""
    out = {}
    for name, (module, help_) in COMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            out[name] = (module, help_)
    return out


def build_parser() -> argparse.ArgumentParser:
    """Top-level parser: lists the commands without importing them (fast ``--help``)."""
    parser = argparse.ArgumentParser(
        prog='perception',
        description='RGB + thermal + depth perception: segmentation, detection and depth in one '
                    'network. Run `perception COMMAND --help` for the options of a command.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (_, help_) in _available().items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    available = _available()
    if not argv or argv[0] not in available:
        build_parser().parse_args(argv)  # prints help / a usage error and exits
        build_parser().print_help()
        return 0
    name = argv[0]
    module = importlib.import_module(available[name][0])
    parser = argparse.ArgumentParser(prog=f'perception {name}', description=available[name][1])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(argv[1:])) or 0)


if __name__ == '__main__':
    sys.exit(main())
