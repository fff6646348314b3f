"""Evidence studies: variants differ only in what is studied, the cache, the docs splicing, and the
whole pipeline of every study end to end in ``--quick`` mode (its numbers are not checked: a few
training iterations on 64x96 frames mean nothing)."""
import argparse
import json
import os.path as osp
from pathlib import Path

import pytest

from perception.models import build_model
from perception.studies import STUDIES, get_study
from perception.studies.common import Settings, base_config, config_hash, variant
from perception.studies.report import splice_section


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    return base_config(Settings.quick_settings(work_dir=str(tmp_path_factory.mktemp('studies'))))


def _types(cfg):
    return [t['type'] for t in cfg.train_dataloader.dataset.pipeline]


def test_settings_reach_every_size_and_seed(base):
    s = Settings.quick_settings()
    h, w = s.img_size
    for split in ('train', 'val', 'test'):
        assert base[f'{split}_dataloader'].dataset.img_size == (h, w)
        assert base[f'{split}_dataloader'].batch_size == s.batch_size
    sizes = [t.get('crop_size') or t.get('scale') or t.get('size')
             for t in base.train_dataloader.dataset.pipeline
             if t['type'] in ('RandomResize', 'RandomCrop', 'Pad')]
    assert sizes == [(w, h)] * 3
    assert base.train_cfg.max_iters == s.iters and base.randomness.seed == s.seed
    assert base.test_dataloader.dataset.num_samples == s.test_frames



def test_studies_of_several_seeds_run_the_asked_ones_and_say_them():
    assert Settings().run_seeds((0, 1)) == (0, 1)
    assert Settings(seeds=(2, )).run_seeds((0, 1)) == (2, )
    assert Settings.quick_settings(seed=3, seeds=(0, 1)).run_seeds((0, 1)) == (3, )   # --quick
    said = Settings().describe(iterations='500, 1000', seeds=(0, 1))
    assert said.startswith('500, 1000 iterations') and 'seeds 0, 1,' in said
    assert 'seed 0,' in Settings().describe()

def test_variants_change_only_what_is_studied(base):
    concat = variant(base, fusion='ConcatFusion')
    assert concat.model.fusion.type == 'ConcatFusion'
    assert concat.model.fusion.channels == base.model.fusion.channels
    assert base.model.fusion.type == 'AttentionFusion'          # the base is not edited
    assert concat.model.decoder == base.model.decoder and concat.model.encoder == base.model.encoder

    plain = variant(base, decoder='PlainDecoder')
    assert plain.model.decoder.type == 'PlainDecoder' and plain.model.fusion == base.model.fusion

    seg = variant(base, tasks=('seg', ))
    assert seg.model.tasks == ('seg', ) and set(seg.model.heads) == {'seg'}
    assert set(seg.model.task_weighting.weights) == {'seg'}
    assert seg.test_evaluator.tasks == ('seg', ) and base.test_evaluator.tasks == ('seg', 'det',
                                                                                   'depth')
    keep = dict(type='KeepSensors', sensors=['rgb'])
    rgb = variant(base, train_missingness=[keep], train_conditions=['day', 'fog'])
    types = _types(rgb)
    assert 'ModalityDropout' not in types and types.index('KeepSensors') == types.index('Pad') - 1
    assert rgb.train_dataloader.dataset.conditions == ['day', 'fog']
    assert 'ModalityDropout' in _types(base)
    assert variant(base, balance_weight=0.0).model.decoder.balance_weight == 0.0
    wide = variant(base, decoder='PlainDecoder', decoder_options=dict(channels=(48, 72, 96, 144)))
    assert wide.model.decoder == dict(type='PlainDecoder', channels=(48, 72, 96, 144),
                                      norm_cfg=base.model.decoder.norm_cfg)
    two = variant(base, decoder_options=dict(num_experts=2, expert_expansion=2))
    assert two.model.decoder == dict(base.model.decoder, num_experts=2, expert_expansion=2)
    assert 'expert_expansion' not in base.model.decoder
    for cfg in (concat, plain, seg, wide, two):
        build_model(cfg)      # every variant is a valid model


