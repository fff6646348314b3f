#!/usr/bin/env python3
"""Run the perception node over a recorded rosbag2 and write its outputs as a new bag.

    python tools/replay_bag.py IN_BAG --out OUT_BAG --model model.onnx [--backend onnxruntime]
        [--params ros_nodes/config/params.yaml] [--topics rgb=/cam/rgb thermal=/ir depth=/cam/depth]
        [--storage mcap|sqlite3] [--copy-inputs]

IN_BAG: a rosbag2 directory (sqlite3 or MCAP) or a bare .db3/.mcap file. OUT_BAG: a new directory,
MCAP by default (Foxglove and `ros2 bag play` open it). Every synchronised set is processed (no
frame dropping offline); outputs keep the input stamps. ``--model module:attribute`` plugs in any
predictor with the ``predictor(rgb=, thermal=, depth=) -> PerceptionResult`` contract.

An input error (a missing or unreadable bag, an output that exists, bad parameters or topics, a model
that cannot be loaded, a bag without the sensor topics) prints one ``error: ...`` line and exits with
code 2; ``--debug`` or ``PERCEPTION_DEBUG=1`` adds the traceback (as every ``perception`` command).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without install

from perception.cli import add_debug_argument, report_input_errors  # noqa: E402
from perception.contract import ConfigError  # noqa: E402
from perception.ros.bag_io import bag_topics  # noqa: E402
from perception.ros.config import node_config, parse_topics  # noqa: E402
from perception.ros.predictor_factory import predictor_of  # noqa: E402
from perception.ros.replay import replay_bag, resolve_config  # noqa: E402


def _setup(args):
    """Parameters, predictor and the bag's topics, checked before anything is written: what fails
    here is the user's input (ValueError/TypeError of the ROS config and predictor factory, rosbags
    refusing the file), reported as a ConfigError."""
    in_bag, out = Path(args.in_bag), Path(args.out)
    if not in_bag.exists():
        raise ConfigError(f'{in_bag}: no such bag (a rosbag2 folder or a .db3/.mcap file)')
    if out.exists():
        raise ConfigError(f'--out {out}: exists; the output bag must be a new folder')
    try:
        given = dict(model_path=args.model, backend=args.backend,
                     checkpoint_path=args.checkpoint)
        config = node_config(args.params, parse_topics(args.topics),
                             **{name: value for name, value in given.items() if value})
        try:
            topics = bag_topics(in_bag)
        except Exception as err:
            if _library_error(err):
                raise ConfigError(f'{in_bag}: not a readable rosbag2 ({err})') from err
            raise
        config = resolve_config(config, topics)
        try:
            predictor = predictor_of(config)
        except Exception as err:
            if _library_error(err):
                raise ConfigError(f'model {config.model_path}: cannot be loaded ({err})') from err
            raise
        return config, predictor
    except (ValueError, TypeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(' '.join(str(err).split())) from err


def _library_error(err: Exception) -> bool:
    """rosbags refusing a bag file, onnxruntime refusing a model file."""
    return type(err).__module__.split('.')[0] in ('rosbags', 'onnxruntime')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('in_bag')
    parser.add_argument('--out', required=True, help='output bag directory (must not exist)')
    parser.add_argument('--model', help='model file, or module:attribute of a custom predictor')
    parser.add_argument('--checkpoint', help='weights of a config --model (checkpoint_path)')
    parser.add_argument('--backend', help='predictor backend (default: from --params)')
    parser.add_argument('--params', help='ROS 2 parameters YAML of perception_node')
    parser.add_argument('--topics', nargs='+', metavar='SENSOR=TOPIC',
                        help='input topics; a sensor left out keeps the --params/default topic, '
                             'SENSOR= disables it')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--copy-inputs', action='store_true', help='also write the input topics')
    parser.add_argument('--quiet', action='store_true')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format='[%(levelname)s] %(message)s')
    return report_input_errors(lambda: _replay(args), args.debug)


def _replay(args) -> int:
    config, predictor = _setup(args)
    report = replay_bag(args.in_bag, args.out, predictor, config, storage=args.storage,
                        copy_inputs=args.copy_inputs)
    summary = {'in': args.in_bag, 'out': args.out, 'input_messages': report.input_messages,
               'sets': report.sets, 'written': report.written, 'undecodable': report.undecodable,
               'wall_s': round(report.wall_s, 3),
               'mean_process_ms': round(report.stats.get('mean_process_ms', 0.0), 2),
               'malformed': {k: v for k, v in report.stats.items() if k.startswith('malformed')}}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
