"""Shared fixtures. Real samples are found through ``PERCEPTION_REAL_DATA`` (perception.paths): tests
that need them skip with the reason where the folder is absent, and fail under CI (``CI=true``)."""
import os

import pytest

from perception.paths import REAL_DATA_ENV, real_data_root


@pytest.fixture(scope='session')
def real_root():
    root = real_data_root()
    if not (root / 'README.md').is_file():
        msg = (f'real sensor samples not found at {root} (set {REAL_DATA_ENV} to the folder '
               'holding mfnet_rgbt/, nyu_demo/, ...)')
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail(msg + ' -- they are always present under CI')
        pytest.skip(msg)
    return root
