"""Constants and helpers shared by the deployment tests (imported by name: conftest modules are not)."""
import argparse

from perception.paths import REPO_ROOT

NANO_CONFIG = REPO_ROOT / 'configs' / '_base_' / 'models' / 'nano.py'
NANO_SIZE = (64, 96)
TINY_SIZE = (64, 80)

CALIB_CONFIG = """
default_scope = 'perception'
_data = dict(type='SyntheticRGBTDDataset', img_size={size}, pipeline=[])
train_dataloader = dict(dataset=dict(_data, split='train', num_samples=16))
test_dataloader = dict(dataset=dict(_data, split='test', num_samples=8))
"""


def export_args(**overrides) -> argparse.Namespace:
    from perception.commands import export
    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    argv = [str(overrides.pop('config')), '--output', str(overrides.pop('output'))]
    for key, value in overrides.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return parser.parse_args(argv)
