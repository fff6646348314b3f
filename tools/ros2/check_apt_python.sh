#!/usr/bin/env bash
# The Python side of docs/deployment.md's "Install on the robot" recipes, run as written: a venv made
# with --system-site-packages by the given interpreter (the distro's: 3.10 for Humble on Ubuntu 22.04
# and JetPack 6, 3.12 for Jazzy on 24.04), the recipe's own `pip install` lines (read from the doc, so
# this check and the instructions cannot drift apart), then
#   1. the installed versions, each within the recipe's numpy requirement, and no torch/OpenMMLab;
#      a VGA rig with distorted lenses registered by the numpy and (fast extra) numba passes;
#   2. jetson: the TensorRT backend's imports except tensorrt itself (polygraphy from PyPI), the
#      message Predictor('x.engine') stops with, and build_trt_engine.py --shape --print-trtexec /
#      --spec-only on the model;
#   3. the ROS-free node tests (tests/ros without the real-ROS ones), the Predictor tests and
#      perception infer's tests, on a nano exported by the project's .venv (torch);
#   4. that model through the node's build_predictor, and the installed `perception infer` command.
# Not checked (no apt ROS 2, no Jetson here): the apt lines, the apt rclpy in the venv, colcon, TensorRT
# and NVIDIA's onnxruntime-gpu (lines marked "Jetson only" are skipped; for the jetson target PyPI's
# onnxruntime, the `ort` extra's range, stands in so the ONNX path and its tests run).
#
#   bash tools/ros2/check_apt_python.sh TARGET PYTHON [REQUIREMENT ...]
#     TARGET       x86 | jetson  (the recipe's heading: "### x86_64 + apt ROS 2", "### Jetson: ...")
#     REQUIREMENT  replaces the recipe's requirement of that name (numpy, onnxruntime, ...) or is added
#                  to its perception line, e.g. 'numpy>=2,<2.5' (no apt ROS 2) or 'onnxruntime==1.20.1'
#   e.g. bash tools/ros2/check_apt_python.sh x86 ~/.pyenv/versions/3.10.13/bin/python3
#        bash tools/ros2/check_apt_python.sh x86 ~/.pyenv/versions/3.12.1/bin/python3 'numpy>=2,<2.5'
#        bash tools/ros2/check_apt_python.sh jetson ~/.pyenv/versions/3.10.13/bin/python3 \
#             'onnxruntime==1.20.1' 'polygraphy==0.49.26'          # the ranges' floors
# CHECK_PRINT_PIP=1: only print the pip commands it would run (one a line) and exit.
# CHECK_DIR: the work folder (default: a new one under /tmp); CHECK_NANO: a folder holding the test
# nano from an earlier run (tests/deploy/deploy_helpers.py export_nano), reused instead of exporting.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
USAGE="usage: check_apt_python.sh x86|jetson PYTHON [REQUIREMENT ...]"
TARGET=${1:?$USAGE}
PYTHON=${2:?$USAGE}
shift 2
case $TARGET in
  x86) HEADING='### x86_64 + apt ROS 2' ;;
  jetson) HEADING='### Jetson: JetPack 6 + apt ROS 2' ;;
  *) echo "$USAGE" >&2; exit 2 ;;
esac
t0=$SECONDS

# The recipe's pip lines, with this checkout for /path/to/perception and the REQUIREMENTs swapped in
# (one shell command a line); for jetson, PyPI's onnxruntime in place of NVIDIA's wheel.
mapfile -t PIP_CMDS < <("$PYTHON" - "$HEADING" "$TARGET" "$ROOT" "$@" <<'EOF'
import re, shlex, sys
heading, target, root, *overrides = sys.argv[1:]
text = open('docs/deployment.md').read()
if heading not in text:
    sys.exit(f'check_apt_python: no section {heading!r} in docs/deployment.md')
block = re.search(r'```bash\n(.*?)```', text[text.index(heading):], re.S).group(1)
name = lambda req: re.match(r'[A-Za-z0-9_.-]+', req).group(0).lower().replace('_', '-')
lines = [line for line in block.replace('\\\n', ' ').splitlines()
         if line.startswith('pip install') and 'Jetson only' not in line]
if not lines:
    sys.exit(f'check_apt_python: no pip install line in the {heading!r} recipe')
if target == 'jetson':   # PyPI's onnxruntime stands in for NVIDIA's onnxruntime-gpu wheel
    ort = re.search(r'"(onnxruntime[^"]*)"', open('pyproject.toml').read()).group(1)
    lines.append(f'pip install "{ort}"')
words = [shlex.split(line, comments=True) for line in lines]
for req in overrides:
    hits = [(i, j) for i, ws in enumerate(words) for j, w in enumerate(ws[2:], 2)
            if not w.startswith(('-', '/', '.')) and name(w) == name(req)]
    if hits:
        for i, j in hits:
            words[i][j] = req
    else:   # not in the recipe: beside the perception requirement, so the resolver applies it
        i = next(i for i, ws in enumerate(words) if any('/path/to/perception' in w for w in ws))
        words[i].append(req)
for ws in words:
    print(shlex.join(['python', '-m'] + [w.replace('/path/to/perception', root) for w in ws] + ['-q']))
EOF
)
if [ "${#PIP_CMDS[@]}" -eq 0 ]; then exit 1; fi
if [ "${CHECK_PRINT_PIP:-0}" = 1 ]; then   # what would be installed, one command a line (tests)
  printf '%s\n' "${PIP_CMDS[@]}"
  exit 0