def test_config_hash_identifies_the_model_not_its_folder(base):
    moved = variant(base)
    moved.work_dir = '/elsewhere'
    assert config_hash(moved) == config_hash(base)
    assert config_hash(variant(base, balance_weight=0.1)) != config_hash(base)
    assert config_hash(variant(base, fusion='SumFusion')) != config_hash(base)
    # a progress bar does not change the weights; an EMA of them does (the saved weights are its)
    shown = variant(base)
    shown.custom_hooks = list(base.get('custom_hooks') or []) + [
        dict(type='ProgressBarHook', desc='train')]
    assert config_hash(shown) == config_hash(base)
    averaged = variant(base)
    averaged.custom_hooks = list(base.get('custom_hooks') or []) + [
        dict(type='EMAHook', momentum=0.02)]
    assert config_hash(averaged) != config_hash(base)
    slower = variant(averaged)
    slower.custom_hooks[-1]['momentum'] = 0.0002
    assert config_hash(slower) != config_hash(averaged)


def test_splice_section_replaces_only_its_own_block(tmp_path):
    doc = str(tmp_path / 'results.md')
    splice_section(doc, 'a', 'first A')
    splice_section(doc, 'b', 'first B')
    splice_section(doc, 'a', 'second A')
    text = open(doc).read()
    assert 'second A' in text and 'first A' not in text and 'first B' in text
    assert text.index('second A') < text.index('first B')   # stays where it was


def test_unknown_study_and_render_without_results_are_named(tmp_path):
    from perception.commands import study as command
    with pytest.raises(KeyError, match="unknown study 'lidar'.*subsets"):
        get_study('lidar')
    with pytest.raises(FileNotFoundError, match='--render needs .*mnar.*results.json'):
        command.run(_args(tmp_path, 'mnar', render=True))


def test_pretraining_study_configs_transfer_encoder_and_fusion_and_differ_in_the_cache(base):
    """The pretraining run holds the study model's encoder + fusion (same keys), reads unlabelled
    frames of another seed stream; a fine-tune from its weights is another cached model than from
    scratch, and the label share sets the number of distinct labelled frames."""
    from perception.studies import pretraining as study
    settings = Settings.quick_settings(iters=50, batch_size=4)
    pre = study.pretrain_config(base, settings)
    assert pre.model.type == 'MaskedMultiSensorAutoencoder'
    assert pre.train_dataloader.dataset.seed != base.train_dataloader.dataset.seed
    assert pre.train_dataloader.dataset.pipeline[0]['type'] == 'DropTargets'
    transferred = {k for k in build_model(pre).state_dict() if k.startswith(('encoder.',
                                                                              'fusion.'))}
    assert transferred and transferred <= set(build_model(base).state_dict())
    scratch = study.fine_tune_config(base, settings, 0.1)
    warm = study.fine_tune_config(base, settings, 0.1, weights='/w/pretrained_encoders.pth')
    assert scratch.train_dataloader.dataset.num_samples == 20         # 10 % of 50 x 4
    assert study.fine_tune_config(base, settings, 0.01).train_dataloader.dataset.num_samples == 4
    assert warm.model.init_cfg == dict(type='Pretrained', checkpoint='/w/pretrained_encoders.pth')
    assert config_hash(warm) != config_hash(scratch)


