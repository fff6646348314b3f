"""The ROS node's install instructions can be followed as written (issue 15, defect 7).

An apt-installed ROS 2 ships message modules compiled against the distribution's numpy 1.x, Ubuntu
24.04 refuses a system-wide ``pip install`` (PEP 668), and ``perception`` itself declares numpy >= 2
for training. So the apt recipe in ``ros_nodes/README.md`` must (a) make a virtual environment before
any ``pip install``, seeing the distro's rclpy (``--system-site-packages``); (b) pin numpy to 1.x
and never below a distribution's numpy: the pin either admits it (Jazzy's 1.26.4, kept) or lies
wholly above it (Humble's 1.21.5 is under onnxruntime's floor of 1.21.6, so pip puts a newer 1.x in
the venv, which imports modules built against the older one); (c) install ``perception`` with
``--no-deps``, or its numpy >= 2 would replace that pin; (d) pin the node's runtime packages to what
``pyproject.toml`` pins, the versions the tests ran with. The source-build recipe keeps numpy 2.
``tools/ros2/check_apt_python.sh`` runs the recipe's pip lines (read from the README) in a fresh venv
and the node tests under them; its ``CHECK_PRINT_PIP=1`` mode prints those commands, checked here.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'ros_nodes' / 'README.md'
CHECKER = ROOT / 'tools' / 'ros2' / 'check_apt_python.sh'
# numpy of the apt ROS 2 distributions the recipe is written for: python3-numpy of Ubuntu 24.04
# (Jazzy) and of Ubuntu 22.04 (Humble)
DISTRO_NUMPY = {'jazzy': '1.26.4', 'humble': '1.21.5'}
NEWEST_NUMPY_1 = '1.26.4'      # the last numpy 1.x: what pip installs where it replaces the distro's


def _block(heading: str) -> list:
    """The shell lines of the first ```bash block after ``heading`` in the node README."""
    text = README.read_text()
    assert heading in text, f'ros_nodes/README.md: no section {heading!r}'
    body = re.search(r'```bash\n(.*?)```', text[text.index(heading):], re.S)
    assert body, f'ros_nodes/README.md: no bash block after {heading!r}'
    joined = body.group(1).replace('\\\n', ' ')           # continuation lines
    return [' '.join(shlex.split(line, comments=True)) for line in joined.splitlines()
            if shlex.split(line, comments=True)]


def _version(text: str) -> tuple:
    return tuple(int(p) for p in re.findall(r'\d+', text)[:3])


def _admits(spec: str, version: str) -> bool:
    """Whether a ``>=a,<b`` / ``==a`` specifier list admits ``version`` (only these operators)."""
    v = _version(version)
    for clause in spec.split(','):
        op, bound = re.fullmatch(r'\s*(>=|<=|==|<|>)\s*([\d.]+)\s*', clause).groups()
        b = _version(bound)
        ok = {'>=': v >= b, '<=': v <= b, '==': v == b, '<': v < b, '>': v > b}[op]
        if not ok:
            return False
    return True


def _pip_requirements(lines: list) -> dict:
    """name -> specifier of every requirement in the block's ``pip install`` lines."""
    reqs = {}
    for line in lines:
        words = line.split()
        if words[:2] != ['pip', 'install']:
            continue
        for word in words[2:]:
            m = re.fullmatch(r'([A-Za-z][\w.-]*)(\[[\w,]+\])?((?:[<>=]=?[\d.]+,?)*)', word)
            if m and not word.startswith('-'):
                reqs[m.group(1).lower()] = m.group(3)
    return reqs


def _pyproject_pins() -> dict:
    text = (ROOT / 'pyproject.toml').read_text()
    return {m.group(1).lower(): m.group(2)
            for m in re.finditer(r'"([A-Za-z][\w.-]*)((?:[<>=]=?[\d.]+,?)+)"', text)}


@pytest.fixture(scope='module')
def apt():
    return _block('### ROS 2 from apt')


def test_apt_recipe_installs_into_a_venv_that_sees_the_distro_rclpy(apt):
    first_pip = next(i for i, line in enumerate(apt) if 'pip install' in line)
    venv = [i for i, line in enumerate(apt) if re.search(r'python3? -m venv', line)]
    assert venv and venv[0] < first_pip, 'a venv must exist before the first pip install (PEP 668)'
    assert '--system-site-packages' in apt[venv[0]], 'the venv must see the apt rclpy'
    activate = [i for i, line in enumerate(apt) if '/bin/activate' in line]
    assert activate and activate[0] < first_pip, 'the venv must be active for pip install'
    assert not any(re.search(r'sudo .*pip|python3 -m pip install', line) for line in apt), \
        'no system-wide pip install'


def test_apt_recipe_keeps_the_distro_numpy_and_installs_perception_without_its_deps(apt):
    reqs = _pip_requirements(apt)
    assert 'numpy' in reqs, 'the apt recipe must pin numpy (the distro modules need 1.x)'
    assert not _admits(reqs['numpy'], '2.0.0'), f'numpy{reqs["numpy"]} admits numpy 2'
    assert _admits(reqs['numpy'], NEWEST_NUMPY_1), f'numpy{reqs["numpy"]} refuses {NEWEST_NUMPY_1}'
    floors = [_version(b) for op, b in re.findall(r'(>=|>|==)\s*([\d.]+)', reqs['numpy'])]
    for distro, version in DISTRO_NUMPY.items():
        # kept as it is, or replaced by a newer 1.x -- never by an older one (the distro's modules
        # built against it would not import)
        kept = _admits(reqs['numpy'], version)
        below = bool(floors) and all(_version(version) < f for f in floors)
        assert kept or below, f'numpy{reqs["numpy"]} would downgrade {distro}\'s numpy {version}'
    own = [line for line in apt if line.startswith('pip install') and '/path/to/perception' in line]
    assert own, 'the apt recipe must install the perception package'
    assert all('--no-deps' in line for line in own), \
        "perception's own numpy>=2 would replace the pin: install it with --no-deps"
    # and pyproject really does ask for numpy 2 (if that changes, this recipe can be simplified)
    assert not _admits(_pyproject_pins()['numpy'], '1.26.4')


def test_apt_recipe_pins_what_the_project_pins(apt):
    reqs, pins = _pip_requirements(apt), _pyproject_pins()
    for name in ('onnxruntime', 'rosbags'):
        assert name in reqs, f'the apt recipe must install {name} (the node needs it)'
        assert reqs[name] == pins[name], (f'ros_nodes/README.md pins {name}{reqs[name]}, '
                                          f'pyproject.toml {name}{pins[name]}')


def test_source_build_recipe_uses_a_venv_with_the_deploy_and_ros_extras():
    src = _block('### ROS 2 built from source')
    assert re.search(r'python3? -m venv', src[0]) and '/bin/activate' in src[0]
    assert any(re.search(r'pip install .*perception\[deploy,ros\]', line) for line in src)
    assert _admits(_pyproject_pins()['numpy'], '2.4.0')


def _checker_commands(*args) -> list:
    """The pip commands check_apt_python.sh would run (CHECK_PRINT_PIP=1), quotes resolved."""
    out = subprocess.run(['bash', str(CHECKER), sys.executable, *args], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, CHECK_PRINT_PIP='1'))
    assert out.returncode == 0, out.stderr
    return [' '.join(shlex.split(line)) for line in out.stdout.splitlines()]


def test_the_checker_script_runs_the_readme_recipe(apt):
    """check_apt_python.sh installs exactly the README's two pip lines, with this checkout for
    /path/to/perception, and swaps in the onnxruntime and numpy specifiers it is given (Humble's)."""
    readme = [line for line in apt if line.startswith('pip install')]
    assert len(readme) == 2
    expected = [f"python -m {line.replace('/path/to/perception', str(ROOT))} -q" for line in readme]
    assert _checker_commands() == expected
    humble = _checker_commands('onnxruntime<=1.23.2', 'numpy==1.21.6')
    reqs = _pip_requirements([line[len('python -m '):] for line in humble])
    assert reqs['onnxruntime'] == '<=1.23.2' and reqs['numpy'] == '==1.21.6'
    assert {k: v for k, v in reqs.items() if k not in ('onnxruntime', 'numpy')} == {
        k: v for k, v in _pip_requirements(readme).items() if k not in ('onnxruntime', 'numpy')}
    assert humble[1] == expected[1]