fi
WORK=${CHECK_DIR:-$(mktemp -d /tmp/perception-apt-check.XXXXXX)}
VENV=$WORK/venv
NANO=${CHECK_NANO:-$WORK/nano}

echo "== target $TARGET, interpreter: $("$PYTHON" --version 2>&1), folder: $WORK"
"$PYTHON" -m venv --system-site-packages "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
python -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
for cmd in "${PIP_CMDS[@]}"; do
  echo "== ${cmd#python -m }"
  eval "$cmd" 2>&1 | grep -v 'is ignored' || true
done
python - "${PIP_CMDS[@]}" <<'EOF'
import importlib.util, re, shlex, sys
import cv2, numpy, onnxruntime
from importlib.metadata import version
from pip._vendor.packaging.specifiers import SpecifierSet
names = ['numpy', 'opencv-python-headless', 'onnxruntime', 'rosbags', 'polygraphy', 'onnx', 'pyyaml', 'numba']
have = {n: version(n) for n in names if importlib.util.find_spec(n.replace('opencv-python-headless', 'cv2')
                                                                 .replace('pyyaml', 'yaml')) is not None}
print(f'== python {sys.version.split()[0]}: ' + ', '.join(f'{n} {v}' for n, v in have.items()))
numpy_req = [w for cmd in sys.argv[1:] for w in shlex.split(cmd) if re.match(r'numpy\b', w)]
for req in numpy_req:   # the recipe's numpy requirement holds in the venv
    assert numpy.__version__ in SpecifierSet(req[len('numpy'):]), f'numpy {numpy.__version__}: not {req}'
heavy = [m for m in ('torch', 'mmengine', 'mmcv', 'mmseg', 'mmdet') if importlib.util.find_spec(m)]
assert not heavy, f'the run-time install pulled in the training stack: {heavy}'
EOF
# the test runner and what the tests use beyond the recipe (bag files, the DDS-shim rigs)
python -m pip install -q pytest pytest-timeout psutil hypothesis mcap mcap-ros2-support "cyclonedds==11.0.1" \
  2>&1 | grep -v 'is ignored' || true

echo "== registration of a VGA rig with distorted lenses: numba passes (fast extra) == numpy passes"
python - <<'EOF'
import numpy as np
from perception.sensors.cameras import CameraModel, Rigid
from perception.sensors.registration import Registration, ThermalCalibration, compiled_kernels
def K(w, h, f):
    return [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]]
rgb = CameraModel(640, 480, K(640, 480, 525), [0.05, -0.1, 0.001, -0.0005, 0], 'rgb')
thermal = CameraModel(640, 512, K(640, 512, 800), [-0.2, 0.05, 0, 0, 0], 'thermal')
depth = CameraModel(640, 480, K(640, 480, 570), [], 'depth')
kinds = ['numpy'] + (['numba'] if compiled_kernels('auto') is not None else [])
rng = np.random.default_rng(5)
d = rng.uniform(1, 5, (480, 640)).astype(np.float32)
d[100:140, 200:300] = 0
t = rng.uniform(0, 1, (512, 640)).astype(np.float32)
out = {k: Registration(rgb, ThermalCalibration(thermal, Rigid.from_static_transform(
    [0.05, 0, 0, 0, 0, 0, 1])), (depth, Rigid.from_static_transform(
        [-0.025, 0, 0, 0, 0, 0, 1])), kernels=k).apply(depth=d, thermal=t) for k in kinds}
for key in ('depth', 'thermal', 'thermal_valid'):
    assert all(np.array_equal(out[k][key].view(np.uint8), out['numpy'][key].view(np.uint8))
               for k in kinds), key
