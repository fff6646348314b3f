"""``perception export CONFIG [CHECKPOINT] --output FILE.onnx`` / ``tools/export.py``.

ONNX export with the checks that make the file trustworthy: onnx.checker (full), onnxsim, parity
against PyTorch on real + synthetic frames (exit code 2 when it fails, and no file is written), the
TensorRT op-compatibility verdict per JetPack release, optionally an INT8 Q/DQ file with its accuracy
change. A JSON report (figures of every check) is written next to the model.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP_EPILOG = """examples:
  perception export configs/nano_synthetic.py work_dirs/nano/latest.pth --output nano.onnx
  perception export CONFIG CKPT --output nano_trt.onnx --nms trt --shape 480 640
  perception export CONFIG CKPT --output nano.onnx --opset 16        # TensorRT 8.5 / JetPack 5.1
  perception export CONFIG CKPT --output nano.onnx --int8 --calib-config CONFIG --calib-num 64
  perception export CONFIG CKPT --output nano_cpu.onnx --nms onnx --int8 --int8-target onnxruntime
  perception export CONFIG CKPT --output nano.onnx --shape 480 640 --fp16-plan   # for a Jetson FP16 engine
exit codes: 0 ok, 2 parity failed, 3 TensorRT-incompatible with --trt-strict, 4 FP16 (emulated) misses
the accuracy bounds even with the planned FP32 layers (the file is written, with the plan)
"""

EXIT_PARITY = 2
EXIT_TRT = 3
EXIT_FP16 = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('config', help='model config (OpenMMLab .py)')
    parser.add_argument('checkpoint', nargs='?', help='weights (.pth); random init when omitted')
    parser.add_argument('--output', '-o', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'),
                        help='static network input size (default: the config\'s input_size, '
                             'else 256 320); multiples of 32')
    parser.add_argument('--nms', choices=['onnx', 'host', 'trt'], default='onnx',
                        help='onnx: NonMaxSuppression in the graph; host: graph returns top-K '
                             'candidates; trt: TensorRT EfficientNMS_TRT plugin (engine only)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--dynamic-batch', action='store_true')
    parser.add_argument('--seg-output', choices=['labels', 'logits', 'both'], default='labels')
    parser.add_argument('--score-thr', type=float, help='default: config det head nms')
    parser.add_argument('--iou-thr', type=float, help='default: config det head nms')
    parser.add_argument('--max-det', type=int, help='K of det_* outputs (default: config)')
    parser.add_argument('--pre-nms-topk', type=int, help='candidates before NMS (default: config)')
    parser.add_argument('--exporter', choices=['legacy', 'dynamo'], default='legacy',
                        help='torch.onnx exporter (legacy writes opset 17 natively)')
    parser.add_argument('--no-simplify', action='store_true', help='skip onnxsim')
    parser.add_argument('--parity-synthetic', type=int, default=2,
                        help='synthetic frames in the parity run (real samples always run)')
    parser.add_argument('--trt-versions', nargs='+', default=['8.5', '8.6', '10.3'],
                        help='TensorRT op tables to check against (perception/deploy/trt_op_support)')
    parser.add_argument('--trt-strict', action='store_true',
                        help='fail (exit 3) when a listed TensorRT version cannot take the graph')
    parser.add_argument('--int8', action='store_true', help='also write FILE.int8.onnx (Q/DQ)')
    parser.add_argument('--calib-config', help='dataset config for INT8 calibration (train split) '
                        'and the accuracy check (test/val split); default: the model config')
    parser.add_argument('--calib-num', type=int, default=32, help='calibration frames')
    parser.add_argument('--calib-method', choices=['minmax', 'entropy', 'percentile'],
                        default='minmax')
    parser.add_argument('--int8-target', choices=['tensorrt', 'onnxruntime'], default='tensorrt',
                        help='tensorrt: symmetric Q/DQ with float biases, what TensorRT builds '
                             'INT8 engines from (slow in ONNX Runtime); onnxruntime: u8 activations '
                             'and int32 biases that ONNX Runtime fuses into integer kernels (CPU)')
    parser.add_argument('--eval-num', type=int, default=32,
                        help='held-out frames for the INT8 accuracy check (0: skip)')
    parser.add_argument('--save-calib-npz', metavar='DIR',
                        help='also write --calib-num pre-processed calibration frames as .npz '
                             '(for implicit INT8 calibration: build_trt_engine.py --calib-data)')
    parser.add_argument('--fp16-plan', action='store_true',
                        help='run the graph in emulated FP16 on the parity frames, find the layers a '
                             'TensorRT FP16 engine must keep FP32, and record them in the file '
                             '(build_trt_engine.py --fp16 applies them)')
    parser.add_argument('--report', help='JSON report path (default: FILE.report.json)')


def run(args: argparse.Namespace) -> int:
    from perception.deploy.onnx_export import ExportOptions, export_from_config
    from perception.deploy.parity import ParityError
    from perception.deploy.trt_compat import check_model

    from .inputs import config_file
    config_file(args.config)   # a config that cannot be read: an input error, before any work
    output = Path(args.output)
    size_note = _input_size_note(args)
    print(size_note)
    try:
        result = export_from_config(
            args.config, args.checkpoint, output, input_size=args.shape, nms=args.nms,
            opset=args.opset, dynamic_batch=args.dynamic_batch, seg_output=args.seg_output,
            score_thr=args.score_thr, iou_thr=args.iou_thr, max_det=args.max_det,
            pre_nms_topk=args.pre_nms_topk, exporter=args.exporter,
            simplify=not args.no_simplify, parity_synthetic=args.parity_synthetic)
    except ParityError as err:
        print(err)
        print(f'{output} NOT written: the exported graph does not match PyTorch.')
        return EXIT_PARITY
    for rep in result.parity:
        print(rep.format())
    report = {'export': dict(result.summary(), input_size_from=size_note),
              'spec': result.spec.to_dict()}
    compat = check_model(output, args.trt_versions)
    print(compat.format())
    report['tensorrt'] = compat.to_dict()
    if args.int8:
        report['int8'] = _int8(args, result, ExportOptions(
            input_size=result.spec.input_size, nms=args.nms, opset=args.opset,
            score_thr=result.spec.score_thr, iou_thr=result.spec.iou_thr,
            max_det=result.spec.max_det, pre_nms_topk=result.spec.pre_nms_topk))
    if args.save_calib_npz:
        report['calib_npz'] = _save_calib(args, result.spec)
    fp16_ok = True
    if args.fp16_plan:
        report['fp16'] = _fp16(output, result.spec, args)
        fp16_ok = report['fp16']['passed']
    report_path = Path(args.report) if args.report else output.with_suffix('.report.json')
    report_path.write_text(json.dumps(report, indent=2, default=str) + '\n')
    print(f'wrote {output} ({result.seconds:.1f} s) and {report_path}')
    if args.trt_strict and not all(compat.compatible(v) for v in args.trt_versions):
        return EXIT_TRT
    return 0 if fp16_ok else EXIT_FP16


def _fp16(output: Path, spec, args) -> dict:
    """The FP16 plan of the written graph on the parity frames (every real sample and the synthetic
    ones, the sensors the model uses), recorded in the file's metadata (``fp32_layers``)."""
    import onnx

    from perception.apis.preprocess import preprocess
    from perception.deploy.fp16 import fp16_plan, named_nodes
    from perception.deploy.onnx_export import parity_frames, set_metadata
    frames = parity_frames(spec.input_size, max(args.parity_synthetic, 2), subsets=True,
                           sensors=spec.trained_sensors)
    feeds = [preprocess(spec, **f.sensors())[0] for f in frames]
    model = named_nodes(onnx.load(str(output)))   # the plan names layers: every node has a name
    plan = fp16_plan(model, spec, feeds)
    print(plan.format())
    onnx.save_model(set_metadata(model, spec.replace(fp32_layers=tuple(plan.fp32_layers))),
                    str(output), save_as_external_data=False)
    return plan.to_dict()


