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


def test_det_diagnosis_accounts_for_every_object(monkeypatch):
    """tools/analysis/det_diagnosis.py (docs/results.md, "Diagnosis") reports what the head's
    assigner gave: a wrapper around mmdet's assigner records, per ground-truth box, its side and the
    strides of the priors assigned to it (read from the priors themselves, not from the tool's
    level bookkeeping), and the tool's objects, size bins, positives per object and per stride and
    share without any must be those records."""
    from collections import Counter

    from mmdet.models.task_modules.assigners import DynamicSoftLabelAssigner
    real_assign = DynamicSoftLabelAssigner.assign
    sides, given = [], []          # per ground-truth box: its side (px), {stride: positives}

    def recording(self, pred_instances, gt_instances, *args, **kwargs):
        result = real_assign(self, pred_instances, gt_instances, *args, **kwargs)
        stride = pred_instances.priors[:, 2]
        for k, box in enumerate(gt_instances.bboxes.tolist()):
            sides.append((max(box[2] - box[0], 0) * max(box[3] - box[1], 0)) ** 0.5)
            given.append(Counter(f's{int(s)}' for s in stride[result.gt_inds == k + 1].tolist()))
        return result
    monkeypatch.setattr(DynamicSoftLabelAssigner, 'assign', recording)
    tool = _tool('tools/analysis/det_diagnosis.py')
    r = tool.diagnose(str(ROOT / 'configs/studies/nano_study_128x160.py'), None, frames=6)
    counts = [sum(c.values()) for c in given]
    assert r['objects'] == len(given) > 0
    assert r['per_level'] == dict(sum(given, Counter()))
    assert set(r['per_level']) <= {'s4', 's8', 's16'} and len(r['per_level']) >= 2
    assert r['mean_positives'] == pytest.approx(sum(counts) / len(counts))
    assert r['no_positive'] == pytest.approx(counts.count(0) / len(counts))
    edges = [(0, 8), (8, 16), (16, 32), (32, 64), (64, float('inf'))]
    for lo, hi in edges:
        inside = [n for side, n in zip(sides, counts) if lo <= side < hi]
        name = f'{lo}-{hi}px' if hi < float('inf') else f'>={lo}px'
        if not inside:
            assert name not in r['buckets']
            continue
        b = r['buckets'][name]
        assert b['objects'] == len(inside) and b['share'] == pytest.approx(len(inside) / len(given))
        assert b['no_positive'] == pytest.approx(inside.count(0) / len(inside))
        assert 0 <= b['recall50'] <= 1
    assert sum(b['objects'] for b in r['buckets'].values()) == r['objects']


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


def test_int8_forms_bound_and_need_from_profiles(capsys):
    """tools/analysis/int8_forms.py (docs/deployment.md, "Other INT8 forms"): the kernel-time
    bound and the speed-up the non-convolution ops would need, from hand-made profiles; one tiny
    form end to end (quantised, timed, profiled) on the real nano graph is left to the tool's
    documented run (minutes)."""
    tool = _tool('tools/analysis/int8_forms.py')
    figures = {'fp32': dict(median_ms=10.0, kernel_ms=10.0, conv_ms=4.0, rest_ms=6.0),
               'every op (shipped)': dict(median_ms=8.0, kernel_ms=8.0, conv_ms=2.0, rest_ms=6.0)}
    # convolutions 2x faster, the rest at FP32 speed: 10 / (2 + 6)
    assert tool.bound(figures) == pytest.approx(1.25)
    # 1.4x: 10 / 1.4 = 7.14 ms, 2 of it convolutions -> the rest 6 ms must take 5.14 ms
    assert tool.rest_speedup_needed(figures) == pytest.approx(6.0 / (10.0 / 1.4 - 2.0))
    assert tool.rest_speedup_needed(figures, goal=5.0) == float('inf')   # beyond convs alone
    text = tool.table((256, 320), figures)
    assert '1.25x' in text and '2.00x' in text.replace('(2.00x)', '2.00x')
    with pytest.raises(SystemExit):
        tool.main(['--sizes', '256by320'])
    assert 'is not HxW' in capsys.readouterr().err
