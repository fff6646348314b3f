"""Files a command is given, checked before its work starts, so that a wrong one is reported as the
user's input error (``ConfigError``: one ``error: ...`` line, exit code 2; perception/cli.py) and
not as a crash hours into a run."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from perception.contract import ConfigError


def config_file(path: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none'):
    """``perception.engine.config.load_config``; a config is Python the user wrote, so anything
    that fails while reading it (a syntax error, a missing ``_base_``, a bad name) is theirs."""
    from perception.engine.config import load_config
    if not Path(path).is_file():
        raise ConfigError(f'config {path}: no such file')
    try:
        return load_config(str(path), cfg_options, work_dir, launcher)
    except Exception as err:   # noqa: BLE001 -- see the docstring
        raise ConfigError(f'config {path} cannot be read: {type(err).__name__}: '
                          f'{" ".join(str(err).split())}') from err


def checkpoint_file(path: str) -> None:
    """The checkpoint exists and the safe (weights-only) loader reads it (ConfigError if not).
    Read once more here, because the test loop reads it deep inside the Runner."""
    from perception.models.checkpoint import load_checkpoint_file
    if not Path(path).is_file():
        raise ConfigError(f'checkpoint {path}: no such file')
    load_checkpoint_file(str(path))
