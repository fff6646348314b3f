"""`perception --help` names every evidence study there is (the list is written out in perception/cli.py
so that the help imports nothing; this keeps it in step with perception.studies.STUDIES)."""
import re

from perception.cli import COMMANDS
from perception.studies import STUDIES


def test_study_help_lists_every_study():
    listed = re.split(r',\s*', COMMANDS['study'][1].split(':', 1)[1].strip())
    assert listed == list(STUDIES)