def test_equal_latency_match_is_robust_to_one_noisy_timing(base, monkeypatch):
    """The plain decoder's width is read off a robust line through all timings: one outlier (the
    first, slow timing of the narrowest width) does not make it pick that width."""
    from perception.studies import multitask
    timings = {1.0: 12.2, 1.5: 10.0, 2.0: 10.8, 2.5: 11.7, 3.0: 12.2, 4.0: 14.8}   # measured once

    def fake_cost(name, model, runs, folder, log=print):
        if model.config.model.decoder.type == 'TaskExpertDecoder':
            return dict(latency_ms=12.9)
        width = model.config.model.decoder.channels[0] / base.model.fusion.channels[0]
        return dict(latency_ms=timings[min(timings, key=lambda f: abs(f - width))])
    monkeypatch.setattr(multitask, 'cost', fake_cost)
    settings = Settings(work_dir='unused', latency_runs=1)
    match = multitask.equal_latency_plain(base, settings, 'unused', log=lambda *_: None)
    assert match['target_ms'] == pytest.approx(12.9)
    # the line through the other five points meets 12.9 ms near 3.4x (the outlier alone: 1x)
    assert 3.0 <= match['factor'] <= 3.5 and match['fit'][1] == pytest.approx(1.47, abs=0.05)
    assert match['widths'] == tuple(max(8, round(w * match['factor'] / 8) * 8)
                                    for w in base.model.fusion.channels)


def test_the_documented_command_leaves_out_a_machine_path_only(tmp_path):
    from perception.commands.study import command_line
    assert command_line('mnar', _args(tmp_path, 'mnar', quick=False, seed=1)) == \
        'python tools/study.py mnar --seed 1'                     # tmp_path is absolute
    assert command_line('mnar', _args(Path('work_dirs/s24'), 'mnar', quick=False)) == \
        'python tools/study.py mnar --work-dir work_dirs/s24'
    assert command_line('peers', _args(tmp_path, 'peers', iters=2000)) == \
        'python tools/study.py peers --quick --iters 2000'


def test_an_extra_seed_keeps_its_results_beside_the_docs_without_the_section(tmp_path):
    """--no-docs --keep-results: an extra seed's results land as study_results/NAME_seedN.json,
    without this machine's work dir, and the section is not written; misuse names the fix."""
    from perception.commands import study as command
    doc = tmp_path / 'doc' / 'results.md'
    result = dict(metrics={'full': {'seg/mIoU': 0.5}},
                  run=dict(settings=dict(work_dir=str(tmp_path / 'runs'), seed=1), seed=1,
                           command='python tools/study.py mnar --seed 1'))
    path = command.kept_results_path(str(doc), 'mnar', seed=1)
    assert path == str(tmp_path / 'doc' / 'study_results' / 'mnar_seed1.json')
    assert command.kept_results_path(str(doc), 'mnar') == \
        str(tmp_path / 'doc' / 'study_results' / 'mnar.json')
    command.keep_results(result, path)
    kept = json.load(open(path))
    assert kept['run']['settings']['work_dir'] == 'work_dirs/studies'
    assert result['run']['settings']['work_dir'] == str(tmp_path / 'runs')   # caller's untouched
    assert kept['metrics'] == result['metrics'] and not doc.exists()
    relative = dict(result, run=dict(result['run'], settings=dict(work_dir='work_dirs/s24')))
    command.keep_results(relative, path)
    assert json.load(open(path))['run']['settings']['work_dir'] == 'work_dirs/s24'
    for changes, words in ((dict(quick=True, no_docs=True), 'drop --quick'),
                           (dict(quick=False, no_docs=False), 'goes with --no-docs'),
                           (dict(quick=False, no_docs=True, study='budget'), '--seeds N')):
        args = _args(tmp_path, keep_results=True, **changes)
        with pytest.raises(SystemExit, match=words):
            command.check_keep_results(args, [args.study])
    command.check_keep_results(_args(tmp_path, 'mnar', quick=False, no_docs=True,
                                     keep_results=True), ['mnar'])


def test_a_section_footer_names_the_cpu_and_a_joined_study_its_last_run():
    import re
    from perception.commands.study import footer
    run = dict(seconds=600, cpus=2, cpu='AMD EPYC', date='2026-12-07',
               command='python tools/study.py budget --seeds 2')
    assert footer(run) == \
        'Wall time of this study: 10.0 min on 2 CPU cores, AMD EPYC (2026-12-07).'
    assert footer(dict(run, cpu='')) == \
        'Wall time of this study: 10.0 min on 2 CPU cores (2026-12-07).'   # kept before CPUs
    joined = footer(run, joined=True)
    assert 'last run (`python tools/study.py budget --seeds 2`)' in joined
    assert "each seed's run is listed" in joined
    # tools/analysis/recover_study_results.py reads the day back from this line
    assert re.search(r'Wall time of this study: .* \((\d{4}-\d\d-\d\d)\)', joined)[1] == \
        '2026-12-07'


