"""Study 7's verdicts on hand-made results: which model leads at each schedule, in the metric's own
direction (AbsRel: lower is better), whether the leader changes, and the mean of two seeds; and
the plain decoder's equal-latency widths, matched once per seed and setting; seeds of separate runs
joined into one result, the results kept beside the docs, and their recovery from a section."""
import json

import pytest

from perception.studies import budget, mnar
from perception.studies.multitask import EQUAL_PLAIN


def _result(fusion_gaps, abs_rel):
    """``fusion_gaps``: attention - concat mIoU per schedule (every pattern);
    ``abs_rel``: (MoE, plain) AbsRel per schedule."""
    metrics = {}
    for iters, gap, (moe, plain) in zip(('500', '1000', '2000'), fusion_gaps, abs_rel):
        at = metrics[iters] = {}
        at['concat + dropout'] = {p: {'seg/mIoU': 0.45} for p in mnar.TEST_PATTERNS}
        at['attention + dropout'] = {p: {'seg/mIoU': 0.45 + gap} for p in mnar.TEST_PATTERNS}
        for name, value in ((budget.MOE, moe), (EQUAL_PLAIN, plain)):
            at[name] = {'all conditions': {'seg/mIoU': 0.4, 'det/mAP_50': 0.3,
                                           'depth/AbsRel': value}}
    return dict(metrics=metrics, plain_decoder=dict(widths=[8] * 4, factor=1.0, source='x'),
                training={})


def test_the_leader_per_schedule_and_a_changing_order_are_named():
    lines = budget.order_lines(_result((-0.03, -0.01, 0.02), ((0.20, 0.18), (0.17, 0.18),
                                                              (0.16, 0.18))))
    fusion = [line for line in lines if 'Fusion, mIoU all sensors' in line]
    assert len(fusion) == 1
    assert ('500 it. concat + dropout by 0.030; 1000 it. concat + dropout by 0.010; '
            '2000 it. attention + dropout by 0.020 -- the order of 500 does not hold at 2000'
            ) in fusion[0]
    # AbsRel: the lower one leads -- the plain decoder at 500, the MoE from 1000 on
    depth = next(line for line in lines if 'AbsRel' in line)
    assert f'500 it. {EQUAL_PLAIN} by 0.020' in depth and '1000 it. MoE multi-task' in depth
    assert depth.endswith('does not hold at 2000')
    # mIoU and mAP@50 are equal at every schedule: ties, and a tie throughout holds
    assert '500 it. tie; 1000 it. tie; 2000 it. tie' in next(l for l in lines if 'mAP@50' in l)
    # the same leader everywhere, and back at the end after a change
    steady = budget.order_lines(_result((-0.02, -0.02, -0.01), ((0.2, 0.1),) * 3))
    assert all(line.endswith('the order holds at every schedule') for line in steady)
    back = budget.order_lines(_result((-0.02, 0.01, -0.01), ((0.2, 0.1),) * 3))
    assert back[0].endswith('the order holds at 2000, not at every schedule between')


def test_the_summary_tables_every_schedule_with_the_differences():
    text = budget.summary(dict(seeds=[0], runs={'0': _result((-0.03, -0.01, 0.02),
                                                             ((0.2, 0.18),) * 3)}))
    assert '| mIoU all sensors | 2000 | 0.470 | 0.450 | +0.020 |' in text and 'difference (left - right)' in text
    assert '| AbsRel | 500 | 0.200 | 0.180 | +0.020 |' in text
    assert text.count('| 500 |') == 6    # every schedule of every metric of both comparisons


def test_two_seeds_report_the_mean_with_each_seed_and_verdicts_on_both():
    seed0 = _result((-0.03, -0.01, 0.02), ((0.2, 0.18),) * 3)
    seed1 = _result((-0.01, -0.01, -0.01), ((0.2, 0.16),) * 3)
    result = dict(seeds=[0, 1], runs={'0': seed0, '1': seed1})
    mean = budget.mean_run(result)['metrics']
    assert abs(mean['2000']['attention + dropout']['all sensors']['seg/mIoU'] - 0.455) < 1e-9
    assert abs(mean['500'][EQUAL_PLAIN]['all conditions']['depth/AbsRel'] - 0.17) < 1e-9
    text = budget.summary(result)
    assert text.count('Seed 0.') == 1 and text.count('Seed 1.') == 1
    # the mean row carries each seed's value and gap: attention 0.470 / 0.440, concat 0.450 twice
    assert ('| Fusion: mIoU all sensors | 2000 | 0.455 (0.470 / 0.440) | 0.450 (0.450 / 0.450) '
            '| +0.005 (+0.020 / -0.010) |') in text
    # verdicts on the mean, then per seed: the seeds disagree at 2000
    on_mean = text.split('Who leads, on the mean:')[1].split('Who leads, seed 0:')[0]
    assert '2000 it. attention + dropout by 0.005' in on_mean
    per_seed = text.split('Who leads, seed 1:')[1]
    assert '2000 it. concat + dropout by 0.010' in per_seed


