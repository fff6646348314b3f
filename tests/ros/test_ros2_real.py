"""The tests that need rclpy (tests/ros/real) against a real ROS 2: the minimal Jazzy that
tools/ros2/setup_ros2.sh builds from ../shared/ros2 (rclpy, rmw_cyclonedds_cpp, launch_ros, ...).

Its environment has to be sourced before Python starts (the dynamic linker reads LD_LIBRARY_PATH only
then), so the real tests run in one pytest subprocess with it sourced, and each reports here under its
own name. Without the build they skip with the reason; under ``PERCEPTION_ROS2_REQUIRED=1`` (make
test-ros, CI) they fail instead, and so does a real test that skips inside the subprocess. In a shell
that sourced a ROS 2 install, ``pytest tests/ros/real`` runs them directly (and this module skips).
"""
import ast
import importlib.util
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import ros2_env

REAL = Path(__file__).resolve().parent / 'real'
REPO = REAL.parents[2]
TIMEOUT_S = 540          # under pytest-timeout's 600 s for the first test, which runs them all


#: Marks that select tests (pyproject.toml): a real test carrying one carries it here too, so that
#: ``-m`` picks the same tests in this run as in the subprocess, which gets the same ``-m``.
SELECTING_MARKS = ('slow', 'timing')


def real_tests():
    """``file::function`` of every test in tests/ros/real, read from the sources (no rclpy here),
    with its selecting marks (``@pytest.mark.timing``...)."""
    return [pytest.param(f'{path.stem}::{node.name}', id=f'{path.stem}::{node.name}',
                         marks=[getattr(pytest.mark, m) for m in marks_of(node)])
            for path in sorted(REAL.glob('test_*.py'))
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith('test_')]


def marks_of(function: ast.FunctionDef):
    for decorator in function.decorator_list:
        d = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (isinstance(d, ast.Attribute) and isinstance(d.value, ast.Attribute)
                and d.value.attr == 'mark' and d.attr in SELECTING_MARKS):
            yield d.attr


@pytest.fixture(scope='module')
def real_run(request, tmp_path_factory):
    if importlib.util.find_spec('rclpy') is not None:
        pytest.skip('rclpy is importable here: tests/ros/real are collected directly in this run')
    script = ros2_env.env_script()
    if script is None:
        if ros2_env.required():
            pytest.fail(ros2_env.missing_reason())
        pytest.skip(ros2_env.missing_reason())
    this_python = '{}.{}'.format(*sys.version_info[:2])
    if ros2_env.python_version() != this_python:
        (pytest.fail if ros2_env.required() else pytest.skip)(
            f'the ROS 2 build at {ros2_env.prefix()} is for Python {ros2_env.python_version()}, '
            f'this is Python {this_python}')
    out = tmp_path_factory.mktemp('ros2_real')
    junit, log = out / 'junit.xml', out / 'pytest.log'
    # the marker selection of this run (make test: not timing; make test-ros: timing too)
    markexpr = request.config.getoption('markexpr') or ''
    cmd = ros2_env.sourced([sys.executable, '-m', 'pytest', str(REAL), '-p', 'no:cacheprovider',
                            '-q', '-s', '-rA', '-m', markexpr, f'--junitxml={junit}'], script)
    with log.open('w') as stream:
        try:
            rc = subprocess.run(cmd, cwd=REPO, stdout=stream, stderr=subprocess.STDOUT,
                                timeout=TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            pytest.fail(f'tests/ros/real did not finish in {TIMEOUT_S} s; output: {log}')
    text = log.read_text()
    figures = [line for line in text.splitlines() if line.startswith(('[rclpy:', '[dds:'))]
    print(f'\ntests/ros/real with {script} (exit {rc}); output: {log}', *figures, sep='\n')
    if not junit.is_file():
        pytest.fail(f'tests/ros/real did not run (exit {rc}):\n{text[-4000:]}')
    results = {}
    for case in ET.parse(junit).getroot().iter('testcase'):
        key = f"{case.get('classname').rsplit('.', 1)[-1]}::{case.get('name').split('[')[0]}"
        outcome = next(((c.tag, c.get('message') or '', c.text or '') for c in case
                        if c.tag in ('failure', 'error', 'skipped')), ('passed', '', ''))
        results.setdefault(key, []).append((case.get('name'), *outcome))
    return results, log


@pytest.mark.parametrize('test_id', real_tests())
def test_on_real_ros2(real_run, test_id):
    results, log = real_run
    cases = results.get(test_id)
    assert cases, f'{test_id} did not run in tests/ros/real (see {log})'
    bad = [c for c in cases if c[1] in ('failure', 'error')]
    if bad:
        pytest.fail('\n\n'.join(f'{name}: {message}\n{detail}' for name, _, message, detail in bad)
                    + f'\n(full output: {log})', pytrace=False)
    skipped = [c for c in cases if c[1] == 'skipped']
    if skipped and ros2_env.required():      # make test-ros, CI: the real ROS 2 is there to be used
        pytest.fail('\n'.join(f'{name} skipped on the real ROS 2 under {ros2_env.REQUIRED_ENV}=1: '
                               f'{message}' for name, _, message, _ in skipped)
                    + f'\n(full output: {log})', pytrace=False)
    if len(skipped) == len(cases):
        pytest.skip(cases[0][2])


def test_real_tests_carry_their_selecting_marks():
    """A wall-clock test in tests/ros/real is marked timing here as well: `make test` leaves it out
    of both runs, `make test-ros` (and `-m timing`) runs it in the subprocess too."""
    marks = {p.values[0]: {m.name for m in p.marks} for p in real_tests()}
    assert marks['test_ros2_launch::test_dds_rig_scenario_timing_through_rclpy'] == {'timing'}
    assert marks['test_ros2_launch::test_dds_rig_scenarios_through_rclpy'] == set()
    assert marks['test_ros2_launch::test_exported_nano_model_timing'] == {'timing'}
    assert marks['test_ros2_launch::test_exported_nano_model_end_to_end'] == set()
