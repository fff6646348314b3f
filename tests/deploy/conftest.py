"""Session fixtures: one real nano export through the CLI (ONNX NMS + INT8), tiny stand-in exports.

The nano export is the expensive part (model build, trace, onnxsim, parity, calibration); every test
that needs a real exported model shares it. Shapes are small (64x96) to keep the suite fast.
"""
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))   # deploy_helpers, deploy_standin

from deploy_helpers import CALIB_CONFIG, NANO_CONFIG, NANO_SIZE, TINY_SIZE, export_args  # noqa: E402
from deploy_standin import TinyPerceptor  # noqa: E402


@pytest.fixture(scope='session')
def calib_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('cfg') / 'synthetic_small.py'
    path.write_text(CALIB_CONFIG.format(size=NANO_SIZE))
    return path


@pytest.fixture(scope='session')
def nano_checkpoint(tmp_path_factory) -> Path:
    """Random-init nano weights saved as a checkpoint, so export and PyTorch predictor share them."""
    from perception.models import build_model
    torch.manual_seed(0)
    model = build_model(NANO_CONFIG)
    path = tmp_path_factory.mktemp('ckpt') / 'nano_random.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='session')
def nano_export(tmp_path_factory, calib_config, nano_checkpoint):
    """``perception export nano.py CKPT --shape 64 96 --nms onnx --int8`` (random weights)."""
    from perception.commands import export
    out = tmp_path_factory.mktemp('nano') / 'nano.onnx'
    args = export_args(config=NANO_CONFIG, output=out, shape=NANO_SIZE, nms='onnx',
                       parity_synthetic=1, int8=True, calib_config=calib_config, calib_num=8,
                       eval_num=4, save_calib_npz=out.parent / 'calib')
    args.checkpoint = str(nano_checkpoint)
    assert export.run(args) == 0
    report = json.loads(out.with_suffix('.report.json').read_text())
    return dict(onnx=out, int8=out.with_suffix('.int8.onnx'), report=report,
                checkpoint=nano_checkpoint, calib=out.parent / 'calib')


@pytest.fixture(scope='session')
def tiny_model():
    torch.manual_seed(0)
    return TinyPerceptor().eval()


@pytest.fixture(scope='session')
def tiny_spec(tiny_model):
    from perception.apis.spec import ModelSpec
    meta = tiny_model.dataset_meta
    return ModelSpec(input_size=TINY_SIZE, seg_classes=meta['seg_classes'],
                     det_classes=meta['det_classes'])


@pytest.fixture(scope='session')
def tiny_exports(tmp_path_factory, tiny_model, tiny_spec):
    """The stand-in exported with every NMS mode (same weights, same thresholds)."""
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    folder = tmp_path_factory.mktemp('tiny')
    out = {}
    for nms in ('host', 'onnx', 'trt'):
        opts = ExportOptions(input_size=TINY_SIZE, nms=nms, score_thr=0.3, max_det=20,
                             pre_nms_topk=200, parity_synthetic=1)
        out[nms] = export_onnx(tiny_model, folder / f'tiny_{nms}.onnx', tiny_spec, opts)
    return out
