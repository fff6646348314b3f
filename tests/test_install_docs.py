"""The robot's install recipes can be followed as written (issue 15 defect 7, issue 26 item 1).

docs/deployment.md "Install on the robot" holds one recipe per target: x86_64 + apt ROS 2, and
JetPack 6 + apt ROS 2 Humble. An apt ROS 2 ships message modules compiled against the distribution's
numpy 1.x and Ubuntu 24.04 refuses a system-wide ``pip install`` (PEP 668). This checks, in each
recipe: (a) a venv made with ``--system-site-packages`` (it must see the distro's rclpy and JetPack's
TensorRT) and activated before the first ``pip install``, and no system-wide pip; (b) numpy pinned
to 1.x, admitting the last 1.x (1.26.4) and never below a distribution's numpy: Jazzy's 1.26.4 is
admitted (kept), Humble's 1.21.5 lies under the floor (pip puts a newer 1.x in the venv, which imports
modules built against the older one); (c) ``perception`` installed with its extras -- ``ort,ros`` on
x86, ``trt,ros`` on the Jetson, where no PyPI onnxruntime is installed (NVIDIA's onnxruntime-gpu owns
the same ``onnxruntime/``) -- and without ``--no-deps``, which ``pyproject.toml``'s numpy range
(admitting 1.26.4 and the training venv's 2.4) makes unnecessary; (d) every onnxruntime, numpy and
polygraphy version the doc's "Run here" table reports as tested lies in ``pyproject.toml``'s range.
The node README and export/README.md point to the recipe instead of carrying their own pip lines; the
node README's source-build recipe (numpy 2) uses a venv and the ``ort,ros`` extras.
``tools/ros2/check_apt_python.sh TARGET PYTHON [REQ...]`` runs a recipe's pip lines (read from the doc)
in a fresh venv and the node and Predictor tests under them; its ``CHECK_PRINT_PIP=1`` mode prints
those commands, checked here against the doc, with and without replaced requirements.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = ROOT / 'docs' / 'deployment.md'
README = ROOT / 'ros_nodes' / 'README.md'
CHECKER = ROOT / 'tools' / 'ros2' / 'check_apt_python.sh'
RECIPES = {'x86': '### x86_64 + apt ROS 2', 'jetson': '### Jetson: JetPack 6 + apt ROS 2'}
EXTRAS = {'x86': {'ort', 'ros', 'fast'}, 'jetson': {'trt', 'ros', 'fast'}}
# numpy of the apt ROS 2 distributions the recipes are written for: python3-numpy of Ubuntu 24.04
# (Jazzy) and of Ubuntu 22.04 (Humble, JetPack 6)
DISTRO_NUMPY = {'jazzy': '1.26.4', 'humble': '1.21.5'}
NEWEST_NUMPY_1 = '1.26.4'      # the last numpy 1.x: what pip installs where it replaces the distro's


def _raw_block(heading: str, path: Path = DEPLOYMENT) -> list:
    """The lines of the first ```bash block after ``heading`` in ``path``, comments kept."""
    text = path.read_text()
    assert heading in text, f'{path.name}: no section {heading!r}'
    body = re.search(r'```bash\n(.*?)```', text[text.index(heading):], re.S)
    assert body, f'{path.name}: no bash block after {heading!r}'
    return body.group(1).replace('\\\n', ' ').splitlines()      # continuation lines joined


def _block(heading: str, path: Path = DEPLOYMENT) -> list:
    """The shell lines of that block, comments dropped."""
    return [' '.join(shlex.split(line, comments=True)) for line in _raw_block(heading, path)
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


def _perception_extras(lines: list) -> list:
    """The extras of each ``/path/to/perception[...]`` the ``pip install`` lines install."""
    return [set(m.group(1).split(',')) for line in lines if line.startswith('pip install')
            for m in re.finditer(r'/path/to/perception\[([\w,]+)\]', line)]


def _pyproject_pins() -> dict:
    text = (ROOT / 'pyproject.toml').read_text()
    return {m.group(1).lower(): m.group(2)
            for m in re.finditer(r'"([A-Za-z][\w.-]*)((?:[<>=]=?[\d.]+,?)+)"', text)}


@pytest.fixture(scope='module', params=sorted(RECIPES))
def recipe(request):
    return request.param, _block(RECIPES[request.param])


def test_recipe_installs_into_a_venv_that_sees_the_distro_packages(recipe):
    _, lines = recipe
    first_pip = next(i for i, line in enumerate(lines) if 'pip install' in line)
    venv = [i for i, line in enumerate(lines) if re.search(r'python3? -m venv', line)]
    assert venv and venv[0] < first_pip, 'a venv must exist before the first pip install (PEP 668)'
    assert '--system-site-packages' in lines[venv[0]], 'the venv must see the apt rclpy'
    activate = [i for i, line in enumerate(lines) if '/bin/activate' in line]
    assert activate and activate[0] < first_pip, 'the venv must be active for pip install'
    assert not any(re.search(r'sudo .*pip|python3 -m pip install', line) for line in lines), \
        'no system-wide pip install'


def test_recipe_keeps_numpy_1_and_installs_perception_with_its_extras(recipe):
    target, lines = recipe
    reqs = _pip_requirements(lines)
    assert 'numpy' in reqs, 'the recipe must pin numpy (the distro modules need 1.x)'
    assert not _admits(reqs['numpy'], '2.0.0'), f'numpy{reqs["numpy"]} admits numpy 2'
    assert _admits(reqs['numpy'], NEWEST_NUMPY_1), f'numpy{reqs["numpy"]} refuses {NEWEST_NUMPY_1}'
    floors = [_version(b) for op, b in re.findall(r'(>=|>|==)\s*([\d.]+)', reqs['numpy'])]
    for distro, version in DISTRO_NUMPY.items():
        # kept as it is, or replaced by a newer 1.x -- never by an older one (the distro's modules
        # built against it would not import)
        kept = _admits(reqs['numpy'], version)
        below = bool(floors) and all(_version(version) < f for f in floors)
        assert kept or below, f'numpy{reqs["numpy"]} would downgrade {distro}\'s numpy {version}'
    assert _perception_extras(lines) == [EXTRAS[target]], \
        f'the {target} recipe must install perception[{",".join(sorted(EXTRAS[target]))}]'
    assert not any('--no-deps' in line for line in lines)
    # perception's own numpy range takes the recipe's 1.x and the training venv's 2.x
    assert _admits(_pyproject_pins()['numpy'], NEWEST_NUMPY_1)
    assert _admits(_pyproject_pins()['numpy'], '2.4.0')


def test_jetson_recipe_leaves_onnxruntime_to_nvidia():
    checked = [line for line in _raw_block(RECIPES['jetson'])
               if line.startswith('pip install') and 'Jetson only' not in line]
    assert 'onnxruntime' not in _pip_requirements(checked)
    assert not any('ort' in extras for extras in _perception_extras(checked))
    gpu = [line for line in _raw_block(RECIPES['jetson']) if 'onnxruntime_gpu' in line]
    assert gpu and all('Jetson only' in line for line in gpu)


def test_tested_versions_lie_in_the_declared_ranges():
    text = DEPLOYMENT.read_text()
    table = text[text.index('Run here ('):text.index('Not run here')]
    rows = [[c.strip() for c in row.split('|')[1:-1]] for row in table.splitlines()
            if row.startswith('| `check_apt_python.sh')]
    assert len(rows) >= 4, 'the doc reports the check on four combinations'
    header = [c.strip() for c in table.splitlines()[2].split('|')[1:-1]]
    pins = _pyproject_pins()
    for row in rows:
        cells = dict(zip(header, row))
        for name in ('numpy', 'onnxruntime', 'polygraphy'):
            version = cells[name].split()[0]
            if version != '-':
                assert _admits(pins[name], version), f'{name} {version} tested, pyproject {pins[name]}'
        assert cells['result'].startswith('passed'), row


