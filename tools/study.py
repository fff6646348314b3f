#!/usr/bin/env python
"""Same as `perception study` (see perception/commands/study.py): one evidence study per call.

    python tools/study.py subsets            # default settings, updates docs/results.md
    python tools/study.py experts --quick    # pipeline check
"""
import argparse
import sys

from perception.commands import study as command

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=command.__doc__)
    command.add_arguments(parser)
    sys.exit(command.run(parser.parse_args()))
