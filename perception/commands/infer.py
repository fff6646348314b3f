"""``perception infer --model M --rgb A --thermal B --depth C --out DIR`` / ``tools/infer.py``.

Runs any model the Predictor loads (config + checkpoint, ``.onnx``, TensorRT engine) on files or
folders, one argument per sensor and any subset of them. Folders are paired by file stem
(``vi/00001.png`` + ``ir/00001.png``); each file is decoded with the encoding its sensor argument
names (docs/data.md). With ``--calibration FILE`` (docs/registration.md) thermal and depth are
registered to the colour camera first, so sensors of different sizes and poses can be combined.
Written per frame: ``<stem>_overlay.png`` (segmentation colours + boxes), ``<stem>_depth.png``
(colour map), ``<stem>_seg.png`` (class ids), ``<stem>.json`` (detections, timings, sensors used).
Input errors (missing or unreadable files, wrong encodings, sizes that differ without a
calibration) stop the run with one ``error: ...`` line and exit code 2 (perception/cli.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from perception.contract import SENSORS, ConfigError

HELP_EPILOG = """examples:
  perception infer --model nano.onnx --rgb vi/ --thermal ir/ --thermal-encoding u8_unit --out out/
  perception infer --model nano.onnx --rgb 01234N.png --rgb-encoding mfnet_rgb \\
      --thermal 01234N.png --thermal-encoding mfnet_rgba --out out/
  perception infer --model CONFIG --checkpoint CKPT --depth depth.png --depth-encoding uint16_mm \\
      --out out/                                       # any subset of sensors
  perception infer --model nano.onnx --rgb vi/ --thermal ir/ --calibration rig.yaml --out out/
                                                       # thermal/depth cameras beside the colour one
