"""Figures that several documents state are stated once and cited (issue 26 item 5).

The demo's time is measured in docs/demo.md (the `time: train ... total ... s (N iterations)` line of
its run); the README's quick start and its "What `make demo` does today", the demo schedule's comment,
the Makefile, CONTRIBUTING.md and the slow demo test quote those seconds and no other demo time, and
the iteration count of that run is the schedule's. Re-measure the demo, change docs/demo.md, and this
test names every place that still quotes the old figure.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _demo_run():
    text = (ROOT / 'docs' / 'demo.md').read_text()
    m = re.search(r'time: train (\d+) s, test \d+ s, overlays \d+ s, total (\d+) s \((\d+) iterations\)',
                  text)
    assert m, "docs/demo.md: no 'time: train N s, ... total N s (N iterations)' line"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def test_demo_run_is_the_schedule_the_demo_trains():
    schedule = (ROOT / 'configs' / '_base_' / 'schedules' / 'schedule_demo.py').read_text()
    train, _, iters = _demo_run()
    line = re.search(r'^max_iters = (\d+)\s*#(.*)$', schedule, re.M)
    assert int(line.group(1)) == iters, 'docs/demo.md measured another iteration count'
    assert f'{train} s' in line.group(2) and 'docs/demo.md' in line.group(2), line.group(2)


def test_every_demo_time_is_the_measured_one():
    train, total, _ = _demo_run()
    readme = (ROOT / 'README.md').read_text()
    quick = next(line for line in readme.splitlines() if line.startswith('make demo'))
    assert f'{total} s' in quick and 'docs/demo.md' in quick, quick
    today = readme[readme.index('**What `make demo` does today**'):]
    today = today[:today.index('\n\n')]
    assert f'{train} s of the {total} s' in today and 'docs/demo.md' in today, today
    for path in ('README.md', 'Makefile', 'CONTRIBUTING.md', 'tests/engine/test_demo.py',
                 'configs/_base_/schedules/schedule_demo.py'):
        text = (ROOT / path).read_text()
        # a demo time in minutes, in the same sentence as the word demo
        for quoted in re.findall(r'demo[^.;]*?~\s*\d+(?:\.\d+)? min', text):
            raise AssertionError(f'{path} quotes the demo as {quoted!r}; cite docs/demo.md\'s '
                                 f'{total} s instead')
    for path in ('Makefile', 'CONTRIBUTING.md', 'tests/engine/test_demo.py'):
        assert f'{total} s' in (ROOT / path).read_text(), f'{path}: no {total} s'
