"""The real RGB-thermal study's two-seed report (perception/studies/real_rgbt.py): the table of
means with each seed's value, and the goals judged on the mean -- from a hand-made result, so the
arithmetic and the verdicts are checked without training anything."""
from perception.studies import real_rgbt

ROWS = {'RGB': 0.1, 'thermal': 0.6, 'RGB+T': 0.62}     # seed 0; seed 1 adds ``shift``


def _scores(base: float, shift: float):
    """One row's metrics: person AP@50 on all / night / day frames."""
    value = base + shift
    return {'det/person/AP_50': value, 'det/person/AP_50@night': value + 0.1,
            'det/person/AP_50@day': value - 0.2, 'det/mAP_50': value / 2}


def _result(shift: float, fused_night_bonus: float):
    real = {}
    for seed, s in (('0', 0.0), ('1', shift)):
        models = {}
        for model in real_rgbt.MODELS:
            rows = {'RGB': ROWS['RGB']} if model.startswith('RTMDet-tiny RGB') and \
                '4-ch' not in model else ROWS
            sets = {name: {row: _scores(v, s) for row, v in rows.items()}
                    for name in ('MSRS', 'LLVIP')}
            models[model] = sets
        fused = models[real_rgbt.SHIPPED]['MSRS']['RGB+T']
        fused['det/person/AP_50@night'] += fused_night_bonus
        real[seed] = models
    return {'seeds': [0, 1], 'real': real}


def test_seeds_table_gives_the_mean_and_each_seed():
    table = real_rgbt.seeds_table(_result(shift=-0.1, fused_night_bonus=0.0))
    shipped = next(line for line in table.splitlines()
                   if line.startswith(f'| {real_rgbt.SHIPPED} | RGB+T |'))
    # MSRS all: 0.62 and 0.52 -> 0.570; night +0.1; day -0.2; LLVIP as MSRS all
    assert shipped.split(' | ')[2:] == ['0.570 (0.620 / 0.520)', '0.670 (0.720 / 0.620)',
                                        '0.370 (0.420 / 0.320)', '0.570 (0.620 / 0.520) |']
    assert '| RTMDet-tiny RGB | RGB |' in table and '| RTMDet-tiny RGB | RGB+T |' not in table


def test_mean_goals_follow_the_mean_not_one_seed():
    lines = real_rgbt.mean_goal_lines(_result(shift=-0.1, fused_night_bonus=0.0))
    assert lines[0].startswith('- mean of 2 seeds') and '0.570' in lines[0]
    assert '**not met**, 0.030 short' in lines[0]
    night, day = lines[1], lines[2]
    assert '+0.020' in night and '**not met**' in night        # fused - thermal = 0.02 < 0.05
    assert '+0.020' in day and '**met**' in day
    # a fused model that gains 0.1 at night on both seeds meets the night goal
    night = real_rgbt.mean_goal_lines(_result(shift=-0.1, fused_night_bonus=0.1))[1]
    assert '+0.120' in night and '**met**' in night
    # every comparison model is named, each with its verdict
    assert sum(line.startswith('  - vs ') for line in lines) == 4
