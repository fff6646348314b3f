"""Result tables: fixed width, readable values, the 7-row subsets matrix, the metric's report."""
import math

import pytest

from perception.evaluation import (HEADLINE_KEYS, format_matrix, format_metrics, format_report,
                                   format_table, split_groups, to_rich)

SUBSETS = ('rgb', 'thermal', 'depth', 'rgb+thermal', 'rgb+depth', 'thermal+depth',
           'rgb+thermal+depth')


def _is_fixed_width(text):
    lines = [ln for ln in text.splitlines() if ln.startswith(('|', '+'))]
    return len({len(ln) for ln in lines}) == 1


def test_values_are_formatted():
    text = format_metrics({'seg/mIoU': 0.123456, 'depth/RMSE': float('nan'), 'seg/num_samples': 7})
    assert '0.1235' in text and 'n/a' in text and '| seg/num_samples |' in text
    assert '7.0000' not in text  # counts print as integers
    assert _is_fixed_width(text)


def test_subsets_matrix_has_seven_rows_and_headline_columns():
    rows = {s: {k: i / 10 for k in HEADLINE_KEYS} for i, s in enumerate(SUBSETS)}
    rows['thermal'] = {'seg/mIoU': 0.5}  # missing cells print n/a
    text = format_matrix(rows, title='modality subsets')
    lines = text.splitlines()
    assert lines[0] == 'modality subsets'
    assert lines[2].split('|')[1].strip() == 'subset'
    assert [c.strip() for c in lines[2].split('|')[2:-1]] == list(HEADLINE_KEYS)
    body = [ln for ln in lines[4:] if ln.startswith('|')]
    assert [ln.split('|')[1].strip() for ln in body] == list(SUBSETS)
    assert body[1].count('n/a') == len(HEADLINE_KEYS) - 1
    assert _is_fixed_width(text)


def test_matrix_column_selection_and_fallback():
    text = format_matrix({'a': {'x': 1.0, 'y': 2.0}}, row_header='run')  # no headline key: all keys
    assert '| run |' in text and 'x' in text and 'y' in text
    assert 'y' not in format_matrix({'a': {'x': 1.0, 'y': 2.0}}, columns=['x'])


def test_split_groups():
    overall, groups = split_groups({'seg/mIoU': 0.5, 'seg/mIoU@night': 0.3, 'det/mAP@rgb+depth': 0.2})
    assert overall == {'seg/mIoU': 0.5}
    assert groups == {'night': {'seg/mIoU': 0.3}, 'rgb+depth': {'det/mAP': 0.2}}


def test_report_sections():
    metrics = {'seg/mIoU': 0.5, 'seg/IoU.road': 0.9, 'seg/IoU.car': math.nan, 'det/mAP': 0.2,
               'det/AP.car': 0.25, 'seg/mIoU@day': 0.6, 'seg/mIoU@night': 0.4}
    text = format_report(metrics)
    assert 'seg IoU per class' in text and 'det AP per class' in text and 'By group' in text
    evaluation = text.split('\n\n')[0]
    assert 'IoU.road' not in evaluation and 'seg/mIoU' in evaluation
    assert '| night |' in text


def test_table_rejects_ragged_rows_and_renders_with_rich():
    with pytest.raises(ValueError, match='one cell per header'):
        format_table(('a', 'b'), [('1', )])
    table = to_rich(('subset', 'seg/mIoU'), [('rgb', '0.5000')], title='t')
    assert [c.header for c in table.columns] == ['subset', 'seg/mIoU'] and table.row_count == 1
