#!/usr/bin/env python
"""Build a TensorRT engine from an exported ONNX file -- run this ON THE TARGET (Jetson): engines are
specific to the GPU, TensorRT version and JetPack they were built with.

    python export/build_trt_engine.py nano.onnx --fp16                        # -> nano.engine
    python export/build_trt_engine.py nano.int8.onnx --int8                   # Q/DQ graph: no calibrator
    python export/build_trt_engine.py nano.onnx --int8 --calib-data calib/ --calib-cache nano.cache
    python export/build_trt_engine.py nano.onnx --fp16 --print-trtexec       # the equivalent trtexec line
    python export/build_trt_engine.py nano.onnx --fp16 --spec-only           # sidecar for a trtexec engine
    python export/build_trt_engine.py nano_480x640.onnx --shape 480 640 --fp16  # refuse any other size

An engine runs at one network size, the one its ONNX file was exported at (``perception export
--shape H W``, else the config's ``input_size``). ``--shape H W`` states the size the engine must have:
a file exported at another size is refused (re-export it); without it, the file's size is used and
printed.

Writes ``<engine>.json`` next to the engine: the model spec (input size, classes, normalisation, NMS
mode) copied from the ONNX metadata, which ``perception.Predictor('nano.engine')`` reads.

INT8 comes either from a Q/DQ ONNX (``perception export --int8``: explicit quantisation, the scales are
in the graph) or from implicit calibration: ``--calib-data`` is a folder of ``.npz`` files holding
pre-processed inputs (``rgb``, ``thermal``, ``depth``, ``modality_mask``, as ``Predictor.prepare``
returns them); the computed scales are saved to ``--calib-cache`` and reused from there next time.
Works with the TensorRT 8.5 (JetPack 5.1), 8.6 (JetPack 6.0) and 10.x (JetPack 6.1/6.2) Python APIs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

PRECISIONS = ('fp32', 'fp16', 'int8')


def read_spec(onnx_path: Path):
    """The perception ModelSpec stored in the ONNX metadata_props."""
    import onnx

    from perception.apis.spec import ModelSpec
    model = onnx.load(str(onnx_path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    shapes = {i.name: [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim]
              for i in model.graph.input}
    return ModelSpec.from_metadata(props, where=str(onnx_path)), shapes


def profile_shapes(shapes: Dict[str, list], batch: Sequence[int]) -> Dict[str, Tuple[tuple, ...]]:
    """min/opt/max shapes per input: the batch axis from ``batch``, the rest as exported."""
    out = {}
    for name, dims in shapes.items():
        rest = tuple(int(d) for d in dims[1:])
        out[name] = tuple((int(b), *rest) for b in batch)
    return out


def fp32_layers_of(spec, precision: str) -> Tuple[str, ...]:
    """The layers an FP16 (or INT8, whose float layers run FP16) engine keeps FP32: the plan
    ``perception export --fp16-plan`` recorded (``spec.fp32_layers``). Warns when the file has no
    plan: TensorRT then chooses FP16 for every layer, unchecked."""
    if precision == 'fp32':
        return ()
    if spec.fp32_layers is None:
        print('warning: this ONNX file has no FP16 plan (export it with `perception export ... '
              '--fp16-plan`): every layer may run FP16, unchecked against FP32', file=sys.stderr)
        return ()
    return tuple(spec.fp32_layers)


def mark_fp32_layers(network, names: Sequence[str], trt) -> List[str]:
    """Set every network layer named in ``names`` (TensorRT names a layer after its ONNX node, or
    that name plus a suffix) and its outputs to FP32. Returns the layers marked; raises when a name
    matches no layer (a plan for another graph)."""
    wanted = set(names)
    marked, found = [], set()
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        match = next((n for n in wanted if layer.name == n or layer.name.startswith(n + '_')
                      or layer.name.startswith(n + ' ')), None)
        if match is None:
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        marked.append(layer.name)
        found.add(match)
    missing = sorted(wanted - found)
    if missing:
        raise RuntimeError(f'FP16 plan names layers that are not in the network: {missing[:5]} '
                           '(re-export the model with --fp16-plan)')
    return marked


def trtexec_command(onnx_path: Path, engine_path: Path, precision: str, shapes: Dict[str, list],
                    batch: Optional[Sequence[int]] = None, workspace_mib: int = 2048,
                    calib_cache: Optional[Path] = None, fp32_layers: Sequence[str] = ()) -> str:
    """The trtexec line that builds the same engine (trtexec loads libnvinfer_plugin itself)."""
    parts = ['trtexec', f'--onnx={onnx_path}', f'--saveEngine={engine_path}',
             f'--memPoolSize=workspace:{workspace_mib}']
    if precision == 'fp16':
        parts.append('--fp16')
    if precision == 'int8':
        parts += ['--int8', '--fp16']   # fp16 for the layers left in float
        if calib_cache is not None:
            parts.append(f'--calib={calib_cache}')
    if fp32_layers:   # the FP16 plan: these layers stay FP32, and TensorRT must obey
        parts += ['--precisionConstraints=obey',
                  '--layerPrecisions=' + ','.join(f'{n}:fp32' for n in fp32_layers),
                  '--layerOutputTypes=' + ','.join(f'{n}:fp32' for n in fp32_layers)]
    if batch is not None:
        prof = profile_shapes(shapes, batch)
        for flag, k in (('--minShapes', 0), ('--optShapes', 1), ('--maxShapes', 2)):
            parts.append(flag + '=' + ','.join(
                f'{n}:{"x".join(str(d) for d in s[k])}' for n, s in prof.items()))
    return ' '.join(parts)


def check_shape(spec, shapes: Dict[str, list], shape: Optional[Sequence[int]],
                onnx_path: Path) -> Tuple[int, int]:
    """The (H, W) the engine gets: the ONNX file's (metadata ``input_size`` and every sensor input's
    last two dims); with ``shape`` given, it must be that.

    Raises:
        ValueError: ``shape`` differs from the file's size, or the file's inputs disagree with its
            metadata; the message names the export command for ``shape``.
    """
    size = tuple(int(v) for v in spec.input_size)
    for name, dims in shapes.items():
        if len(dims) == 4 and tuple(dims[2:]) != size:
            raise ValueError(f'{onnx_path}: input {name} is {dims[2]}x{dims[3]} but the metadata says '
                             f'{size[0]}x{size[1]}; re-export it with `perception export`')
    if shape is not None and tuple(int(v) for v in shape) != size:
        h, w = (int(v) for v in shape)
        raise ValueError(f'{onnx_path} was exported at {size[0]}x{size[1]}, not the {h}x{w} asked '
                         f'for: an engine keeps the ONNX file\'s size. Export it at that size, '
                         f'`perception export CONFIG CKPT --shape {h} {w} --output FILE.onnx ...`, '
                         'and build from that file')
    return size


def npz_batches(folder: Path, names: Sequence[str]) -> Iterator[Dict[str, np.ndarray]]:
    files = sorted(folder.glob('*.npz'))
    if not files:
        raise FileNotFoundError(f'--calib-data {folder}: no .npz files')
    for f in files:
        with np.load(f) as data:
            yield {n: np.ascontiguousarray(data[n], np.float32) for n in names}


def build_engine(onnx_path: Path, engine_path: Path, precision: str = 'fp16',
                 batch: Optional[Sequence[int]] = None, workspace_mib: int = 2048,
                 calib_data: Optional[Path] = None, calib_cache: Optional[Path] = None,
                 dla_core: Optional[int] = None, verbose: bool = False) -> Path:
    """Parse, configure, build and serialise; also writes the spec sidecar. Returns the engine path."""
    import tensorrt as trt

    from perception.apis.spec import sidecar_path
    spec, shapes = read_spec(onnx_path)
    logger = trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, '')   # EfficientNMS_TRT (--nms trt exports)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split('.')[0])
    # TensorRT 8 needs explicit batch for ONNX; 10 has only explicit batch (the flag is deprecated).
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = '\n'.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f'TensorRT could not parse {onnx_path}:\n{errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    if precision in ('fp16', 'int8'):
        if not builder.platform_has_fast_fp16:
            print('warning: this GPU has no fast FP16; building anyway', file=sys.stderr)
        config.set_flag(trt.BuilderFlag.FP16)
        fp32 = fp32_layers_of(spec, precision)
        if fp32:   # the FP16 plan of the export: these layers stay FP32, and TensorRT must obey
            marked = mark_fp32_layers(network, fp32, trt)
            config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
            print(f'{len(marked)} layer(s) kept FP32 by the FP16 plan')
    profile = None
    dynamic = any(not isinstance(d, int) or d <= 0 for dims in shapes.values() for d in dims)
    if dynamic or batch is not None:
        prof_shapes = profile_shapes(shapes, batch or (1, 1, 1))
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in prof_shapes.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    if precision == 'int8':
        config.set_flag(trt.BuilderFlag.INT8)
        explicit = any(network.get_layer(i).type == trt.LayerType.QUANTIZE
                       for i in range(network.num_layers))
        if not explicit:
            config.int8_calibrator = _calibrator(network, calib_data, calib_cache, batch)
            if profile is not None:
                config.set_calibration_profile(profile)
    if dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError('TensorRT engine build failed (see the log above)')
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    spec.replace(precision=precision).write_json(sidecar_path(engine_path))
    return engine_path


def _calibrator(network, calib_data: Optional[Path], calib_cache: Optional[Path],
                batch: Optional[Sequence[int]]):
    """polygraphy's calibrator (handles device buffers); cache-only when no data is given."""
    from polygraphy.backend.trt import Calibrator
    if calib_data is None and (calib_cache is None or not calib_cache.is_file()):
        raise ValueError('implicit INT8 needs --calib-data (a folder of .npz inputs) or an '
                         'existing --calib-cache; or export a Q/DQ graph with `perception export '
                         '--int8`')
    names = [network.get_input(i).name for i in range(network.num_inputs)]
    loader = npz_batches(calib_data, names) if calib_data is not None else iter(())
    return Calibrator(loader, cache=str(calib_cache) if calib_cache else None)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('onnx', type=Path, help='ONNX file written by `perception export`')
    p.add_argument('--output', '-o', type=Path, help='engine path (default: ONNX with .engine)')
    prec = p.add_mutually_exclusive_group()
    prec.add_argument('--fp16', dest='precision', action='store_const', const='fp16')
    prec.add_argument('--int8', dest='precision', action='store_const', const='int8')
    prec.add_argument('--fp32', dest='precision', action='store_const', const='fp32')
    p.set_defaults(precision='fp16')
    p.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'),
                   help='network size the engine must have: refused unless the ONNX file was '
                        'exported at it (default: the file\'s size, printed)')
    p.add_argument('--batch', nargs=3, type=int, metavar=('MIN', 'OPT', 'MAX'),
                   help='batch range of the optimisation profile (dynamic-batch exports)')
    p.add_argument('--workspace', type=int, default=2048, help='builder workspace in MiB')
    p.add_argument('--calib-data', type=Path, help='folder of .npz pre-processed inputs (INT8)')
    p.add_argument('--calib-cache', type=Path, help='INT8 calibration cache to read/write')
    p.add_argument('--dla-core', type=int, help='build for a DLA core (GPU fallback on)')
    p.add_argument('--print-trtexec', action='store_true',
                   help='print the equivalent trtexec command and exit')
    p.add_argument('--spec-only', action='store_true',
                   help='only write <engine>.json (for an engine built with trtexec)')
    p.add_argument('--verbose', action='store_true')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    engine = args.output or args.onnx.with_suffix('.engine')
    spec, shapes = read_spec(args.onnx)
    try:
        h, w = check_shape(spec, shapes, args.shape, args.onnx)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'engine input size {h}x{w} (H x W), '
          + ('as --shape asks' if args.shape else f'the size {args.onnx.name} was exported at'),
          file=sys.stderr)
    command = trtexec_command(args.onnx, engine, args.precision, shapes, args.batch,
                              args.workspace, args.calib_cache,
                              fp32_layers=fp32_layers_of(spec, args.precision))
    if args.print_trtexec:
        print(command)
        return 0
    if args.spec_only:
        from perception.apis.spec import sidecar_path
        spec, _ = read_spec(args.onnx)
        spec.replace(precision=args.precision).write_json(sidecar_path(engine))
        print(f'wrote {sidecar_path(engine)}')
        return 0
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        print(f'TensorRT is not importable here ({exc}). Build on the Jetson, or run:\n  {command}',
              file=sys.stderr)
        return 1
    build_engine(args.onnx, engine, args.precision, args.batch, args.workspace, args.calib_data,
                 args.calib_cache, args.dla_core, args.verbose)
    print(f'wrote {engine} (+ {engine.name}.json)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
