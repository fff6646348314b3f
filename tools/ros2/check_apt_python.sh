#!/usr/bin/env bash
# The Python side of ros_nodes/README.md's "ROS 2 from apt" recipe, run as written: a venv made with
# --system-site-packages by the given interpreter (the distro's: 3.12 for Jazzy on Ubuntu 24.04, 3.10
# for Humble on 22.04), the README's own `pip install` lines (read from the README, so this check and
# the instructions cannot drift apart), numpy 1.x, then
#   1. the ROS-free node tests (tests/ros, without the real-ROS ones) under that numpy, and
#   2. the exported nano model through the node's build_predictor, one frame.
# The apt rclpy itself is not installed (no apt ROS 2 here): that part of the recipe is not checked.
#
#   bash tools/ros2/check_apt_python.sh PYTHON [ONNXRUNTIME_SPEC [NUMPY_SPEC]]
#   e.g. bash tools/ros2/check_apt_python.sh ~/.pyenv/versions/3.12.1/bin/python3
#        bash tools/ros2/check_apt_python.sh ~/.pyenv/versions/3.10.13/bin/python3 'onnxruntime<=1.23.2' \
#             'numpy==1.21.6'      # Humble: the README's onnxruntime for Python 3.10, its oldest numpy
# The model is exported with the project's .venv (torch) into the check's folder first.
# CHECK_PRINT_PIP=1: only print the pip commands it would run (one a line) and exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${1:?usage: check_apt_python.sh PYTHON [ONNXRUNTIME_SPEC [NUMPY_SPEC]]}
ORT_SPEC=${2:-}
NUMPY_SPEC=${3:-}
t0=$SECONDS

# The README's apt block: from its heading to the end of the first code block after it.
mapfile -t PIP_LINES < <(awk '/^### ROS 2 from apt/{f=1} f&&/^```bash/{c=1; next} c&&/^```/{exit} c&&/^pip install/' \
                         ros_nodes/README.md)
if [ "${#PIP_LINES[@]}" -ne 2 ]; then
  echo "check_apt_python: expected 2 'pip install' lines in ros_nodes/README.md's apt recipe, found" \
       "${#PIP_LINES[@]}: update this script with the README" >&2
  exit 1
fi

PIP_CMDS=()
for line in "${PIP_LINES[@]}"; do
  line=${line%%#*}                                   # the README's trailing comment
  line=${line//\/path\/to\/perception/$ROOT}
  if [ -n "$ORT_SPEC" ]; then line=$(sed -E "s/\"onnxruntime[^\"]*\"/\"$ORT_SPEC\"/" <<<"$line"); fi
  if [ -n "$NUMPY_SPEC" ]; then line=$(sed -E "s/\"numpy[^\"]*\"/\"$NUMPY_SPEC\"/" <<<"$line"); fi
  PIP_CMDS+=("python -m ${line%"${line##*[![:space:]]}"} -q")
done
if [ "${CHECK_PRINT_PIP:-0}" = 1 ]; then   # what would be installed, one command a line (tests)
  printf '%s\n' "${PIP_CMDS[@]}"
  exit 0
fi
WORK=${CHECK_DIR:-$(mktemp -d /tmp/perception-apt-check.XXXXXX)}
VENV=$WORK/venv

echo "== interpreter: $("$PYTHON" --version 2>&1)  folder: $WORK"
"$PYTHON" -m venv --system-site-packages "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
python -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
for cmd in "${PIP_CMDS[@]}"; do
  echo "== ${cmd#python -m }"
  eval "$cmd"
done
# the test runner and what the tests use beyond the node (bag files, the DDS-shim rigs): not the recipe's
python -m pip install -q pytest pytest-timeout psutil hypothesis mcap mcap-ros2-support "cyclonedds==11.0.1" \
  2>&1 | grep -v 'is ignored' || true
python - <<'EOF'
import numpy, cv2, onnxruntime, sys
from importlib.metadata import version
print(f'== python {sys.version.split()[0]}, numpy {numpy.__version__}, opencv {cv2.__version__}, '
      f'onnxruntime {onnxruntime.__version__}, rosbags {version("rosbags")}')
assert numpy.__version__.startswith('1.'), 'the apt recipe must leave numpy 1.x'
EOF

echo "== 1. ROS-free node tests under this numpy"
python -m pytest tests/ros -q -p no:cacheprovider --ignore tests/ros/real \
       --deselect tests/ros/test_ros2_real.py -k 'not rclpy' -W ignore::DeprecationWarning

echo "== 2. the exported nano through the node's build_predictor"
"$ROOT/.venv/bin/perception" export configs/_base_/models/nano.py --output "$WORK/nano.onnx" \
    > "$WORK/export.log" 2>&1 || { tail -20 "$WORK/export.log"; exit 1; }
python - "$WORK/nano.onnx" <<'EOF'
import sys
import numpy as np
from perception.ros.predictor_factory import build_predictor
predictor = build_predictor(sys.argv[1], backend='onnxruntime')
rng = np.random.default_rng(0)
result = predictor(rgb=rng.integers(0, 255, (256, 320, 3), dtype=np.uint8),
                   thermal=rng.uniform(0, 1, (256, 320)).astype(np.float32),
                   depth=rng.uniform(0.5, 20, (256, 320)).astype(np.float32))
assert result.seg_labels.shape == (256, 320) and result.depth.shape == (256, 320)
assert np.isfinite(result.depth).all() and result.det_boxes.shape[1:] == (4,)
print(f'== nano.onnx through build_predictor: labels {result.seg_labels.shape}, '
      f'depth {result.depth.shape}, {len(result.det_boxes)} detections')
EOF
echo "== apt-recipe Python side OK in $((SECONDS - t0)) s ($("$PYTHON" --version 2>&1))"