def _args(work_dir, study='all', **changes):
    values = dict(study=study, quick=True, seed=0, iters=None, test_frames=None,
                  work_dir=str(work_dir), doc=str(work_dir / 'results.md'), no_docs=False,
                  keep_results=False, render=False)
    return argparse.Namespace(**dict(values, **changes))


#: studies whose quick run takes minutes (they train several real-data recipes): make test-slow
SLOW_STUDIES = ('real_rgbt', )
FAST_STUDIES = [name for name in STUDIES if name not in SLOW_STUDIES]


def _check_quick_run(tmp_path, name):
    """A quick study's results, figures, command line and docs section."""
    from perception.commands import study as command
    study = get_study(name)
    folder = tmp_path / name
    result = json.load(open(folder / 'results.json'))
    for figure in study.FIGURES:
        assert (folder / figure).stat().st_size > 1000
    # tmp_path is absolute: where this machine keeps the files, left out of the command
    assert result['run']['command'] == f'python tools/study.py {name} --quick'
    doc = tmp_path / 'doc' / 'results.md'
    command.write_docs(study, result, Settings.quick_settings(),
                       [str(folder / f) for f in study.FIGURES], str(doc))
    md = doc.read_text()
    assert f'## {study.TITLE}' in md or f'## Results: {study.TITLE.lower()}' in md
    assert f'python tools/study.py {name}' in md
    for figure in study.FIGURES:
        assert f'](images/results/{figure})' in md
        assert (tmp_path / 'doc' / 'images' / 'results' / figure).is_file()
    # the results the section was written from are kept beside the doc (--render reads them),
    # without this machine's work dir (tmp_path: absolute)
    kept = json.load(open(tmp_path / 'doc' / 'study_results' / f'{name}.json'))
    assert kept['run']['settings'].pop('work_dir') == 'work_dirs/studies'
    result['run']['settings'].pop('work_dir')
    assert kept == json.loads(json.dumps(result))
    assert 'n/a | n/a | n/a | n/a |' not in study.summary(result)
    return result


