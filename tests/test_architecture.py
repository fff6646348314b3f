"""The package's layers and the one direction of its imports, from one table (``LAYERS``).

Rule: a module may import its own unit and the units of *lower* layers; the units of one layer are
independent of each other. Two checks, so the rule cannot rot:

* static: every ``import`` statement under ``perception/`` -- including the ones inside functions,
  which is where a cycle hides -- is read with ``ast`` and its direction checked;
* fresh interpreter: each unit is imported in a new Python process; every ``perception`` module that
  import loads must be allowed, and the third-party packages a unit promises not to load at import
  (torch for the deployment path, the OpenMMLab training stack for deploy and the benchmark) are not.

``docs/architecture.md`` is rendered from the same table: ``python tests/test_architecture.py``
rewrites it, and ``test_architecture_doc_is_current`` fails when it is stale.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / 'perception'
DOC = REPO / 'docs' / 'architecture.md'

TORCH_AND_OPENMMLAB = ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet', 'mmseg')
OPENMMLAB = ('mmengine', 'mmcv', 'mmdet', 'mmseg')

#: Lowest layer first. Each unit: (name, modules it covers, third-party packages it must not load
#: at import time, what it is). ``perception`` itself is the facade: it may import anything, lazily.
LAYERS: Tuple[Tuple[str, Tuple[Tuple[str, Tuple[str, ...], Tuple[str, ...], str], ...]], ...] = (
    ('vocabulary', (
        ('contract', ('perception.contract', ), TORCH_AND_OPENMMLAB + ('cv2', ),
         'sensors, normalisation, strides, output names, SensorError'),
        ('results', ('perception.results', ), TORCH_AND_OPENMMLAB + ('cv2', ),
         'PerceptionResult, what every backend returns'),
        ('paths', ('perception.paths', ), TORCH_AND_OPENMMLAB + ('cv2', ),
         'where the real samples live'),
        ('hardware', ('perception.hardware', ), TORCH_AND_OPENMMLAB + ('cv2', ),
         'what this CPU can do'),
    )),
    ('foundation', (
        ('sensors', ('perception.sensors', ), TORCH_AND_OPENMMLAB,
         'file decoders per named encoding'),
        ('registry', ('perception.registry', 'perception.compat'), (),
         'mmengine registries of the perception scope, safe checkpoint loading'),
        ('structures', ('perception.structures', ), (), 'MultiTaskDataSample'),
    )),
    ('parts', (
        ('datasets', ('perception.datasets', ), (), 'real formats, generic layout, synthetic'),
        ('transforms', ('perception.transforms', ), (), 'geometry, photometry, dropout, packing'),
        ('evaluation', ('perception.evaluation', ), (), 'mIoU, COCO mAP, depth metrics'),
        ('models', ('perception.models', ), (),
         'encoders, fusion, decoders, heads, losses; build_model, load_config, ExportWrapper'),
        ('visualization', ('perception.visualization', ), (),
         'every picture: palette, overlays, depth/thermal colour maps, panels, gate maps'),
    )),
    ('inference', (
        ('apis', ('perception.apis', ), TORCH_AND_OPENMMLAB,
         'Predictor over PyTorch / ONNX Runtime / TensorRT, ModelSpec, pre/post-processing'),
    )),
    ('consumers', (
        ('engine', ('perception.engine', ), (), 'mmengine Runner glue: configs, hooks, test loop'),
        ('deploy', ('perception.deploy', ), OPENMMLAB,
         'ONNX export, parity, NMS graphs, INT8, TensorRT op check'),
        ('ros', ('perception.ros', ), TORCH_AND_OPENMMLAB + ('cv2', ),
         'ROS-free node core, DDS transport, bag replay'),
    )),
    ('benchmarks', (
        ('benchmark', ('perception.benchmark', ), OPENMMLAB,
         'runners, FLOPs, matmul peak, the benchmark suite'),
    )),
    ('studies', (
        ('studies', ('perception.studies', ), (),
         'the evidence studies of docs/results.md, TaskExpert gate statistics'),
    )),
    ('commands', (
        ('commands', ('perception.commands', ), (), 'one module per `perception` sub-command'),
    )),
    ('entry points', (
        ('cli', ('perception.cli', ), (), 'the `perception` command'),
        ('facade', ('perception', ), TORCH_AND_OPENMMLAB,
         '`import perception`: contract names, Predictor (lazy)'),
    )),
)

UNITS = {name: (index, modules, forbidden) for index, (_, units) in enumerate(LAYERS)
         for name, modules, forbidden, _ in units}


def unit_of(module: str) -> Optional[str]:
    """The unit whose module prefix is the longest match of ``module`` (the facade matches the
    package alone); None when none does."""
    best, length = None, -1
    for name, (_, prefixes, _) in UNITS.items():
        for prefix in prefixes:
            inside = module.startswith(prefix + '.') and name != 'facade'
            if (module == prefix or inside) and len(prefix) > length:
                best, length = name, len(prefix)
    return best


def allowed(importer: str, imported: str) -> bool:
    """Own unit, or a unit of a strictly lower layer; the facade may reach anything."""
    if importer == imported or importer == 'facade':
        return True
    return UNITS[imported][0] < UNITS[importer][0]


# --- static check -----------------------------------------------------------------------------------
def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[Tuple[str, int]]:
    """``(perception module, line)`` of every import statement, wherever it is in the file."""
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            for alias in node.names:   # ``from perception import apis`` imports a module
                sub = f'{target}.{alias.name}'
                unit = unit_of(sub)
                yield (sub if unit is not None and unit != unit_of(target) else target), node.lineno


def violations(source: str, module: str, is_package: bool = False) -> List[str]:
    importer = unit_of(module)
    if importer is None:
        return [f'{module}: in no unit of LAYERS (add it to the table in tests/test_architecture.py)']
    out = []
    for target, line in sorted(set(imported_modules(source, module, is_package))):
        if target.split('.')[0] != 'perception':
            continue
        imported = unit_of(target)
        if imported is None:
            out.append(f'{module}:{line} imports {target}, which is in no unit of LAYERS')
        elif not allowed(importer, imported):
            out.append(f'{module}:{line} imports {target}: {importer} (layer '
                       f'{LAYERS[UNITS[importer][0]][0]!r}) may not depend on {imported} (layer '
                       f'{LAYERS[UNITS[imported][0]][0]!r})')
    return out


def package_files() -> List[Path]:
    return sorted(p for p in PACKAGE.rglob('*.py') if '__pycache__' not in p.parts)


def test_every_import_statement_points_down():
    found = []
    for path in package_files():
        found += violations(path.read_text(), module_name(path), path.name == '__init__.py')
    assert not found, 'imports against the layer table:\n' + '\n'.join(found)


def test_the_static_check_catches_a_backwards_import():
    """Guard against a vacuous pass: a lazy import upwards, and one between siblings, are caught."""
    lazy_up = 'def f():\n    from perception.apis import Predictor\n'
    assert violations(lazy_up, 'perception.models.builder')
    assert violations('from ..deploy import parity\n', 'perception.ros.core')
    assert violations('from perception import Predictor\n', 'perception.ros.core')  # the facade
    assert not violations('from perception.contract import SENSORS\n', 'perception.apis.spec')
    assert violations('import numpy\n', 'perception.unlisted_module')


# --- fresh interpreters -----------------------------------------------------------------------------
PROBE = r'''
import importlib, json, sys
if {after_facade!r}:   # every import runs the facade first: what it loads is the baseline
    import perception
baseline = set(sys.modules)
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted(set(sys.modules) - baseline)))
'''


def unit_modules(unit: str) -> List[str]:
    """Every module of ``unit``, from the files (the facade: the package alone)."""
    if unit == 'facade':
        return ['perception']
    return [m for m in map(module_name, package_files()) if unit_of(m) == unit]


@pytest.mark.parametrize('unit', sorted(UNITS))
def test_importing_a_unit_loads_only_what_it_may(unit):
    modules = unit_modules(unit)
    assert modules, f'unit {unit} has no module: remove it from LAYERS'
    code = PROBE.format(modules=modules, after_facade=unit != 'facade')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    wrong = sorted(m for m in loaded if m.split('.')[0] == 'perception'
                   and m != 'perception' and not allowed(unit, unit_of(m) or '?'))
    assert not wrong, f'importing {unit} loads {wrong}'
    heavy = sorted({m.split('.')[0] for m in loaded} & set(UNITS[unit][2]))
    assert not heavy, f'importing {unit} loads {heavy} at import time'


# --- the document -----------------------------------------------------------------------------------
def render() -> str:
    lines = ['# Architecture', '',
             '*Generated from the `LAYERS` table of `tests/test_architecture.py` by '
             '`python tests/test_architecture.py`; the test fails when this file is stale.*', '',
             'The package is layered. **A module may import its own unit and the units of lower '
             'layers only; the units of one layer are independent of each other.** The test checks '
             'every `import` statement under `perception/` (including the lazy ones inside '
             'functions) and imports each unit in a fresh interpreter, which must load only what '
             'the table allows -- and none of the third-party packages the unit keeps out of its '
             'import.', '',
             '```']
    for name, units in reversed(LAYERS):
        lines.append(f'{name:>13s} | ' + '   '.join(u[0] for u in units))
    lines += ['```', '(higher layers depend on lower ones, never the reverse)', '',
              'The runtime sits below the exporter: `deploy` imports `apis`, never the reverse. An '
              'export writes the `ModelSpec` the runtime reads and is checked (parity, INT8 '
              'calibration) through the `Predictor`\'s own pre- and post-processing, so deploy '
              'needs the runtime; the runtime runs on a robot that installs only the deployment '
              'extra, where nothing may import the exporter or the training stack. What the '
              'PyTorch backend needs from the model side (`ExportWrapper`, `build_model`) lives in '
              '`models`, below both.', '',
              '| layer | unit | modules | never loaded at import | what it is |',
              '|---|---|---|---|---|']
    for name, units in LAYERS:
        for unit, modules, forbidden, what in units:
            mods = ', '.join(f'`{m}`' for m in modules)
            lines.append(f'| {name} | **{unit}** | {mods} | {", ".join(forbidden) or "-"} | '
                         f'{what} |')
    return '\n'.join(lines) + '\n'


def test_architecture_doc_is_current():
    assert DOC.is_file() and DOC.read_text() == render(), \
        'docs/architecture.md is stale: run `python tests/test_architecture.py`'


def main(argv: Sequence[str] = ()) -> int:
    DOC.write_text(render())
    print(f'wrote {DOC.relative_to(REPO)}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
