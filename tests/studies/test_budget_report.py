"""Study 7's verdicts on hand-made results: which model leads at each schedule, in the metric's own
direction (AbsRel: lower is better), and whether the leader changes."""
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
    text = budget.summary(_result((-0.03, -0.01, 0.02), ((0.2, 0.18),) * 3))
    assert '| mIoU all sensors | 2000 | 0.470 | 0.450 | +0.020 |' in text and 'difference (left - right)' in text
    assert '| AbsRel | 500 | 0.200 | 0.180 | +0.020 |' in text
    assert text.count('| 500 |') == 6    # every schedule of every metric of both comparisons
