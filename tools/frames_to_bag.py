#!/usr/bin/env python3
"""Write the image files of a camera rig (one folder per sensor, files paired by name) as a rosbag2.

    python tools/frames_to_bag.py --sensor rgb=DIR thermal=DIR [depth=DIR] --out OUT_BAG
        [--rate 5] [--topics rgb=/cam/rgb ...] [--storage mcap|sqlite3] [--allow-unpaired]

Each set becomes sensor_msgs/Image messages as drivers publish them (colour bgr8; thermal mono8 or
mono16; depth 16UC1 millimetres or 32FC1 metres; perception/ros/frames_bag.py), on the node's
default topics unless --topics names others, so that tools/replay_bag.py runs the node over real
frames exactly as over a robot's recording (docs/real_rgbt.md). A file without its partners is an
error naming it, unless --allow-unpaired (skipped and counted).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without install

from perception.cli import add_debug_argument, report_input_errors  # noqa: E402
from perception.contract import ConfigError, PerceptionError  # noqa: E402


def _folders(items):
    """``SENSOR=DIR`` items -> {sensor: folder} (the sensors are checked by write_frames_bag)."""
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key or not value:
            raise ConfigError(f'--sensor {item!r}: expected SENSOR=DIR')
        out[key] = Path(value)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sensor', nargs='+', required=True, metavar='SENSOR=DIR',
                        help='a folder of image files per sensor (rgb, thermal, depth)')
    parser.add_argument('--out', required=True, help='output bag directory (must not exist)')
    parser.add_argument('--rate', type=float, default=5.0, help='sets per second (default 5)')
    parser.add_argument('--topics', nargs='+', metavar='SENSOR=TOPIC',
                        help='topics (default: the node\'s default input topics)')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--frame-id', default='camera')
    parser.add_argument('--allow-unpaired', action='store_true',
                        help='skip files without partners (counted) instead of stopping')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return report_input_errors(lambda: _write(args), args.debug)


def _write(args) -> int:
    from perception.ros.config import parse_topics
    from perception.ros.frames_bag import write_frames_bag
    out = Path(args.out)
    if out.exists():
        raise ConfigError(f'--out {out}: exists; the bag must be a new folder')
    folders = _folders(args.sensor)
    try:
        summary = write_frames_bag(folders, out, parse_topics(args.topics), args.rate,
                                   args.storage, args.frame_id, args.allow_unpaired)
    except ValueError as err:   # bad sensors or rate (a SensorError, a bad file, passes as it is)
        if isinstance(err, PerceptionError):
            raise
        raise ConfigError(str(err)) from err
    summary['unpaired'] = len(summary['unpaired'])
    print(json.dumps(dict(out=str(out), **summary), indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
