"""Where the real sensor samples live: one setting, ``PERCEPTION_REAL_DATA``.

Default: ``<repository>/../shared/data/real`` (the layout of the development and CI machines).
"""
from __future__ import annotations

import os
from pathlib import Path

REAL_DATA_ENV = 'PERCEPTION_REAL_DATA'
REPO_ROOT = Path(__file__).resolve().parents[1]


def real_data_root() -> Path:
    """The folder holding ``mfnet_rgbt/``, ``nyu_demo/``, ... (may not exist on a user's clone)."""
    env = os.environ.get(REAL_DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / 'shared' / 'data' / 'real').resolve()