# Seven studies end to end, each training, scoring and exporting several tiny models: about 6 min
# on an idle 2-core machine, more beside other jobs; the suite's 600 s per test is too tight here.
@pytest.mark.timeout(1500)
def test_every_study_runs_end_to_end_in_quick_mode(tmp_path, capsys):
    from perception.commands import study as command
    from perception.contract import SENSORS
    for name in FAST_STUDIES:
        assert command.run(_args(tmp_path, name)) == 0
    out = capsys.readouterr().out
    assert out.count('wall time; results, figures and logs') == len(FAST_STUDIES)
    assert not osp.exists(tmp_path / 'results.md')        # quick numbers never reach the docs
    # the default multi-task model is shared by three studies: trained once, then reused
    assert out.count('reusing') >= 2
    for name in FAST_STUDIES:
        _check_quick_run(tmp_path, name)
    # --render reprints a study from its results.json without training
    capsys.readouterr()
    assert command.run(_args(tmp_path, 'mnar', render=True)) == 0
    assert 'shifted - all sensors' in capsys.readouterr().out
    subsets = json.load(open(tmp_path / 'subsets' / 'results.json'))
    assert all(len(subsets[k]) == 7 for k in ('full', 'concat', 'gated', 'rectify', 'distilled'))
    assert set(subsets['single']) == set(SENSORS)
    assert all('seg/mIoU' in m and 'depth/AbsRel' in m for m in subsets['full'].values())
    mnar = json.load(open(tmp_path / 'mnar' / 'results.json'))
    assert len(mnar['metrics']) == 6 and set(mnar['costs']) == set(mnar['metrics'])
    assert all(set(m) == {'all sensors', 'training pattern', 'shifted pattern'}
               for m in mnar['metrics'].values())
    multi = json.load(open(tmp_path / 'multitask' / 'results.json'))
    assert 'seg/mIoU' in multi['metrics']['seg only']
    assert 'depth/AbsRel' not in multi['metrics']['seg only']
    assert all(c['params_m'] > 0.1 and c['gmacs'] > 0.1 and c['latency_ms'] > 0
               for c in multi['costs'].values())
    # the equal-latency plain decoder and the MoE variants are trained and scored like the rest
    from perception.studies.multitask import EQUAL_PLAIN, MOE_VARIANTS
    assert {EQUAL_PLAIN} | {name for _, name, _ in MOE_VARIANTS} <= set(multi['metrics'])
    match = multi['equal_latency']
    assert match['target_ms'] > 0 and len(match['tried']) >= 1
    tried = [float(f) for f in match['tried']]
    assert min(tried) <= match['factor'] <= max(tried) and len(match['widths']) == 4
    experts = json.load(open(tmp_path / 'experts' / 'results.json'))
    for model in experts['models'].values():
        for usage in model['usage'].values():
            assert sum(usage) == pytest.approx(1.0, abs=1e-4)
    _check_peers(json.load(open(tmp_path / 'peers' / 'results.json')))
    # budget: the deciding pairs at 1x, 2x, 4x the iterations; the 1x models are studies 2 and
    # 3's own (reused), the plain decoder at study 3's equal-latency widths
    from perception.studies import budget as study7
    ran = json.load(open(tmp_path / 'budget' / 'results.json'))
    assert ran['seeds'] == [0] and list(ran['runs']) == ['0']   # --quick: --seed alone
    curves = ran['runs']['0']
    assert list(curves['metrics']) == ['3', '6', '12']
    for at in curves['metrics'].values():
        assert set(at) == {'attention + dropout', 'concat + dropout', study7.MOE, EQUAL_PLAIN}
        assert set(at['concat + dropout']) == {'all sensors', 'training pattern', 'shifted pattern'}
    assert curves['plain_decoder']['widths'] == match['widths']
    assert all(curves['training'][f'{name} at 3 it.']['reused']
               for name in ('attention + dropout', 'concat + dropout', study7.MOE, EQUAL_PLAIN))
    assert not curves['training']['concat + dropout at 12 it.']['reused']
    # pretraining: both starts at every label share, both 100 % models on every sensor subset
    pre = json.load(open(tmp_path / 'pretraining' / 'results.json'))
    assert set(pre['metrics']) == {'scratch', 'pretrained'}
    assert all(list(m) == ['1 %', '10 %', '100 %'] for m in pre['metrics'].values())
    assert all(len(s) == 7 for s in pre['subsets'].values())
    assert 'pretraining' in pre['training'] and pre['training']['pretraining']['seconds'] > 0
    # ... and its real RGB-thermal half: the recipe from scratch and pretrained, on both sets
    from perception.paths import real_data_root
    if (real_data_root() / 'rgbt_det').is_dir():      # always under CI (other tests fail there)
        real = pre['real']
        assert set(real['rows']) == {'scratch', 'pretrained'}
        for rows in real['rows'].values():
            assert set(rows) == {'MSRS', 'LLVIP'} and set(rows['MSRS']) == {'RGB', 'thermal', 'RGB+T'}
        assert {'real pretraining', 'real scratch', 'real pretrained'} <= set(pre['training'])
    else:
        assert pre['real'] is None


