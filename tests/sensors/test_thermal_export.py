"""One thermal scaling from the config through the export to `perception infer`: the model records
how it was trained to see radiometric thermal, and inference can only use that."""
import json
import sys

import cv2
import numpy as np
import pytest

from perception.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'tests' / 'deploy'))   # the stand-in network (deploy_standin)

SIZE = (64, 80)
SCALING = dict(mode='kelvin', low=263.15, high=323.15)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The stand-in network with a config that declares ``thermal_scaling`` -> ONNX."""
    import torch
    from deploy_standin import TinyPerceptor
    from mmengine.config import Config

    from perception.apis.config_spec import make_spec
    from perception.deploy.frames import synthetic_frames
    from perception.deploy.onnx_export import ExportOptions, export_onnx
    torch.manual_seed(0)
    net = TinyPerceptor().eval()
    loader = dict(type='LoadMultiSensorSample', thermal_scaling=SCALING)
    cfg = Config(dict(model=dict(type='TinyPerceptor'), thermal_scaling=SCALING,
                      train_dataloader=dict(dataset=dict(pipeline=[loader]))))
    spec = make_spec(net, cfg, SIZE)
    assert spec.thermal_scaling == dict(SCALING, kelvin_per_count=0.01, offset_k=0.0)
    path = tmp_path_factory.mktemp('model') / 'radiometric.onnx'
    export_onnx(net, path, spec, ExportOptions(input_size=SIZE, nms='host', score_thr=0.3),
                frames=synthetic_frames(1, SIZE))
    return path


def test_the_export_records_the_scaling(exported):
    import onnx

    from perception.apis.predictor import Predictor
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert json.loads(meta['perception.thermal_scaling'])['mode'] == 'kelvin'
    assert Predictor(exported).spec.thermal_scaling['high'] == 323.15


def test_infer_scales_radiometric_thermal_as_the_model_was_trained(exported, tmp_path, monkeypatch):
    """`perception infer --thermal-encoding u16_radiometric` (the command, in process): the network
    input is recorded at the backend, as the ROS mono16 test records it, and holds the counts scaled
    by the model's recorded range -- 20 deg C at 0.5, 40 deg C at 5/6 of 263.15-323.15 K -- not the
    counts / 65535 of a unit-range 16-bit file."""
    from perception.apis.backends.onnxruntime import OnnxRuntimeBackend
    from perception.apis.predictor import Predictor
    from perception.apis.preprocess import preprocess
    from perception.cli import main
    counts = np.full((48, 64), 29315, np.uint16)          # 20 deg C as FLIR TLinear counts
    counts[:, 32:] = 31315                                # 40 deg C
    cv2.imwrite(str(tmp_path / 'ir.png'), counts)
    seen, real_run = [], OnnxRuntimeBackend.run

    def recording(self, inputs):
        seen.append({k: np.array(v, copy=True) for k, v in inputs.items()})
        return real_run(self, inputs)
    monkeypatch.setattr(OnnxRuntimeBackend, 'run', recording)
    rc = main(['infer', '--model', str(exported), '--thermal', str(tmp_path / 'ir.png'),
               '--thermal-encoding', 'u16_radiometric', '--out', str(tmp_path / 'out')])
    assert rc == 0
    overlay = cv2.imread(str(tmp_path / 'out' / 'ir_overlay.png'))
    assert overlay.shape == (48, 64, 3)
    assert len(seen) == 1
    unit = np.where(np.arange(64) < 32, 0.5, 50 / 60).astype(np.float32)[None].repeat(48, 0)
    spec = Predictor(exported).spec
    expected, _ = preprocess(spec, thermal=unit)
    np.testing.assert_allclose(seen[0]['thermal'], expected['thermal'], atol=1e-5)
    np.testing.assert_array_equal(seen[0]['modality_mask'], expected['modality_mask'])
    as_unit, _ = preprocess(spec, thermal=(counts / 65535.0).astype(np.float32))
    assert not np.allclose(seen[0]['thermal'], as_unit['thermal'], atol=1e-3)
    # The same file with a model that records no scaling is refused (tests/commands): the scaling
    # can only have come from the model.