def _input_size_note(args) -> str:
    """One line: the network size the graph gets and where it came from (--shape, the config's
    ``input_size``, or the default because the config sets none)."""
    from perception.apis.config_spec import input_size_and_origin
    from perception.models.builder import load_config
    (h, w), origin = input_size_and_origin(load_config(args.config), args.shape)
    where = {'explicit': '--shape',
             'config': f"the config's input_size ({args.config})",
             'default': f'the default: {args.config} sets no input_size; pass --shape H W or set '
                        'input_size = (H, W) in the config to export the size it was trained at'}
    return f'input size {h}x{w} (H x W), from {where[origin]}'


def _save_calib(args, spec) -> dict:
    import numpy as np

    from perception.deploy.frames import dataset_frames
    from perception.deploy.quantize import calibration_inputs
    folder = Path(args.save_calib_npz)
    folder.mkdir(parents=True, exist_ok=True)
    frames = dataset_frames(args.calib_config or args.config, 'calib', args.calib_num)
    for i, inputs in enumerate(calibration_inputs(spec, frames)):
        np.savez(folder / f'calib_{i:04d}.npz', **inputs)
    print(f'wrote {i + 1} calibration inputs to {folder}')
    return {'folder': str(folder), 'frames': i + 1}


def _int8(args, result, opts) -> dict:
    import tempfile

    import onnx

    from perception.deploy.frames import dataset_frames
    from perception.deploy.quantize import count_qdq, export_int8, held_out_frames, int8_accuracy
    calib_config = args.calib_config or args.config
    int8_path = Path(args.output).with_suffix('.int8.onnx')
    _, quantized_host = export_int8(result.host_model, result.host_spec, opts,
                                    dataset_frames(calib_config, 'calib', args.calib_num),
                                    int8_path, args.calib_method, target=args.int8_target)
    out = {'path': str(int8_path), 'target': args.int8_target,
           'qdq': count_qdq(onnx.load(str(int8_path))),
           'calibration': {'config': calib_config, 'frames': args.calib_num,
                           'method': args.calib_method}}
    print(f'wrote {int8_path}: {out["qdq"]}')
    if args.eval_num > 0:
        note = (f'weights {Path(args.checkpoint).name}' if args.checkpoint
                else 'random-init weights, no checkpoint')
        frames = held_out_frames(calib_config, args.eval_num)
        if args.nms == 'trt':   # onnxruntime cannot run the plugin: compare the host graphs
            with tempfile.TemporaryDirectory() as tmp:
                fp32_host, int8_host = Path(tmp) / 'fp32.onnx', Path(tmp) / 'int8.onnx'
                onnx.save_model(result.host_model, str(fp32_host))
                onnx.save_model(quantized_host, str(int8_host))
                acc = int8_accuracy(fp32_host, int8_host, frames, note=note + ', host NMS')
        else:
            acc = int8_accuracy(args.output, int8_path, frames, note=note)
        print(acc.format())
        out['accuracy'] = acc.to_dict()
    return out
