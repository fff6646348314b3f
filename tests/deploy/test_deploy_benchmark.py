"""Benchmark plumbing (the numbers themselves come from `perception benchmark --suite`, not tests)."""
import pytest

from perception.commands.benchmark import Spec, benchmark
from perception.benchmark import runners as br
from perception.benchmark.suite import Row, SuiteOptions, SuiteResult, to_markdown
from perception.models.export import ExportForward

from deploy_helpers import NANO_CONFIG, TINY_SIZE


def test_onnxruntime_backend_times_an_exported_graph(tiny_exports):
    spec = Spec(str(NANO_CONFIG), shape=TINY_SIZE, sensors=('rgb', 'depth'),
                onnx=str(tiny_exports['host'].path))
    stats = benchmark('onnxruntime', spec, runs=3, warmup=1)
    assert stats.runs == 3 and stats.p90_ms >= stats.median_ms >= stats.min_ms > 0
    assert stats.fps == pytest.approx(1e3 / stats.median_ms)
    with pytest.raises(ValueError, match='--onnx'):
        benchmark('onnxruntime', Spec(str(NANO_CONFIG)), runs=1, warmup=0)


def test_flops_and_peak(tiny_model):
    macs = br.count_flops(ExportForward(tiny_model), br.sensor_inputs(TINY_SIZE))
    # stem: 3x3 conv 5->8 at H/2 x W/2 alone is 5*8*9 MACs per output pixel
    assert macs > 5 * 8 * 9 * (TINY_SIZE[0] // 2) * (TINY_SIZE[1] // 2)
    assert br.matmul_peak_gflops(n=128, repeats=2) > 0


def test_latency_stats_nearest_rank():
    s = br.latency_stats([float(v) for v in range(1, 11)])
    assert s['median_ms'] == 5.5 and s['p90_ms'] == 9.0 and s['min_ms'] == 1.0


def test_markdown_report_has_every_section_the_goals_and_the_command():
    stats = lambda ms: dict(median_ms=ms, p90_ms=ms * 1.2, mean_ms=ms, min_ms=ms * 0.9,
                            fps=1e3 / ms)
    rgbtd = ('rgb', 'thermal', 'depth')
    rows = [Row('backends', 'nano', (256, 320), 'pytorch eager', rgbtd, stats(50.0), gmacs=0.5),
            Row('backends', 'nano', (256, 320), 'onnxruntime fp32', rgbtd, stats(10.0), 0.5),
            Row('backends', 'nano', (256, 320), 'onnxruntime int8', rgbtd, stats(8.0), 0.5),
            Row('peers', 'nano', (256, 320), 'onnxruntime fp32', rgbtd, stats(10.0), 0.5),
            Row('peers', 'SegFormer-B0 (mmseg)', (256, 320), 'onnxruntime fp32', ('rgb', ),
                stats(20.0), 2.0),
            Row('peers', 'RTMDet-tiny (mmdet)', (256, 320), 'onnxruntime fp32', ('rgb', ),
                stats(5.0), 1.6),
            Row('subsets', 'nano', (256, 320), 'onnxruntime fp32', ('rgb', ), stats(10.0), 0.5),
            Row('models', 'nano seg only', (256, 320), 'pytorch eager', rgbtd, stats(50.0), 0.4),
            Row('models', 'nano det only', (256, 320), 'pytorch eager', rgbtd, stats(50.0), 0.3)]
    result = SuiteResult(rows, {'torch fp32': 100.0, 'onnxruntime fp32': 400.0}, {'cpu': 'test'},
                         profiles={'nano': {'op_share': {'Conv': 0.6, 'Mul': 0.1}, 'nodes': 42}},
                         seconds=60)
    md = to_markdown(result, 'perception benchmark X --suite', SuiteOptions('configs/nano.py'))
    assert 'perception benchmark X --suite' in md
    for title in ('## Goals', '## Backends', '## Peers in the same backends', '## Why nano is fast',
                  '## Sensor subsets', '## One multi-task model', '## CUDA'):
        assert title in md
    # 2 x 0.5 GMAC / 50 ms = 20 GFLOP/s = 20 % of the torch peak; ONNX Runtime rows: their own peak
    assert '| pytorch eager | 50.0 | 60.0 | 20.0 | 0.50 | 20.0 | 20 % |' in md
    assert '| onnxruntime fp32 | 10.0 | 12.0 | 100.0 | 0.50 | 100.0 | 25 % |' in md
    assert '10.0 / (20.0 + 5.0) = **0.40**' in md
    assert '**25 %** of the onnxruntime fp32 peak' in md and '10.0 / 8.0 ms = **1.25x**' in md
    assert '| nano | 42 | 60 % | 10 % | 30 % |' in md           # the profile table
    assert 'Three single-task models in sequence: 100.0 ms' in md


def test_single_task_variant_leaves_the_callers_config_alone():
    from perception.models import load_config
    cfg = load_config('configs/_base_/models/nano.py')
    seg_only = br.perception_model(cfg, tasks=('seg', ))
    assert tuple(cfg.model.tasks) == ('seg', 'det', 'depth')
    assert set(cfg.model.task_weighting.weights) == {'seg', 'det', 'depth'}
    assert seg_only.model.tasks == ('seg', ) and set(seg_only.model.heads) == {'seg'}
    outputs = seg_only(*br.sensor_inputs((64, 64)))
    assert len(outputs) == 1 and outputs[0].shape[1] == cfg.model.num_classes['seg']


def test_fewer_sensor_models_are_held_to_the_dropped_branches_share_of_the_work():
    from perception.benchmark.suite import fewer_sensor_lines
    stats = lambda ms: dict(median_ms=ms, p90_ms=ms, mean_ms=ms, min_ms=ms, fps=1e3 / ms)
    rgbtd, rgbt = ('rgb', 'thermal', 'depth'), ('rgb', 'thermal')
    rows = [Row('peers', 'nano', (256, 320), 'onnxruntime fp32', rgbtd, stats(10.0), 1.0),
            Row('peers', 'nano_rgbt', (256, 320), 'onnxruntime fp32', rgbt, stats(8.0), 0.8),
            Row('peers', 'nano', (480, 640), 'onnxruntime fp32', rgbtd, stats(40.0), 4.0),
            Row('peers', 'nano_rgbt', (480, 640), 'onnxruntime fp32', rgbt, stats(36.0), 3.2),
            # same sensors (an earlier design): not a fewer-sensor comparison
            Row('peers', 'nano_mbv2', (256, 320), 'onnxruntime fp32', rgbtd, stats(9.0), 0.5),
            # an OpenMMLab peer runs RGB only, but it is not nano without two of its branches
            Row('peers', 'RTMDet-tiny (mmdet)', (256, 320), 'onnxruntime fp32', ('rgb', ),
                stats(15.0), 1.6)]
    lines = fewer_sensor_lines(SuiteResult(rows), 'nano', ['nano_rgbt', 'nano_mbv2'])
    assert len(lines) == 2
    assert '8.0 vs 10.0 ms, **20 %** faster; the depth branch carries 20 %' in lines[0]
    assert lines[0].endswith('met)') and 'not met' not in lines[0]
    assert '**10 %** faster' in lines[1] and lines[1].endswith('not met)')
