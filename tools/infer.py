#!/usr/bin/env python
"""Same as `perception infer` (see perception/commands/infer.py)."""
import argparse
import sys

from perception.commands import infer as command

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=command.__doc__)
    command.add_arguments(parser)
    sys.exit(command.run(parser.parse_args()))
