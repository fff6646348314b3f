"""The ROS 2 that tools/ros2/setup_ros2.sh builds (a minimal Jazzy from ../shared/ros2): where it is and
how to run a command with its environment sourced."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

PREFIX_ENV = 'PERCEPTION_ROS2_PREFIX'        # the build folder (default ~/.cache/ros2-jazzy)
REQUIRED_ENV = 'PERCEPTION_ROS2_REQUIRED'    # 1: a missing build fails the tests instead (make test-ros)


def prefix() -> Path:
    return Path(os.environ.get(PREFIX_ENV) or Path.home() / '.cache' / 'ros2-jazzy')


def env_script() -> Optional[Path]:
    """``PREFIX/perception-env.sh`` once setup_ros2.sh has finished a build there, else None."""
    script = prefix() / 'perception-env.sh'
    built = (prefix() / '.perception-ros2-built').is_file()
    return script if built and script.is_file() else None


def python_version() -> str:
    """The CPython version the build's Python packages are for (its install/lib/pythonX.Y)."""
    lib = next((prefix() / 'install' / 'lib').glob('python3.*'), None)
    return lib.name[len('python'):] if lib else ''


def required() -> bool:
    return os.environ.get(REQUIRED_ENV, '').lower() in ('1', 'true', 'yes')


def missing_reason() -> str:
    return (f'no ROS 2 build at {prefix()}: run tools/ros2/setup_ros2.sh (or make test-ros, which '
            f'builds it once, ~9 min on 2 cores); {PREFIX_ENV} chooses another folder')


def colcon_pythonpath() -> str:
    """Where colcon lives: the build's own tool venv. Run as ``<interpreter> -m colcon`` with this on
    PYTHONPATH, the console scripts colcon installs start that interpreter (ros_nodes/README.md)."""
    return str(next((prefix() / 'venv' / 'lib').glob('python3*/site-packages')))


def sourced(cmd: List[str], script: Path) -> List[str]:
    """``cmd`` run by bash after ``source script`` (a ROS 2 setup file)."""
    return ['bash', '-c', 'source "$0" && exec "$@"', str(script), *cmd]
