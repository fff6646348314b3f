"""Can the target's TensorRT take this ONNX graph? A CPU-side check against written-down op tables.

The tables (``perception/deploy/trt_op_support/trt_<version>.yaml``, shipped with the package) list, per TensorRT version on current JetPack
releases, the supported and unsupported ONNX ops, their restrictions, the highest opset, INT64 handling
and the plugins of ``libnvinfer_plugin`` -- each with its source. This module lists the graph's ops
(onnx-graphsurgeon view, so constant inputs are visible) and reports per version:

* errors: an unsupported or unknown op, an opset above the parser's, a non-batch dynamic dimension,
  and the restrictions we can check statically (TopK K constant / <= 3840, Slice/Squeeze/Unsqueeze/
  Reduce axes constant, Resize modes, Q/DQ zero points 0, MaxPool indices output);
* warnings: data-dependent output shapes (NonZero, NonMaxSuppression), ops absent from the table;
* info: dynamic batch (needs an optimisation profile), INT64 cast to INT32 (8.x), plugin ops.

Restrictions that need values only TensorRT knows at build time are listed, not checked; on the target,
``polygraphy inspect capability model.onnx`` gives TensorRT's own verdict.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import onnx_graphsurgeon as gs
import yaml


TABLE_DIR = Path(__file__).resolve().parent / 'trt_op_support'
DEFAULT_VERSIONS: Tuple[str, ...] = ('8.5', '8.6', '10.3')
TOPK_MAX = 3840
DATA_DEPENDENT = ('NonZero', 'NonMaxSuppression', 'Unique')
RESIZE_COORD = ('half_pixel', 'pytorch_half_pixel', 'tf_half_pixel_for_nn', 'asymmetric',
                'align_corners')
RESIZE_NEAREST = ('floor', 'ceil', 'round_prefer_floor', 'round_prefer_ceil')
REDUCE_OPS = ('ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean',
              'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare')


@dataclass(frozen=True)
class OpTable:
    trt_version: str
    jetpack: Tuple[str, ...]
    opset_max: int
    int64: str
    sources: Tuple[str, ...]
    plugins: Tuple[str, ...]
    supported: frozenset
    unsupported: frozenset
    restrictions: Dict[str, str]

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'OpTable':
        d = yaml.safe_load(Path(path).read_text())
        return cls(str(d['trt_version']), tuple(d.get('jetpack', ())), int(d['opset_max']),
                   d.get('int64', 'cast'), tuple(d.get('sources', ())), tuple(d.get('plugins', ())),
                   frozenset(d['supported']), frozenset(d['unsupported']),
                   dict(d.get('restrictions') or {}))

    def restricted(self, op: str, words: str) -> bool:
        return words in self.restrictions.get(op, '')


def load_tables(versions: Sequence[str] = DEFAULT_VERSIONS,
                folder: Union[str, Path, None] = None) -> List[OpTable]:
    folder = Path(folder) if folder is not None else TABLE_DIR
    tables = []
    for v in versions:
        path = folder / f'trt_{v}.yaml'
        if not path.is_file():
            known = sorted(p.stem[4:] for p in folder.glob('trt_*.yaml'))
            raise FileNotFoundError(f'no TensorRT op table for {v} in {folder} (have {known})')
        tables.append(OpTable.load(path))
    return tables


@dataclass(frozen=True)
class Finding:
    severity: str          # error | warning | info
    op: str
    message: str
    nodes: Tuple[str, ...] = ()


@dataclass
class VersionReport:
    trt_version: str
    jetpack: Tuple[str, ...]
    findings: List[Finding] = field(default_factory=list)

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.severity == 'error']

    @property
    def verdict(self) -> str:
        if self.errors:
            return 'incompatible'
        if any(f.severity == 'warning' for f in self.findings):
            return 'compatible with warnings'
        return 'compatible'


@dataclass
class CompatReport:
    opset: int
    op_counts: Dict[str, int]
    inputs: Dict[str, List]
    versions: List[VersionReport]

    def compatible(self, trt_version: str) -> bool:
        return next(v for v in self.versions if v.trt_version == trt_version).verdict != \
            'incompatible'

    def to_dict(self) -> dict:
        return {'opset': self.opset, 'op_counts': self.op_counts, 'inputs': self.inputs,
                'versions': [dict(asdict(v), verdict=v.verdict) for v in self.versions]}

    def format(self) -> str:
        lines = [f'opset {self.opset}; {sum(self.op_counts.values())} nodes, '
                 f'{len(self.op_counts)} op types: ' +
                 ', '.join(f'{k} x{n}' for k, n in sorted(self.op_counts.items()))]
        for v in self.versions:
            lines.append(f'TensorRT {v.trt_version} (JetPack {"/".join(v.jetpack)}): {v.verdict}')
            for f in v.findings:
                where = f' [{", ".join(f.nodes[:3])}{", ..." if len(f.nodes) > 3 else ""}]' \
                    if f.nodes else ''
                lines.append(f'  {f.severity:7s} {f.op}: {f.message}{where}')
        return '\n'.join(lines)


# --- graph helpers -----------------------------------------------------------------------------------
def _const(t) -> Optional[np.ndarray]:
    """The value of a constant input (initializer or Constant node), else None."""
    if isinstance(t, gs.Constant):
        return np.asarray(t.values)
    if isinstance(t, gs.Variable) and len(t.inputs) == 1 and t.inputs[0].op == 'Constant':
        value = t.inputs[0].attrs.get('value')
        return None if value is None else np.asarray(value.values)
    return None


def _input(node: gs.Node, i: int):
    return node.inputs[i] if len(node.inputs) > i and node.inputs[i].name else None


def _attr(node: gs.Node, name: str, default):
    value = node.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def _restriction_findings(node: gs.Node, table: OpTable) -> Iterable[Tuple[str, str]]:
    """(severity, message) for the restrictions checkable from the graph alone."""
    op = node.op
    if op == 'TopK':
        k = _const(_input(node, 1))
        if k is None and table.restricted('TopK', 'initializer'):
            yield 'error', '`K` must be a constant (initializer)'
        if k is not None and int(np.max(k)) >= TOPK_MAX:
            yield 'error', f'K = {int(np.max(k))}: TensorRT TopK needs K < {TOPK_MAX}'
        if int(_attr(node, 'sorted', 1)) != 1:
            yield 'error', '`sorted` must be 1'
    axes_input = {'Slice': 3, 'Squeeze': 1, 'Unsqueeze': 1, 'CumSum': 1,
                  **{r: 1 for r in REDUCE_OPS}}.get(op)
    if axes_input is not None and _input(node, axes_input) is not None \
            and _const(_input(node, axes_input)) is None \
            and (table.restricted(op, 'initializer') or table.restricted(op, 'constant')):
        yield 'error', f'axes input must be constant ({table.restrictions[op]})'
    if op == 'Resize':
        coord = _attr(node, 'coordinate_transformation_mode', 'half_pixel')
        mode = _attr(node, 'mode', 'nearest')
        nearest = _attr(node, 'nearest_mode', 'round_prefer_floor')
        if coord not in RESIZE_COORD:
            yield 'error', f'coordinate_transformation_mode {coord!r} unsupported'
        if mode not in ('nearest', 'linear'):
            yield 'error', f'mode {mode!r} unsupported (nearest, linear)'
        if mode == 'nearest' and nearest not in RESIZE_NEAREST:
            yield 'error', f'nearest_mode {nearest!r} unsupported'
        if int(_attr(node, 'antialias', 0)):
            yield 'error', 'antialiasing is not supported'
    if op in ('QuantizeLinear', 'DequantizeLinear'):
        zp = _const(_input(node, 2))
        if _input(node, 2) is not None and (zp is None or np.any(zp != 0)):
            yield 'error', 'zero point must be a constant 0 (symmetric quantisation)'
    if op == 'DequantizeLinear':
        x = _input(node, 0)
        dtype = np.dtype(x.dtype) if x is not None and x.dtype is not None else None
        if dtype is not None and dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            yield 'error', (f'dequantises {dtype} (a quantised bias?): TensorRT dequantises INT8 '
                            'only -- quantise with QuantizeBias=False')
    if op == 'MaxPool' and len(node.outputs) > 1 and node.outputs[1].outputs:
        yield 'error', '`Indices` output unsupported'
    if op in DATA_DEPENDENT:
        yield 'warning', 'data-dependent output shape (slower engine; `--nms trt` avoids it)'


def check_model(model: Union[str, Path, onnx.ModelProto], versions: Sequence[str] = DEFAULT_VERSIONS,
                table_dir: Union[str, Path, None] = None, static_hw: bool = True) -> CompatReport:
    """Check ``model`` against the op tables of ``versions``."""
    proto = onnx.load(str(model)) if not isinstance(model, onnx.ModelProto) else model
    graph = gs.import_onnx(proto)
    opset = max((o.version for o in proto.opset_import if o.domain in ('', 'ai.onnx')), default=0)
    nodes = [n for n in graph.nodes]
    # Subgraphs (If/Loop/Scan bodies) hold ops too.
    for n in list(nodes):
        for value in n.attrs.values():
            if isinstance(value, gs.Graph):
                nodes.extend(value.nodes)
    counts = Counter(n.op for n in nodes)
    inputs = {t.name: list(t.shape or []) for t in graph.inputs}
    reports = []
    for table in load_tables(versions, table_dir):
        rep = VersionReport(table.trt_version, table.jetpack)
        add = rep.findings.append
        if opset > table.opset_max:
            add(Finding('error', 'opset', f'opset {opset} > {table.opset_max}, the highest this '
                        'parser reads (export with --opset 17)'))
        by_op: Dict[Tuple[str, str, str], List[str]] = {}
        for n in nodes:
            if n.op in table.plugins:
                by_op.setdefault(('info', n.op, 'TensorRT plugin (libnvinfer_plugin, registered '
                                  'with trt.init_libnvinfer_plugins)'), []).append(n.name)
                continue
            if n.op in table.unsupported:
                by_op.setdefault(('error', n.op, 'not supported by this TensorRT ONNX parser'),
                                 []).append(n.name)
                continue
            if n.op not in table.supported:
                sev = 'error' if n.domain not in ('', 'ai.onnx') else 'warning'
                by_op.setdefault((sev, n.op, f'not in the support matrix (domain '
                                  f'{n.domain or "ai.onnx"!r})'), []).append(n.name)
                continue
            for sev, msg in _restriction_findings(n, table):
                by_op.setdefault((sev, n.op, msg), []).append(n.name)
        for (sev, op, msg), names in by_op.items():
            add(Finding(sev, op, msg, tuple(names)))
        for t in graph.inputs:
            for axis, dim in enumerate(t.shape or []):
                if isinstance(dim, int) and dim > 0:
                    continue
                if axis == 0:
                    add(Finding('info', 'input', f'{t.name}: dynamic batch -- the engine needs an '
                                'optimisation profile (build_trt_engine.py --batch MIN OPT MAX)'))
                else:
                    add(Finding('error' if static_hw else 'warning', 'input',
                                f'{t.name}: dynamic dimension {axis} ({dim!r}); engines are built '
                                'for a static H, W'))
        if table.int64 == 'cast':
            wide = [t.name for t in (*graph.inputs, *graph.outputs) if t.dtype == np.int64]
            if wide:
                add(Finding('info', 'int64', 'INT64 graph inputs/outputs are cast to INT32 by '
                            'TensorRT 8.x', tuple(wide)))
        reports.append(rep)
    return CompatReport(opset, dict(counts), inputs, reports)
