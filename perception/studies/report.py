"""Markdown tables, matplotlib figures and the splicing of a study's section into docs/results.md.

Each study owns one section of ``docs/results.md``, between ``<!-- study:NAME:begin -->`` and
``<!-- study:NAME:end -->``; rerunning a study replaces its section and leaves the others alone.
"""
from __future__ import annotations

import math
import os
import os.path as osp
import re
from typing import Dict, Mapping, Optional, Sequence

#: Headline metrics: (metric key, short label, True if higher is better).
HEADLINE = (('seg/mIoU', 'mIoU', True), ('det/mAP_50', 'mAP@50', True),
            ('depth/AbsRel', 'AbsRel', False), ('depth/delta1', 'δ1', True))


def direction(key: str) -> int:
    """+1 where a higher ``key`` is better, -1 where lower is (AbsRel); +1 for keys not listed."""
    return next((1 if up else -1 for k, _, up in HEADLINE if k == key), 1)


def fmt(value: Optional[float], digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:.{digits}f}'


def signed(value: Optional[float], digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return f'{value:+.{digits}f}'


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(['---'] * len(header)) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def metric_rows(results: Mapping[str, Mapping[str, float]], metrics=HEADLINE,
                suffix: str = '') -> list:
    """One row per entry of ``results``: its name, then each metric (``suffix`` e.g. '@night')."""
    return [[name] + [fmt(r.get(key + suffix)) for key, _, _ in metrics]
            for name, r in results.items()]


def metric_header(first: str, metrics=HEADLINE) -> list:
    return [first] + [f'{label} {"↑" if up else "↓"}' for _, label, up in metrics]


def pyplot():
    """matplotlib without a display (CI machines, robots over ssh)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, folder: str, name: str) -> str:
    """Lay out, write as PNG (90 dpi keeps the committed images small) and free a figure."""
    fig.tight_layout()
    path = osp.join(folder, name)
    fig.savefig(path, dpi=90)
    pyplot().close(fig)
    return path


def heatmap(ax, values, row_labels, col_labels, title: str, higher_is_better: bool) -> None:
    import numpy as np
    data = np.asarray(values, dtype=float)
    cmap = 'viridis' if higher_is_better else 'viridis_r'
    im = ax.imshow(data, cmap=cmap, aspect='auto')
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=35, ha='right', fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    ax.set_title(title, fontsize=10)
    finite = data[np.isfinite(data)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = data[i, j]
            dark = (v < mid) if higher_is_better else (v > mid)
            ax.text(j, i, 'n/a' if not np.isfinite(v) else f'{v:.2f}', ha='center', va='center',
                    fontsize=7, color='white' if dark else 'black')
    ax.figure.colorbar(im, ax=ax, fraction=0.04)


def splice_section(doc_path: str, name: str, body: str) -> None:
    """Put ``body`` between the study's markers in ``doc_path`` (appended if they are absent)."""
    begin, end = f'<!-- study:{name}:begin -->', f'<!-- study:{name}:end -->'
    block = f'{begin}\n{body.strip()}\n{end}'
    text = open(doc_path).read() if osp.isfile(doc_path) else '# Results\n'
    pattern = re.compile(re.escape(begin) + '.*?' + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip('\n') + '\n\n' + block + '\n'
    os.makedirs(osp.dirname(doc_path) or '.', exist_ok=True)
    with open(doc_path, 'w') as f:
        f.write(text)


def minutes(seconds: float) -> str:
    return f'{seconds / 60:.1f} min'


def training_lines(training: Dict[str, Mapping]) -> str:
    """How long each model took to train (or that an identical model trained by an earlier run, of
    this study or another, was reused), and the sum."""
    every = bool(training) and all(t['reused'] for t in training.values())
    reused = '' if every else ' (trained by an earlier run, reused)'
    parts = [f"{name} {t['seconds']:.0f} s" + (reused if t['reused'] else '')
             for name, t in training.items()]
    total = minutes(sum(t['seconds'] for t in training.values()))
    return ('Training wall time per model' + (' (every one trained by an earlier run of its '
                                              'config and reused here)' if every else '') + ': '
            + '; '.join(parts) + f'; {total} in all.')
