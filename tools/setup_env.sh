#!/usr/bin/env bash
# Create .venv/ with everything the package needs, in the one order that works on a fresh machine.
#
# Why a script and not just `pip install -e .[all]`:
#   * torch must come first and pinned (torch==2.13.0 is the CPU wheel; a bare `torch` requirement
#     resolves to a multi-GB CUDA build);
#   * mmcv 2.1.0 has no wheel for this torch, so it is compiled with its CPU ops (~10 min, once: pip's
#     wheel cache keeps the built wheel, later venvs install it in seconds). Its setup.py imports torch
#     and needs pkg_resources, hence --no-build-isolation and setuptools<82 in the venv;
#   * mmengine/mmcv want `opencv-python`, albumentations wants `opencv-python-headless`. Both own the
#     same `cv2/` folder; we pin both to one version and install the headless one last so the GUI-free
#     build is the one on disk (no Qt/X needed on robots and CI).
# Each step is timed; the script ends by checking that every key import works.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
EXTRAS=${EXTRAS:-train,deploy,ros,dds,fast,dev}
TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0
OPENCV_VERSION=5.0.0.93

step() {  # step NAME CMD... : run and print the wall time of each install step
  local name=$1; shift
  local t0=$SECONDS
  echo "==> [setup] $name"
  "$@"
  echo "==> [setup] $name done in $((SECONDS - t0)) s"
}

if [ ! -x "$VENV/bin/python" ]; then
  step "virtual environment" "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"

step "torch (CPU) + build tools" $PIP install "torch==$TORCH_VERSION" "setuptools>=77.0.3,<82" wheel ninja "numpy>=2.0,<2.5"
step "mmengine" $PIP install "mmengine==0.10.7"
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops" 2>/dev/null; then
  # CFLAGS replaces Python's default flags: keep -O3, drop debug info (-g0: 83 MB -> 2 MB _ext.so).
  step "mmcv $MMCV_VERSION with CPU ops (slow the first time, cached afterwards)" \
    env PATH="$PWD/$VENV/bin:$PATH" MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 \
    CFLAGS="-Wsign-compare -DNDEBUG -g0 -fwrapv -O3 -Wall" \
    $PIP install --no-build-isolation "mmcv==$MMCV_VERSION"
fi
# pyproject.toml declares ranges (numpy 1.26 to 2.4 for the robot's venvs); the development venv is
# held to the versions its tests and figures were measured with, numpy 2 among them.
step "perception[$EXTRAS]" $PIP install -e ".[$EXTRAS]" -c tools/dev_constraints.txt
step "opencv (headless build owns cv2/)" $PIP install --force-reinstall --no-deps "opencv-python-headless==$OPENCV_VERSION"
step "import check" "$VENV/bin/python" - <<'PY'
import cv2, torch, mmengine, mmcv, mmcv.ops, mmseg, mmdet, albumentations, pycocotools, onnx, onnxruntime
print(f"torch {torch.__version__} | mmengine {mmengine.__version__} | mmcv {mmcv.__version__} | "
      f"mmseg {mmseg.__version__} | mmdet {mmdet.__version__} | cv2 {cv2.__version__} | "
      f"onnxruntime {onnxruntime.__version__}")
PY
