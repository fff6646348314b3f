"""Constants and helpers shared by the deployment tests (imported by name: conftest modules are not)."""
import argparse
import json
from pathlib import Path

from perception.paths import REPO_ROOT

NANO_CONFIG = REPO_ROOT / 'configs' / '_base_' / 'models' / 'nano.py'
NANO_SIZE = (64, 96)
#: a folder written by ``export_nano``: the ``nano_export`` fixture reads it instead of exporting
NANO_EXPORT_ENV = 'PERCEPTION_TEST_NANO_EXPORT'
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


def nano_checkpoint_file(path) -> Path:
    """Random-init nano weights (seed 0) saved at ``path`` as a checkpoint. Needs torch."""
    import torch

    from perception.models import build_model
    torch.manual_seed(0)
    model = build_model(NANO_CONFIG)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return Path(path)


def export_nano(folder, calib_config=None, checkpoint=None) -> dict:
    """``perception export nano.py CKPT --shape 64 96 --nms onnx --int8`` into ``folder`` (the
    ``nano_export`` fixture); a calibration config and random weights are written there when not
    given. Needs the training stack; ``read_nano_export`` reads the result anywhere."""
    from perception.commands import export
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if calib_config is None:
        calib_config = folder / 'synthetic_small.py'
        calib_config.write_text(CALIB_CONFIG.format(size=NANO_SIZE))
    if checkpoint is None:
        checkpoint = nano_checkpoint_file(folder / 'nano_random.pth')
    out = folder / 'nano.onnx'
    args = export_args(config=NANO_CONFIG, output=out, shape=NANO_SIZE, nms='onnx',
                       parity_synthetic=1, int8=True, calib_config=calib_config, calib_num=8,
                       eval_num=4, save_calib_npz=folder / 'calib')
    args.checkpoint = str(checkpoint)
    assert export.run(args) == 0
    return read_nano_export(folder, checkpoint)


def read_nano_export(folder, checkpoint=None) -> dict:
    """The files ``export_nano`` wrote into ``folder``, as the ``nano_export`` fixture gives them."""
    out = Path(folder) / 'nano.onnx'
    report = json.loads(out.with_suffix('.report.json').read_text())
    return dict(onnx=out, int8=out.with_suffix('.int8.onnx'), report=report,
                checkpoint=Path(checkpoint or Path(folder) / 'nano_random.pth'),
                calib=Path(folder) / 'calib')
