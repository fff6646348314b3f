#!/usr/bin/env python
"""Same as `perception benchmark` (see perception/commands/benchmark.py).

    python tools/benchmark.py configs/_base_/models/nano.py --shape 256 320 --runs 50
    python tools/benchmark.py configs/_base_/models/nano.py --suite --markdown docs/benchmarks.md
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from perception.commands.benchmark import (BACKENDS, Spec, Stats, benchmark, main,  # noqa: E402,F401
                                           measure, parse_args, pytorch_runner, summarise)

if __name__ == '__main__':
    sys.exit(main())
