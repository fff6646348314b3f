#!/usr/bin/env bash
# Build the minimal ROS 2 Jazzy of ../shared/ros2 (rclpy, rclpy.lifecycle, rmw_cyclonedds_cpp, launch,
# launch_ros, ros2 launch, the message packages the node uses) once, into a cache outside the
# repository, for the real-ROS 2 tests (tests/ros/real, `make test-ros`). Skipped when that source set
# is already built there.
#
# Usage: tools/ros2/setup_ros2.sh
# Env:   PERCEPTION_ROS2_PREFIX  where to build (default ~/.cache/ros2-jazzy)
#        PERCEPTION_ROS2_SRC     the folder with build_ros2.sh and the sources (default ../shared/ros2)
#        JOBS, SKIP_APT          passed to build_ros2.sh (compile jobs, default 2; 1 skips apt-get)
# Result: PREFIX/perception-env.sh -- `source` it to use the build from the project's .venv (it sources
#         PREFIX/install/setup.bash and adds the few pure-Python modules launch needs, see below).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${PERCEPTION_ROS2_PREFIX:-$HOME/.cache/ros2-jazzy}
src=${PERCEPTION_ROS2_SRC:-$repo/../shared/ros2}
tarball=$src/ros2-jazzy-minimal-src.tar.gz
stamp=$prefix/.perception-ros2-built

if [ ! -f "$tarball" ] || [ ! -f "$src/build_ros2.sh" ]; then
  echo "setup_ros2: no ROS 2 sources at $src (expected build_ros2.sh and $(basename "$tarball");" \
       "set PERCEPTION_ROS2_SRC)" >&2
  exit 2
fi
mkdir -p "$prefix"
exec 9>"$prefix.lock"          # one build at a time per prefix
flock 9

sources_id="$(sha256sum "$tarball" | cut -d' ' -f1) $(sha256sum "$src/build_ros2.sh" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$sources_id" ] && [ -f "$prefix/perception-env.sh" ]; then
  echo "setup_ros2: already built in $prefix ($(sed -n 2p "$stamp")); source $prefix/perception-env.sh"
  exit 0
fi
if [ -f "$stamp" ]; then
  # a different source set: start over (colcon would mix old and new packages)
  echo "setup_ros2: the sources changed since the last build; rebuilding $prefix"
  rm -rf "$prefix/src" "$prefix/build" "$prefix/install" "$prefix/log" "$stamp"
fi

t0=$SECONDS
# build_ros2.sh runs apt-get for the Debian build dependencies: root only
if [ "$(id -u)" != 0 ] && [ "${SKIP_APT:-0}" != 1 ]; then
  echo "setup_ros2: not root, so skipping apt-get; the build needs cmake g++ make pkg-config" \
       "libyaml-dev libssl-dev libspdlog-dev libfmt-dev libacl1-dev" >&2
  export SKIP_APT=1
fi
if ! JOBS=${JOBS:-2} bash "$src/build_ros2.sh" "$prefix" 2>&1 | tee "$prefix/build.log"; then
  echo "setup_ros2: FAILED building ROS 2 into $prefix after $((SECONDS - t0)) s; the log is" \
       "$prefix/build.log (its last lines above)" >&2
  exit 1
fi
build_s=$((SECONDS - t0))

# The install's Python packages import lark (launch's substitution grammar) and importlib_metadata
# (entry points), which the project's venv does not have: keep them beside the install rather than
# adding them to the venv, so the project's environment stays what pyproject.toml says.
rm -rf "$prefix/pydeps"
"$prefix/venv/bin/python" -m pip install -q --no-deps --target "$prefix/pydeps" \
  "lark==$("$prefix/venv/bin/python" -c 'import lark; print(lark.__version__)')" \
  "importlib-metadata==$("$prefix/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("importlib-metadata"))')" \
  "zipp==$("$prefix/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("zipp"))')"

cat > "$prefix/perception-env.sh" <<ENV
# Made by tools/ros2/setup_ros2.sh: the ROS 2 build in $prefix for any CPython 3.11 environment
# (e.g. the project's .venv) that has numpy, pyyaml, packaging and psutil.
source "$prefix/install/setup.bash"
export PYTHONPATH="\${PYTHONPATH:+\$PYTHONPATH:}$prefix/pydeps"
export RMW_IMPLEMENTATION=rmw_cyclonedds_cpp
ENV
printf '%s\n%s\n' "$sources_id" "built $(date -u +%FT%TZ) in ${build_s} s with JOBS=${JOBS:-2}" > "$stamp"
echo "setup_ros2: built in ${build_s} s; source $prefix/perception-env.sh"
