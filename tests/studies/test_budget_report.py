"""Study 7's verdicts on hand-made results: which model leads at each schedule, in the metric's own
direction (AbsRel: lower is better), whether the leader changes, and the mean of two seeds; and
the plain decoder's equal-latency widths, matched once per seed and setting."""
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