@pytest.mark.slow
def test_real_rgbt_study_runs_end_to_end_in_quick_mode(tmp_path, capsys):
    """Every real RGB-thermal recipe trains (two iterations), is scored per validation set and
    sensor row, timed, and gives a display threshold and the night-frame figure."""
    from perception.commands import study as command
    from perception.studies import real_rgbt
    assert command.run(_args(tmp_path, 'real_rgbt')) == 0
    result = _check_quick_run(tmp_path, 'real_rgbt')
    real = result['real']['0']
    assert set(real) == set(real_rgbt.MODELS)
    assert set(real['RTMDet-tiny RGB']['MSRS']) == {'RGB'}
    assert set(real[real_rgbt.SHIPPED]['MSRS']) == {'RGB', 'thermal', 'RGB+T'}
    assert 'det/person/AP_50@night' in real[real_rgbt.SHIPPED]['MSRS']['RGB+T']
    assert set(result['synthetic']['0']) == {real_rgbt.SHIPPED, 'nano synthetic-only',
                                              real_rgbt.DEMO}
    assert 0.05 <= result['display']['thr'] <= 0.95
    assert set(result['costs']['models']) == set(real_rgbt.MODELS) - {'nano synthetic-only'}
    assert any('display threshold' in line.lower() for line in real_rgbt.goal_lines(result))


def _check_peers(peers):
    """Each peer is scored on its own task only, per condition; every model is timed at both
    sizes in both backends; the nano model is the one the other studies share."""
    from perception.studies import peers as study
    assert peers['training'][study.NANO]['reused']
    assert set(peers['metrics']) == {study.NANO, study.DEPTH, *study.PEERS}
    for name, (_, task, sensors) in study.PEERS.items():
        key = study.TASK_METRIC[task][0]
        metrics = peers['metrics'][name]
        assert key in metrics and {k.split('/')[0] for k in metrics} == {task}
        assert any(f'{key}@{c}' in metrics for c in peers['conditions'])
        assert peers['sensors'][name] == list(sensors) and peers['tasks'][name] == [task]
    assert peers['sizes'] == ['64x96', '256x320']
    for cost in peers['costs'].values():
        assert cost['params_m'] > 0.1
        for size in peers['sizes']:
            assert cost[size]['gmacs'] > 0.01
            assert all(cost[size][b] > 0 for b in study.BACKENDS)
    lines = study.goal_lines(peers)
    assert sum('Latency' in line for line in lines) == 4   # 2 sizes x 2 backends
    assert sum(line.startswith(('- mIoU', '- mAP@50')) for line in lines) == 4


def test_recipe_variants_differ_in_their_one_change_and_score_on_val(base, tmp_path, capsys,
                                                                     monkeypatch):
    """tools/analysis/study_variants.py (how nano's recipe was chosen): each variant changes one
    thing, ``nano`` is the study config itself, and the scores come from the val stream, with
    every sensor and then each sensor alone."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / 'tools/analysis/study_variants.py'
    spec = importlib.util.spec_from_file_location('study_variants', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    edit = {name: fn for name, (_, fn) in tool.VARIANTS.items()}
    assert config_hash(edit['nano'](base)) == config_hash(base)
    earlier = edit['earlier'](base)
    assert 'sensor_aux' in base.model and 'sensor_aux' not in earlier.model
    assert earlier.model.heads.det.strides == (8, 16, 32)
    assert edit['aux'](base).model.sensor_aux == base.model.sensor_aux
    assert len({config_hash(fn(base)) for fn in edit.values()}) == len(edit)
    from perception.studies import common
    splits, evaluate = [], common.evaluate
    monkeypatch.setattr(common, 'evaluate', lambda *a, **k: splits.append(k['split']) or
                        evaluate(*a, **k))
    assert tool.main(['earlier', 'aux', '--quick', '--work-dir', str(tmp_path)]) == 0
    results = json.load(open(tmp_path / 'variants.json'))
    assert set(results) == {'earlier', 'aux'}
    assert set(results['aux']) == {'all', 'rgb', 'thermal', 'depth'}
    assert 'seg/mIoU' in results['aux']['rgb']
    assert sum(line.startswith(('earlier', 'per-sensor'))
               for line in capsys.readouterr().out.splitlines()) == 2
    assert splits == ['val'] * 8
