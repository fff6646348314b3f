"""tools/analysis/get_flops.py and tools/benchmark.py on the real configs."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
NANO = str(ROOT / 'configs/_base_/models/nano.py')
BASE = str(ROOT / 'configs/_base_/models/base.py')


def _tool(rel):
    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_get_flops_counts_nano_as_trained_and_re_parameterised(capsys):
    """nano is sized by latency (docs/benchmarks.md), not by a FLOPs budget; the tool still reports
    both forms, and the count agrees with the benchmark's counter (torch FlopCounterMode)."""
    from perception.benchmark.runners import count_flops
    from perception.models import ExportForward, build_model, dummy_inputs
    from perception.models.layers import reparameterize
    tool = _tool('tools/analysis/get_flops.py')
    assert tool.main([NANO, '--shape', '256', '320']) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith('GFLOPs'))
    inference = float(line.split(':')[1].split()[0])
    trained = float(line.split('branches:')[1].rstrip(')'))
    assert 0.1 < inference < trained       # the merged branches are gone
    fused = reparameterize(build_model(NANO))
    gmacs = count_flops(ExportForward(fused), dummy_inputs(256, 320)) / 1e9
    assert abs(gmacs - inference) <= 0.05 * inference
    assert 'M re-parameterised' in out


def test_benchmark_pytorch_runner(capsys, tmp_path):
    tool = _tool('tools/benchmark.py')
    out_json = tmp_path / 'bench.json'
    assert tool.main([NANO, '--shape', '64', '64', '--runs', '3', '--warmup', '1',
                      '--sensors', 'rgb', 'depth', '--postprocess', '--json',
                      str(out_json)]) == 0
    assert 'median' in capsys.readouterr().out
    import json
    stats = json.loads(out_json.read_text())
    assert stats['runs'] == 3 and stats['p90_ms'] >= stats['median_ms'] >= stats['min_ms'] > 0
    assert stats['sensors'] == ['rgb', 'depth']
    with pytest.raises(KeyError, match='unknown backend'):
        tool.benchmark('tensorrt', tool.Spec(NANO))


def test_base_config_builds_with_mit_encoders():
    from perception.models import build_model, dummy_inputs
    model = build_model(BASE).eval()
    assert type(model.encoder.backbones['rgb']).__name__ == 'MixVisionTransformer'
    assert model.encoder.out_channels['rgb'] == (64, 128, 320, 512)
    with torch.no_grad():
        out = model.forward_export(*dummy_inputs(64, 64))
    assert out['seg_logits'].shape == (1, 8, 64, 64) and out['depth_pred'].shape == (1, 1, 64, 64)


def test_det_diagnosis_accounts_for_every_object():
    """tools/analysis/det_diagnosis.py (docs/results.md, "Diagnosis"): every ground-truth box lands
    in exactly one size bin, the positives per stride add up to the positives per object, and the
    strides it reports are the head's (nano detects at strides 4-16)."""
    tool = _tool('tools/analysis/det_diagnosis.py')
    r = tool.diagnose(str(ROOT / 'configs/studies/nano_study_128x160.py'), None, frames=6)
    assert r['objects'] > 0
    assert sum(b['objects'] for b in r['buckets'].values()) == r['objects']
    assert sum(r['per_level'].values()) == round(r['mean_positives'] * r['objects'])
    assert set(r['per_level']) <= {'s4', 's8', 's16'}
    for b in r['buckets'].values():
        assert 0 <= b['no_positive'] <= 1 and 0 <= b['recall50'] <= 1


def test_det_diagnosis_refuses_a_model_without_detection(tmp_path):
    from mmengine.config import Config

    from perception.contract import ConfigError
    tool = _tool('tools/analysis/det_diagnosis.py')
    cfg = Config.fromfile(str(ROOT / 'configs/studies/nano_study_128x160.py'))
    cfg.model.tasks = ('seg', 'depth')
    cfg.model.task_weighting.weights.pop('det')
    path = tmp_path / 'seg_depth.py'
    cfg.dump(str(path))
    with pytest.raises(ConfigError, match='no detection head'):
        tool.diagnose(str(path), None, frames=2)
