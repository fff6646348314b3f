"""Plain-text, fixed-width tables of evaluation results (logs, CI output, the README).

Plain text is the default because it survives every log file and terminal; ``to_rich`` gives the
same cells as a ``rich`` table for interactive use. Values print with 4 decimals (metrics are
fractions, AbsRel a ratio, RMSE metres), counts as integers, NaN as ``n/a`` (no frame had the target).
"""
from __future__ import annotations

import math
import numbers
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

#: The columns of a subsets x metrics or conditions x metrics matrix, in reading order.
HEADLINE_KEYS: Tuple[str, ...] = ('seg/mIoU', 'seg/aAcc', 'det/mAP', 'det/mAP_50', 'det/mAP_75',
                                  'depth/AbsRel', 'depth/RMSE', 'depth/delta1')
GROUP_SEPARATOR = '@'
PER_CLASS = {'seg/IoU.': 'IoU', 'det/AP.': 'AP'}


def format_value(value) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, numbers.Integral):  # counts (bool is Integral too; prints True/False)
        return str(value)
    value = float(value)
    return 'n/a' if math.isnan(value) else f'{value:.4f}'


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 title: Optional[str] = None) -> str:
    """Fixed-width table: first column left-aligned (names), the others right-aligned (numbers)."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    if any(len(r) != len(header) for r in cells):
        raise ValueError('every row needs one cell per header column')
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return ('| ' + ' | '.join(parts) + ' |')

    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    out = ([title] if title else []) + [rule, line(cells[0]), rule]
    out += [line(r) for r in cells[1:]] + [rule]
    return '\n'.join(out)


def format_metrics(metrics: Mapping[str, float], title: Optional[str] = None) -> str:
    """Two columns, one metric a row, in the dict's order."""
    return format_table(('metric', 'value'),
                        [(k, format_value(v)) for k, v in metrics.items()], title)


def matrix_cells(rows: Mapping[str, Mapping[str, float]], columns: Optional[Sequence[str]] = None,
                 row_header: str = 'subset') -> Tuple[List[str], List[List[str]]]:
    """Header and body of a rows x metrics matrix. ``columns`` defaults to the ``HEADLINE_KEYS``
    present in any row, else to every key in first-seen order; a missing cell prints ``n/a``."""
    if columns is None:
        seen = {k: None for r in rows.values() for k in r}
        columns = [k for k in HEADLINE_KEYS if k in seen] or list(seen)
    header = [row_header] + list(columns)
    body = [[name] + [format_value(r.get(c)) for c in columns] for name, r in rows.items()]
    return header, body


def format_matrix(rows: Mapping[str, Mapping[str, float]], columns: Optional[Sequence[str]] = None,
                  row_header: str = 'subset', title: Optional[str] = None) -> str:
    """E.g. the 7 sensor subsets of ``tools/test.py --modality-subsets`` x the headline metrics."""
    header, body = matrix_cells(rows, columns, row_header)
    return format_table(header, body, title)


def split_groups(metrics: Mapping[str, float]) -> Tuple[Dict[str, float], Dict[str, Dict[str, float]]]:
    """``{'seg/mIoU': a, 'seg/mIoU@night': b}`` -> ``({'seg/mIoU': a}, {'night': {'seg/mIoU': b}})``."""
    overall: Dict[str, float] = {}
    groups: Dict[str, Dict[str, float]] = {}
    for key, value in metrics.items():
        name, sep, label = key.partition(GROUP_SEPARATOR)
        if sep:
            groups.setdefault(label, {})[name] = value
        else:
            overall[key] = value
    return overall, groups


def format_report(metrics: Mapping[str, float]) -> str:
    """Everything ``MultiTaskMetric`` returns: overall metrics, per-class tables, group matrix."""
    overall, groups = split_groups(metrics)
    headline = {k: v for k, v in overall.items() if not any(k.startswith(p) for p in PER_CLASS)}
    parts = [format_metrics(headline, 'Evaluation')]
    for prefix, column in PER_CLASS.items():
        per_class = {k[len(prefix):]: v for k, v in overall.items() if k.startswith(prefix)}
        if per_class:
            parts.append(format_table(('class', column),
                                      [(c, format_value(v)) for c, v in per_class.items()],
                                      f'{prefix.split("/")[0]} {column} per class'))
    if groups:
        parts.append(format_matrix(groups, row_header='group', title='By group'))
    return '\n\n'.join(parts)


def to_rich(header: Sequence[str], rows: Sequence[Sequence[str]], title: Optional[str] = None):
    """The same cells as a ``rich.table.Table`` (rich ships with mmengine; imported on use only)."""
    from rich.table import Table
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(str(name), justify='left' if i == 0 else 'right')
    for row in rows:
        table.add_row(*map(str, row))
    return table
