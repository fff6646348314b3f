#!/usr/bin/env python
"""Rebuild study 7's kept results (``docs/study_results/budget.json``) from its section of
docs/results.md, for runs whose results.json was lost with the machine that ran them.

    python tools/analysis/recover_study_results.py [--doc docs/results.md] [--out FILE]

Before study results were kept beside the docs (``docs/study_results/``), a study's results.json
lived only in its work dir; sessions run on machines that do not outlive them, so study 7's seeds 0
and 1 (2026-12-06, Intel Xeon with AMX) survive only as the per-seed tables of its section. This
reads those tables back -- the values the verdicts use, at the tables' 3 decimals -- with each
seed's training times and equal-latency widths, and marks every recovered seed as such
(``run.recovered``): a later ``python tools/study.py budget --seeds N`` joins its new seed to them
and the section says which seeds were recovered. Fails, naming the line, where the section is not
in the shape study 7 writes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from perception.studies import budget  # noqa: E402
from perception.studies.common import Settings  # noqa: E402


def _section(text: str) -> str:
    match = re.search(r'<!-- study:budget:begin -->(.*?)<!-- study:budget:end -->', text, re.S)
    if not match:
        raise SystemExit('no study 7 section (<!-- study:budget:begin --> ... end) in the doc')
    return match.group(1)


def _seed_blocks(section: str) -> dict:
    """``{seed: text}``: each 'Seed N.' block of tables, up to the next one or the mean table."""
    parts = re.split(r'^Seed (\d+)\.\s*$', section, flags=re.M)
    blocks = {}
    for seed, body in zip(parts[1::2], parts[2::2]):
        blocks[int(seed)] = body.split('Mean of seeds')[0]
    if not blocks:
        raise SystemExit('no "Seed N." tables in the study 7 section')
    return blocks


def _metrics(block: str, seed: int) -> dict:
    metrics: dict = {}
    for (title, baseline, design, columns), table in zip(
            budget.COMPARISONS, re.split(r'^(?:Fusion|Decoder) \(.*\):\s*$', block,
                                         flags=re.M)[1:]):
        rows = [line for line in table.splitlines() if re.match(r'\| [^-]', line)][1:]
        if len(rows) != len(columns) * len(budget.FACTORS):
            raise SystemExit(f'seed {seed}, {title}: {len(rows)} rows, expected '
                             f'{len(columns) * len(budget.FACTORS)}')
        for row in rows:
            label, iters, left, right, _ = [c.strip() for c in row.strip('|').split('|')]
            pattern, key = columns[label]
            at = metrics.setdefault(iters, {})
            for model, value in ((design, left), (baseline, right)):
                at.setdefault(model, {}).setdefault(pattern, {})[key] = float(value)
    return metrics


def _training(section: str, seed: int) -> dict:
    line = re.search(rf'^Seed {seed}\. Training wall time per model.*$', section, re.M)
    if not line:
        raise SystemExit(f'no training line for seed {seed}')
    every = 'every one trained by an earlier run' in line.group(0)
    body = line.group(0).split(': ', 1)[1].rsplit(';', 1)[0]
    out = {}
    for part in body.split('; '):
        name, seconds = re.match(r'(.+ at \d+ it\.) (\d+) s', part).groups()
        out[name] = dict(seconds=float(seconds), reused=every or 'reused' in part)
    return out


def _widths(section: str, seed: int) -> dict:
    match = re.search(rf'seed {seed}: ([\d.]+)x, \(([\d, ]+)\) \(([^)]+)\)', section)
    if not match:
        raise SystemExit(f'no plain decoder widths for seed {seed}')
    return dict(widths=[int(w) for w in match.group(2).split(',')],
                factor=float(match.group(1)), source=match.group(3))


def _found(pattern: str, section: str, what: str) -> str:
    match = re.search(pattern, section, re.M)
    if not match:
        raise SystemExit(f'no {what} in the study 7 section')
    return match.group(1)


def recover(doc: str) -> dict:
    section = _section(Path(doc).read_text())
    said = _found(r'^Setting: (.*?); each schedule', section, '"Setting: ..." line')
    command = _found(r'^Command: `([^`]+)`', section, '"Command: ..." line')
    date = _found(r'Wall time of this study: .* \((\d{4}-\d\d-\d\d)\)', section,
                  '"Wall time of this study" line')
    runs = {}
    for seed, block in sorted(_seed_blocks(section).items()):
        training = _training(section, seed)
        runs[str(seed)] = dict(
            metrics=_metrics(block, seed), plain_decoder=_widths(section, seed),
            training=training,
            run=dict(command=command, date=date, cpu='Intel Xeon with AMX (2 cores)',
                     seconds=sum(t['seconds'] for t in training.values()),
                     recovered=f'recovered from the tables of {doc} ({date}; 3 decimals): the '
                               'run\'s results.json was not kept; its time is the sum of its '
                               'models\' training times'))
    seeds = [int(s) for s in runs]
    settings = Settings(seeds=tuple(seeds))   # the defaults: checked against the section's words
    if budget.describe(settings) != said:
        raise SystemExit(f'the section\'s setting "{said}" is not the default one '
                         f'"{budget.describe(settings)}": recover by hand')
    return dict(seeds=seeds, runs=runs,
                run=dict(settings=dataclasses.asdict(settings), command=command, date=date,
                         cpus=2,
                         seconds=sum(r['run']['seconds'] for r in runs.values())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--doc', default='docs/results.md')
    parser.add_argument('--out', default='docs/study_results/budget.json')
    args = parser.parse_args()
    result = recover(args.doc)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + '\n')
    print(f'seeds {result["seeds"]} recovered from {args.doc} -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
