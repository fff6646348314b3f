"""Session fixtures: one real nano export through the CLI (ONNX NMS + INT8, random weights), nano
trained for seconds and exported (FP32 + every INT8 target), tiny stand-in exports.

The nano exports are the expensive part (model build, trace, onnxsim, parity, calibration); every
test that needs a real exported model shares them. Shapes are small (64x96) to keep the suite fast.

torch is imported by the fixtures that build models, not here: with ``PERCEPTION_TEST_NANO_EXPORT``
naming a folder that ``deploy_helpers.export_nano`` wrote (by a Python with the training stack),
``nano_export`` reads it, so the Predictor tests run in a runtime-only venv
(tools/ros2/check_apt_python.sh).
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # deploy_helpers, deploy_standin

from deploy_helpers import (CALIB_CONFIG, NANO_EXPORT_ENV, NANO_SIZE, TINY_SIZE,  # noqa: E402
                            export_nano, nano_checkpoint_file, read_nano_export)

TRAIN_ITERS = 240     # trained_nano: seconds of training, outputs that follow the input


@pytest.fixture(scope='session')
def calib_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('cfg') / 'synthetic_small.py'
    path.write_text(CALIB_CONFIG.format(size=NANO_SIZE))
    return path


@pytest.fixture(scope='session')
def nano_checkpoint(tmp_path_factory) -> Path:
    """Random-init nano weights saved as a checkpoint, so export and PyTorch predictor share them."""
    return nano_checkpoint_file(tmp_path_factory.mktemp('ckpt') / 'nano_random.pth')


@pytest.fixture(scope='session')
def nano_export(tmp_path_factory, request):
    """``perception export nano.py CKPT --shape 64 96 --nms onnx --int8`` (random weights); read
    from ``$PERCEPTION_TEST_NANO_EXPORT`` when set (written there by ``export_nano``)."""
    if os.environ.get(NANO_EXPORT_ENV):
        return read_nano_export(os.environ[NANO_EXPORT_ENV])
    return export_nano(tmp_path_factory.mktemp('nano'), request.getfixturevalue('calib_config'),
                       request.getfixturevalue('nano_checkpoint'))


@pytest.fixture(scope='session')
def trained_nano(tmp_path_factory):
    """The demo's nano trained ``TRAIN_ITERS`` iterations on synthetic scenes at NANO_SIZE (~20 s on
    2 cores; packing-only pipeline, constant LR): weights whose outputs follow the input (5 of 8
    classes predicted, mIoU ~0.3, AbsRel ~0.3 on held-out frames), unlike random init. Exported
    with ``--nms onnx``, and quantised for every ``INT8_TARGETS`` entry from 16 calibration frames
    of the training split. ``quantize(frames, path, target)`` quantises the same graph again."""
    from mmengine.runner import Runner
    from train_utils import TINY, tiny_cfg

    from perception.deploy.frames import dataset_frames
    from perception.deploy.onnx_export import ExportOptions, export_from_config
    from perception.deploy.quantize import INT8_TARGETS, export_int8
    assert TINY == NANO_SIZE
    work = tmp_path_factory.mktemp('trained_nano')
    cfg = tiny_cfg(work, max_iters=TRAIN_ITERS, batch_size=4)
    cfg.default_hooks.checkpoint.interval = TRAIN_ITERS
    cfg.default_hooks.logger.interval = 50
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader.dataset.num_samples = 200
    cfg.experiment_name = 'trained_nano'
    Runner.from_cfg(cfg).train()
    checkpoint = str(work / f'iter_{TRAIN_ITERS}.pth')
    fp32 = export_from_config(cfg, checkpoint, work / 'nano.onnx', input_size=NANO_SIZE,
                              parity_synthetic=1)
    spec = fp32.spec
    opts = ExportOptions(input_size=NANO_SIZE, nms=spec.nms, score_thr=spec.score_thr,
                         iou_thr=spec.iou_thr, max_det=spec.max_det, pre_nms_topk=spec.pre_nms_topk)
    calibration = list(dataset_frames(cfg, 'train', 16))

    def quantize(frames, path, target):
        export_int8(fp32.host_model, fp32.host_spec, opts, frames, path, target=target)
        return path

    int8 = {t: quantize(calibration, work / f'nano.{t}.int8.onnx', t) for t in INT8_TARGETS}
    return dict(config=cfg, checkpoint=checkpoint, fp32=fp32.path, int8=int8,
                calibration=calibration, quantize=quantize)


@pytest.fixture(scope='session')
def tiny_model():
    import torch
    from deploy_standin import TinyPerceptor
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
