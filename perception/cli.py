"""The ``perception`` console entry point: one obvious command per job.

Each subcommand lives in ``perception/commands/<name>.py`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; the scripts in ``tools/`` call the very same functions, so
``perception train CFG`` and ``python tools/train.py CFG`` are one code path.

Errors in what the user gave -- ``perception.contract.PerceptionError`` (``SensorError``,
``ConfigError``) and missing or unreadable files -- print one line, ``error: ...``, and exit with
code 2 (argparse's code for a bad command line). ``--debug`` or ``PERCEPTION_DEBUG=1`` prints the
traceback as well. Any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
import warnings
from typing import Callable, List, Optional

from perception.contract import PerceptionError, PerceptionWarning, reraised_message

#: Exit code of an input error (argparse uses 2 for a bad command line too).
EXIT_INPUT = 2
DEBUG_ENV = 'PERCEPTION_DEBUG'
#: What counts as the user's error rather than a bug.
INPUT_ERRORS = (PerceptionError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
                PermissionError)

#: subcommand -> (module, one-line help). Modules are imported only when their command runs, so
#: ``perception --help`` is instant and ``perception infer`` works with the deployment extra only.
COMMANDS = {
    'demo': ('perception.commands.demo', 'train the nano model on synthetic scenes, evaluate, draw overlays'),
    'train': ('perception.commands.train', 'train a model from an OpenMMLab config'),
    'pretrain': ('perception.commands.pretrain', 'masked multi-sensor pretraining of the encoders + fusion on unlabelled frames or bags'),
    'test': ('perception.commands.test', 'evaluate a checkpoint (optionally on every sensor subset)'),
    'export': ('perception.commands.export', 'export to ONNX with parity checks (+ INT8, TensorRT check)'),
    'infer': ('perception.commands.infer', 'run a model on image files/folders and write overlays'),
    'benchmark': ('perception.commands.benchmark', 'latency / throughput of the backends side by side'),
    'study': ('perception.commands.study', 'run an evidence study (docs/results.md): subsets, mnar, multitask, experts, peers, real_rgbt, pretraining, budget'),
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
        prog='perception', epilog=f'--debug (before or after COMMAND) or {DEBUG_ENV}=1: show the '
                                  'traceback of an input error',
        description='RGB + thermal + depth perception: segmentation, detection and depth in one '
                    'network. Run `perception COMMAND --help` for the options of a command.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (_, help_) in _available().items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser


def debug_requested(flag: bool = False) -> bool:
    return flag or os.environ.get(DEBUG_ENV, '').lower() not in ('', '0', 'false', 'no')


def error_message(err: BaseException) -> str:
    """One line: the error's own message (an OSError as 'reason: file'; an error re-raised from a
    DataLoader worker as the worker raised it, without the worker's traceback)."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f'{err.strerror}: {err.filename}'
    else:
        text = reraised_message(str(err)) or type(err).__name__
    return ' '.join(text.split())


def _show_warning(message, category, filename, lineno, file=None, line=None,
                  _default=warnings.showwarning) -> None:
    """``PerceptionWarning`` s as one ``warning: ...`` line on stderr; others as Python shows them."""
    if issubclass(category, PerceptionWarning):
        print(f'warning: {" ".join(str(message).split())}', file=file or sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def report_input_errors(fn: Callable[[], Optional[int]], debug: bool = False) -> int:
    """Run ``fn``; an input error becomes ``error: ...`` on stderr and exit code 2, a
    ``PerceptionWarning`` one ``warning: ...`` line."""
    warnings.showwarning = _show_warning
    try:
        return int(fn() or 0)
    except INPUT_ERRORS as err:
        if debug_requested(debug):
            traceback.print_exc()
        print(f'error: {error_message(err)}', file=sys.stderr)
        return EXIT_INPUT


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = bool(argv) and argv[0] == '--debug'
    if debug:
        argv = argv[1:]
    available = _available()
    if not argv or argv[0] not in available:
        build_parser().parse_args(argv)  # prints help / a usage error and exits
        build_parser().print_help()
        return 0
    name = argv[0]

    def command() -> int:
        module = importlib.import_module(available[name][0])
        parser = argparse.ArgumentParser(prog=f'perception {name}', description=available[name][1])
        module.add_arguments(parser)
        add_debug_argument(parser)
        return module.run(parser.parse_args(argv[1:]))
    return report_input_errors(command, debug or '--debug' in argv[1:])


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--debug', action='store_true',
                        help=f'show the traceback of an input error (or set {DEBUG_ENV}=1)')


if __name__ == '__main__':
    sys.exit(main())