print(f'== registration: {" and ".join(kinds)} passes, same bits')
EOF

echo "== the test nano (64x96, --nms onnx, INT8; random weights) exported by $ROOT/.venv"
if [ ! -f "$NANO/nano.onnx" ]; then
  (cd "$ROOT" && "$ROOT/.venv/bin/python" -c "import sys; sys.path[:0] = ['tests', 'tests/deploy']
from deploy_helpers import export_nano; export_nano(sys.argv[1])" "$NANO") > "$WORK/export.log" 2>&1 \
    || { tail -20 "$WORK/export.log"; exit 1; }
fi

if [ "$TARGET" = jetson ]; then
  echo "== 2. the TensorRT backend's imports (all but tensorrt) and the engine builder's CPU side"
  python - "$NANO/nano.onnx" <<'EOF'
import sys
from polygraphy.backend.common import BytesFromPath             # noqa: F401  what the backend runs
from polygraphy.backend.trt import Calibrator, EngineFromBytes, TrtRunner  # noqa: F401
import numpy as np
from perception.apis.backends import tensorrt as backend
from perception import Predictor
assert backend._numpy_dtype(np.float32) == np.float32 and backend._numpy_dtype(None) == np.float32
try:
    from polygraphy.datatype import DataType
    assert backend._numpy_dtype(DataType.INT32) == np.int32
except ImportError:   # polygraphy < 0.49.? has no DataType: numpy dtypes throughout
    pass
engine = sys.argv[1].replace('.onnx', '.engine')
open(engine, 'wb').write(b'not an engine')
from perception.apis.spec import ModelSpec, sidecar_path
ModelSpec(input_size=(64, 96)).write_json(sidecar_path(engine))
try:
    Predictor(engine)
    raise SystemExit('Predictor(engine) ran without tensorrt')
except ImportError as err:
    assert 'tensorrt' in str(err) and 'python3-libnvinfer' in str(err), err
    print(f'== Predictor(x.engine) without tensorrt: {str(err)[:110]}...')
EOF
  python export/build_trt_engine.py "$NANO/nano.onnx" --shape 64 96 --fp16 --print-trtexec
  python export/build_trt_engine.py "$NANO/nano.onnx" --shape 64 96 --fp16 --spec-only \
      --output "$WORK/nano_fp16.engine"
  if python export/build_trt_engine.py "$NANO/nano.onnx" --shape 480 640 --print-trtexec 2>/dev/null; then
    echo "build_trt_engine.py accepted --shape 480 640 for a 64x96 file" >&2; exit 1
  fi
fi

echo "== 3. ROS-free node tests, Predictor and perception infer tests"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PERCEPTION_TEST_NANO_EXPORT=$NANO \
python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
       tests/ros --ignore tests/ros/real --deselect tests/ros/test_ros2_real.py -k 'not rclpy' \
       tests/deploy/test_deploy_predictor.py tests/deploy/test_deploy_no_torch.py \
       tests/deploy/test_deploy_infer.py

echo "== 4. the model through the node's build_predictor, and the installed perception infer"
python - "$NANO/nano.onnx" "$WORK/frame.png" <<'EOF'
import sys
import cv2
import numpy as np
from perception.ros.predictor_factory import build_predictor
predictor = build_predictor(sys.argv[1], backend='onnxruntime')
rng = np.random.default_rng(0)
h, w = 120, 160
result = predictor(rgb=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                   thermal=rng.uniform(0, 1, (h, w)).astype(np.float32),
                   depth=rng.uniform(0.5, 20, (h, w)).astype(np.float32))
assert result.seg_labels.shape == (h, w) and result.depth.shape == (h, w)
assert np.isfinite(result.depth).all() and result.det_boxes.shape[1:] == (4,)
print(f'== nano.onnx through build_predictor: labels {result.seg_labels.shape}, '
      f'depth {result.depth.shape}, {len(result.det_boxes)} detections')
cv2.imwrite(sys.argv[2], rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
EOF
perception infer --model "$NANO/nano.onnx" --rgb "$WORK/frame.png" --out "$WORK/infer" > "$WORK/infer.log"
test -f "$WORK/infer/frame_overlay.png" && test -f "$WORK/infer/frame.json" \
  || { cat "$WORK/infer.log"; exit 1; }
echo "== perception infer (installed command): $(ls "$WORK/infer" | tr '\n' ' ')"
echo "== $TARGET recipe, Python side OK in $((SECONDS - t0)) s ($("$PYTHON" --version 2>&1))"
