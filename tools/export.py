#!/usr/bin/env python
"""Same as `perception export` (see perception/commands/export.py)."""
import argparse
import sys

from perception.commands import export as command

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=command.__doc__)
    command.add_arguments(parser)
    sys.exit(command.run(parser.parse_args()))
