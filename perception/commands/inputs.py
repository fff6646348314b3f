"""Files a command is given, checked before its work starts, so that a wrong one is reported as the
user's input error (``ConfigError``: one ``error: ...`` line, exit code 2; perception/cli.py) and
not as a crash hours into a run."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from perception.contract import ConfigError


def config_file(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none'):
    """``perception.engine.config.runner_config``: ``load_config`` (perception.models.builder)
    reports a config that is missing or cannot be read as ``ConfigError``."""
    from perception.engine.config import runner_config
    return runner_config(str(path), cfg_options, work_dir, launcher)


def checkpoint_file(path: str) -> None:
    """The checkpoint exists and the safe (weights-only) loader reads it (ConfigError if not).
    Read once more here, because the test loop reads it deep inside the Runner."""
    from perception.models.checkpoint import load_checkpoint_file
    if not Path(path).is_file():
        raise ConfigError(f'checkpoint {path}: no such file')
    load_checkpoint_file(str(path))