def test_the_equal_latency_widths_are_kept_per_seed_and_setting(tmp_path, monkeypatch):
    from perception.studies import multitask
    from perception.studies.common import Settings
    calls = []

    def match(base, settings, folder, log):
        calls.append(settings.seed)
        return dict(widths=[16 + settings.seed] * 4, factor=2.0 + settings.seed)

    monkeypatch.setattr(multitask, 'equal_latency_plain', match)
    seed0 = Settings(work_dir=str(tmp_path), seed=0)
    first = budget.decoder_widths(seed0, log=lambda m: None)
    assert calls == [0] and first['widths'] == [16] * 4 and first['source'].startswith('matched')
    # the next run with the same seed and setting reuses the match: no timing
    again = budget.decoder_widths(seed0, log=lambda m: None)
    assert calls == [0] and again == first
    # another seed, or another setting of the same seed, is matched anew
    assert budget.decoder_widths(Settings(work_dir=str(tmp_path), seed=1),
                                 log=lambda m: None)['factor'] == 3.0
    budget.decoder_widths(Settings(work_dir=str(tmp_path), seed=0, batch_size=4),
                          log=lambda m: None)
    assert calls == [0, 1, 0]


def _ran(result, seed, command, **settings):
    """``result`` as one run of ``seed`` returns it, with the run record the command adds."""
    import dataclasses

    from perception.studies.common import Settings
    run = dict(result, seconds=60.0 * (seed + 1))
    return dict(seeds=[seed], runs={str(seed): run}, run=dict(
        settings=dataclasses.asdict(Settings(seeds=(seed, ), **settings)), command=command,
        seconds=99.0, date='2026-12-06', cpus=2, cpu=f'cpu of seed {seed}'))


def test_a_run_of_new_seeds_joins_the_kept_ones_of_the_same_setting():
    seed0 = budget.join(None, _ran(_result((-0.03, -0.01, 0.02), ((0.2, 0.18),) * 3), 0,
                                   'python tools/study.py budget --seeds 0'))
    # alone: the seed is stamped with its run (command, day, CPU, its own wall time)
    assert seed0['seeds'] == [0] and seed0['runs']['0']['run'] == dict(
        command='python tools/study.py budget --seeds 0', date='2026-12-06', cpu='cpu of seed 0',
        cpus=2, seconds=60.0)
    said = []
    both = budget.join(seed0, _ran(_result((0.01, 0.01, 0.01), ((0.2, 0.16),) * 3), 2,
                                   'python tools/study.py budget --seeds 2'), log=said.append)
    assert both['seeds'] == [0, 2] and both['run']['settings']['seeds'] == [0, 2]
    assert both['runs']['0']['run']['cpu'] == 'cpu of seed 0'     # each seed keeps its record
    assert both['runs']['2']['run']['seconds'] == 180.0
    assert 'seeds 0 joined' in said[0] and 'holds seeds 0, 2' in said[0]
    # a seed run again replaces the kept one; a kept result of another setting is not joined
    again = budget.join(both, _ran(_result((0.05,) * 3, ((0.2, 0.1),) * 3), 0, 'again'))
    assert again['seeds'] == [0, 2] and again['runs']['0']['run']['command'] == 'again'
    said.clear()
    other = budget.join(both, _ran(_result((0.05,) * 3, ((0.2, 0.1),) * 3), 1, 'longer',
                                   iters=1000), log=said.append)
    assert other['seeds'] == [1] and 'differ in iters: not joined' in said[0]
    # a kept seed that lacks a model this run scored is named, not joined with a hole
    del both['runs']['0']['metrics']['1000'][EQUAL_PLAIN]
    with pytest.raises(ValueError, match=f"seed 0 has no {EQUAL_PLAIN} at 1000 iterations"):
        budget.join(both, _ran(_result((0.05,) * 3, ((0.2, 0.1),) * 3), 1, 'third'))