"""
DEFAULT_ENCODINGS = {'rgb': 'rgb8', 'thermal': 'u8_unit', 'depth': 'uint16_mm'}
FILE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.ppm', '.pgm', '.bmp', '.tif', '.tiff', '.npy')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('--model', required=True,
                        help='config (.py, with --checkpoint), .onnx or TensorRT engine')
    parser.add_argument('--checkpoint', help='weights for a config model')
    for s in SENSORS:
        parser.add_argument(f'--{s}', help=f'{s} file or folder')
        parser.add_argument(f'--{s}-encoding', default=DEFAULT_ENCODINGS[s],
                            help=f'encoding of the {s} files (default {DEFAULT_ENCODINGS[s]})')
    parser.add_argument('--calibration', metavar='YAML',
                        help='rig calibration: register thermal and depth to the colour camera '
                             '(docs/registration.md)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--score-thr', type=float,
                        help='detections kept (in the json; NMS score threshold; default: the '
                             'model\'s)')
    parser.add_argument('--display-thr', type=float,
                        help='boxes drawn on the overlays: those scored this or more (default: '
                             'the model\'s display_thr, chosen on validation frames; else every '
                             'kept detection)')
    parser.add_argument('--iou-thr', type=float, help='host NMS IoU (default: the model\'s)')
    parser.add_argument('--boxes-only', action='store_true',
                        help='overlays without the segmentation colours (e.g. a model whose '
                             'segmentation is of the synthetic scenes, on real frames)')
    parser.add_argument('--input-size', nargs=2, type=int, metavar=('H', 'W'),
                        help='network size for a config model (exported models are fixed)')
    parser.add_argument('--device', default='cpu', help='device for a config model')
    parser.add_argument('--providers', nargs='+', help='onnxruntime execution providers')


def pair_inputs(paths: Dict[str, str]) -> List[Tuple[str, Dict[str, Path]]]:
    """``{sensor: file or folder}`` -> [(stem, {sensor: file})], folders matched by file stem."""
    files: Dict[str, Dict[str, Path]] = {}
    for sensor, p in paths.items():
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.iterdir() if f.suffix.lower() in FILE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f'--{sensor} {path}: no image files ({FILE_SUFFIXES})')
            files[sensor] = {f.stem: f for f in found}
        elif path.is_file():
            files[sensor] = {path.stem: path}
        else:
            raise FileNotFoundError(f'--{sensor} {path}: no such file or folder')
    if all(len(v) == 1 for v in files.values()):   # single files: one frame, whatever the names
        stem = next(iter(next(iter(files.values()))))
        return [(stem, {s: next(iter(v.values())) for s, v in files.items()})]
    stems = sorted(set().union(*(v.keys() for v in files.values())))
    return [(stem, {s: v[stem] for s, v in files.items() if stem in v}) for stem in stems]


def run(args: argparse.Namespace) -> int:
    import cv2

    from perception.visualization.colors import base_image
    from perception.visualization.maps import depth_colormap
    from perception.visualization.overlay import draw_result
    from perception.sensors.calibration import load_calibration
    from perception.sensors.encodings import decode_file, get_encoding
    given = {s: getattr(args, s) for s in SENSORS if getattr(args, s)}
    if not given:
        raise ConfigError('give at least one of --rgb, --thermal, --depth')
    encodings = {s: get_encoding(getattr(args, f'{s}_encoding'), s, s) for s in given}
    registration = load_calibration(args.calibration) if args.calibration else None
    pairs = pair_inputs(given)
    predictor = load_predictor(args, registration)
    print(predictor if registration is None else f'{predictor} with {registration}')
    display_thr = display_threshold(args.display_thr, predictor)
    # Encoding parameters the model fixes (16-bit radiometric thermal: its recorded scaling).
    params = {'thermal_scaling': getattr(predictor.spec, 'thermal_scaling', None)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stem, files in pairs:
        missing = sorted(set(given) - set(files))
        if missing:
            print(f'{stem}: no {", ".join(missing)} file -- running without it')
        arrays: Dict[str, Optional[np.ndarray]] = {
            s: decode_file(files[s], encodings[s].name, s,
                           **{k: v for k, v in params.items() if k in encodings[s].params})
            for s in files}
        result = predictor(**arrays)   # the Predictor registers thermal and depth to the colour grid
        shown = arrays                 # what the overlay is drawn on: the colour grid too
        if registration is not None and 'rgb' not in arrays:   # (outside the thermal view: black)
            on_rgb = registration.apply(**arrays, thermal_fill=0.0)
            shown = {s: on_rgb[s] for s in arrays}
        shape = next(iter(shown.values())).shape[:2]
        overlay = draw_result(base_image(shown.get('rgb'), shown.get('thermal'),
                                         shown.get('depth'), shape), result,
                              display_thr=display_thr, with_seg=not args.boxes_only)
        cv2.imwrite(str(out / f'{stem}_overlay.png'), overlay[:, :, ::-1])
        if result.depth is not None:
            cv2.imwrite(str(out / f'{stem}_depth.png'), depth_colormap(result.depth)[:, :, ::-1])
        if result.seg_labels is not None:
            cv2.imwrite(str(out / f'{stem}_seg.png'), result.seg_labels.astype(np.uint8))
        (out / f'{stem}.json').write_text(
            json.dumps(_summary(result, files, display_thr), indent=2) + '\n')
        print(f'{stem}: {result.num_detections} detections '
              f'({result.displayed(display_thr).num_detections} drawn), sensors '
              f'{"+".join(s for s, m in zip(SENSORS, result.modality_mask) if m)}, '
              f'{sum(result.timings_ms.values()):.1f} ms')
    return 0


def display_threshold(given: Optional[float], predictor) -> Optional[float]:
    """The overlays' threshold: ``--display-thr``, else the model's ``display_thr``, else None
    (every kept detection is drawn).

    Raises:
        ConfigError: a threshold outside [0, 1].
    """
    thr = given if given is not None else getattr(predictor.spec, 'display_thr', None)
    if thr is not None and not 0.0 <= thr <= 1.0:
        raise ConfigError(f'--display-thr {thr}: expected a score in [0, 1]')
    return thr


def load_predictor(args: argparse.Namespace, registration=None):
    """The Predictor of ``--model`` (with the rig's ``registration``, if any); a missing, corrupt or
    foreign model file is a ConfigError."""
    from perception.apis.predictor import Predictor
    model = Path(args.model)
    for flag, path in (('--model', model), ('--checkpoint', args.checkpoint)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f'{flag} {path}: no such file')
    try:
        return Predictor(model, args.checkpoint, device=args.device, providers=args.providers,
                         input_size=args.input_size, score_thr=args.score_thr,
                         iou_thr=args.iou_thr, registration=registration)
    except ValueError as err:   # unknown suffix, no perception metadata, a spec it cannot read
        raise ConfigError(f'--model {model}: {err}') from err
    except Exception as err:
        if type(err).__module__.startswith('onnxruntime'):   # not an ONNX graph it can load
            raise ConfigError(f'--model {model}: onnxruntime cannot load it '
                              f'({" ".join(str(err).split())[:300]})') from err
        raise


def _summary(result, files: Dict[str, Path], display_thr: Optional[float] = None) -> dict:
    dets = []
    if result.det_scores is not None:
        for box, score, label in zip(result.det_boxes, result.det_scores, result.det_labels):
            name = result.det_classes[label] if 0 <= label < len(result.det_classes) else str(label)
            dets.append({'box_xyxy': [round(float(v), 2) for v in box], 'score': float(score),
                         'label': int(label), 'class': name})
    return {'sources': {s: str(p) for s, p in files.items()}, 'display_thr': display_thr,
            'sensors': dict(zip(SENSORS, result.modality_mask)),
            'ignored_sensors': list(result.ignored_sensors), 'detections': dets,
            'timings_ms': result.timings_ms}
