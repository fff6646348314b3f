"""The ROS node's install instructions can be followed as written (issue 15, defect 7).

An apt-installed ROS 2 ships message modules compiled against the distribution's numpy 1.x, Ubuntu
24.04 refuses a system-wide ``pip install`` (PEP 668), and ``perception`` itself declares numpy >= 2
for training. So the apt recipe in ``ros_nodes/README.md`` must (a) make a virtual environment before
any ``pip install``, seeing the distro's rclpy (``--system-site-packages``); (b) pin numpy to a 1.x
that admits the distributions' numpy; (c) install ``perception`` with ``--no-deps``, or its numpy >= 2
would replace that pin; (d) pin the node's runtime packages to what ``pyproject.toml`` pins, the
versions the tests ran with. The source-build recipe keeps numpy 2. ``tools/ros2/check_apt_python.sh``
runs the recipe's pip lines (read from the README) in a fresh venv and the node tests under them.
"""
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'ros_nodes' / 'README.md'
# numpy of the apt ROS 2 distributions the recipe is written for (Jazzy: Ubuntu 24.04's python3-numpy)
DISTRO_NUMPY = {'jazzy': '1.26.4'}


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
    for distro, version in DISTRO_NUMPY.items():
        assert _admits(reqs['numpy'], version), f'numpy{reqs["numpy"]} refuses {distro} {version}'
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


def test_the_checker_script_reads_the_readme_recipe():
    script = (ROOT / 'tools' / 'ros2' / 'check_apt_python.sh').read_text()
    assert '### ROS 2 from apt' in script and 'ros_nodes/README.md' in script