def test_the_other_documents_point_to_the_one_recipe():
    node = README.read_text()
    install = node[node.index('## Install and build'):node.index('### ROS 2 built from source')]
    assert 'docs/deployment.md' in install and 'pip install' not in install
    jetson = node[node.index('## Jetson'):node.index('## Without ROS 2')]
    assert 'docs/deployment.md' in jetson and 'pip install' not in jetson
    export = (ROOT / 'export' / 'README.md').read_text()
    assert 'deploy extra' not in export and 'docs/deployment.md' in export


def test_source_build_recipe_uses_a_venv_with_the_runtime_and_ros_extras():
    src = _block('### ROS 2 built from source', README)
    assert re.search(r'python3? -m venv', src[0]) and '/bin/activate' in src[0]
    assert any(re.search(r'pip install .*perception\[ort,ros\]', line) for line in src)
    assert _admits(_pyproject_pins()['numpy'], '2.4.0')


def _checker_commands(*args) -> list:
    """The pip commands check_apt_python.sh would run (CHECK_PRINT_PIP=1), quotes resolved."""
    out = subprocess.run(['bash', str(CHECKER), args[0], sys.executable, *args[1:]],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, CHECK_PRINT_PIP='1'))
    assert out.returncode == 0, out.stderr
    return [' '.join(shlex.split(line)) for line in out.stdout.splitlines()]


def test_the_checker_script_runs_the_recipes():
    """check_apt_python.sh installs exactly a recipe's pip lines (the Jetson-only ones left out,
    PyPI's onnxruntime of the ``ort`` extra standing in for NVIDIA's), with this checkout for
    /path/to/perception, and swaps in the requirements it is given."""
    for target, heading in RECIPES.items():
        lines = [line for line in _block(heading) if line.startswith('pip install')
                 and 'onnxruntime_gpu' not in line]
        expected = [f"python -m {line.replace('/path/to/perception', str(ROOT))} -q"
                    for line in lines]
        if target == 'jetson':
            expected.append(f"python -m pip install onnxruntime{_pyproject_pins()['onnxruntime']} -q")
        assert _checker_commands(target) == expected
    numpy2 = _checker_commands('x86', 'numpy>=2,<2.5', 'onnxruntime==1.20.1')
    reqs = _pip_requirements([line[len('python -m '):] for line in numpy2])
    assert reqs['numpy'] == '>=2,<2.5' and reqs['onnxruntime'] == '==1.20.1'
    floor = _checker_commands('jetson', 'onnxruntime==1.20.1')
    assert floor[-1] == 'python -m pip install onnxruntime==1.20.1 -q'