def test_three_seeds_count_who_leads_and_say_where_each_seed_came_from():
    runs = [_result(gaps, abs_rel) for gaps, abs_rel in (
        ((-0.03, -0.01, 0.02), ((0.2, 0.18),) * 3), ((-0.01, 0.0, -0.01), ((0.2, 0.16),) * 3),
        ((-0.02, 0.01, 0.01), ((0.1, 0.16),) * 3))]
    result = None
    for seed, run in enumerate(runs):
        result = budget.join(result, _ran(run, seed,
                                          f'python tools/study.py budget --seeds {seed}'))
    result['runs']['0']['run']['recovered'] = 'recovered from a doc'
    table = budget.agreement_table(result)
    assert ('| Fusion: mIoU all sensors | baseline 3 | design 1, baseline 1, tie 1 | '
            'design 2, baseline 1 |') in table
    assert '| Decoder: AbsRel | baseline 2, design 1 |' not in table   # design counted first
    assert '| Decoder: AbsRel | design 1, baseline 2 |' in table
    from perception.studies.common import Settings
    md = budget.markdown(result, Settings(**result['run']['settings']), 'unused', 'images')
    assert 'Command: `python tools/study.py budget`' in md           # the three seeds: the recipe
    assert 'seeds 0, 1, 2, 280 held-out' in md
    assert ('- seed 0: `python tools/study.py budget --seeds 0`, 2026-12-06, cpu of seed 0, '
            '1.0 min (recovered from a doc)') in md
    assert '- seed 2: `python tools/study.py budget --seeds 2`' in md
    assert budget.full_command([0, 2]) == 'python tools/study.py budget --seeds 0 2'


def test_the_kept_results_render_when_the_work_dir_is_gone(tmp_path, capsys):
    """write_docs keeps the results beside the doc; --render falls back to them."""
    import argparse

    from perception.commands import study as command
    from perception.studies.common import Settings
    result = budget.join(None, _ran(_result((-0.03, -0.01, 0.02), ((0.2, 0.18),) * 3), 0,
                                    'python tools/study.py budget --seeds 0'))
    doc = tmp_path / 'docs' / 'results.md'
    (tmp_path / 'ran').mkdir()
    figures = budget.figures(result, str(tmp_path / 'ran'))
    command.write_docs(budget, result, Settings(), figures, str(doc))
    kept = tmp_path / 'docs' / 'study_results' / 'budget.json'
    assert json.loads(kept.read_text())['runs']['0']['metrics'] == result['runs']['0']['metrics']
    before = doc.read_text()
    doc.write_text('# Results\n')
    args = argparse.Namespace(study='budget', quick=False, seed=0, iters=None, test_frames=None,
                              work_dir=str(tmp_path / 'gone'), doc=str(doc), no_docs=False,
                              render=True, seeds=None)
    assert command.run(args) == 0
    assert f'rendering from {kept}' in capsys.readouterr().out
    assert doc.read_text() == before


def test_the_recovery_reads_back_what_a_section_shows(tmp_path):
    """tools/analysis/recover_study_results.py: the section's per-seed tables, training times and
    widths back to results (at the tables' 3 decimals), every seed marked recovered."""
    import importlib.util
    from pathlib import Path

    from perception.studies.common import Settings
    from perception.studies.report import splice_section
    path = Path(__file__).resolve().parents[2] / 'tools/analysis/recover_study_results.py'
    spec = importlib.util.spec_from_file_location('recover_study_results', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    result = None
    for seed, gaps in ((0, (-0.03125, -0.01, 0.02)), (1, (0.01, 0.0, -0.01))):
        ran = _ran(_result(gaps, ((0.2, 0.18),) * 3), seed, 'python tools/study.py budget')
        ran['runs'][str(seed)]['training'] = {'MoE multi-task at 500 it.': dict(seconds=12.4,
                                                                                reused=False)}
        result = budget.join(result, ran)
    doc = tmp_path / 'results.md'
    body = budget.markdown(result, Settings(seeds=(0, 1)), 'unused', 'images')
    splice_section(str(doc), 'budget', body + '\nWall time of this study: 1.0 min on 2 CPU cores '
                   '(2026-12-06).\n')
    back = tool.recover(str(doc))
    assert back['seeds'] == [0, 1] and list(back['run']['settings']['seeds']) == [0, 1]
    for seed in ('0', '1'):
        ours, theirs = result['runs'][seed]['metrics'], back['runs'][seed]['metrics']
        for iters, models in ours.items():
            for model, patterns in models.items():
                for pattern, values in patterns.items():
                    for key, value in values.items():
                        assert theirs[iters][model][pattern][key] == round(value, 3)
        assert back['runs'][seed]['training'] == {'MoE multi-task at 500 it.': dict(
            seconds=12.0, reused=False)}
        assert back['runs'][seed]['plain_decoder'] == result['runs'][seed]['plain_decoder']
        assert 'recovered from the tables' in back['runs'][seed]['run']['recovered']
    # another setting is refused, naming it
    splice_section(str(doc), 'budget', body.replace('at batch 8', 'at batch 4') +
                   '\nWall time of this study: 1.0 min on 2 CPU cores (2026-12-06).\n')
    with pytest.raises(SystemExit, match='batch 4'):
        tool.recover(str(doc))
