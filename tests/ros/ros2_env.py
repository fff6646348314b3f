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


# --- DDS domains of the test runs ----------------------------------------------------------------
# A domain's RTPS ports are 7400 + 250 * domain + {0, 1, 10 + 2 * participant, 11 + 2 * participant}
# (the DDSI port mapping CycloneDDS uses by default). Domains 102-214 put them inside Linux's default
# ephemeral range (32768-60999), where a port the kernel lent to any other socket makes discovery
# fail at random. The CycloneDDS-shim tests and the real-ROS 2 tests take disjoint ranges below and
# above it, so that concurrent runs of both never share a domain.
DDS_SHIM_DOMAINS = range(1, 101)
REAL_ROS_DOMAINS = range(215, 233)       # 232: the highest domain ROS 2 allows on Linux


def dds_ports(domain: int, participants: int = 32) -> range:
    """The UDP ports a domain's participants (up to ``participants``) may bind."""
    base = 7400 + 250 * domain
    return range(base, base + 12 + 2 * participants)


def colcon_build_nodes(ws: Path, timeout_s: float):
    """``ros_nodes`` built by colcon into workspace ``ws``, run as ``<this interpreter> -m colcon``
    so that the node's entry point starts this interpreter (the venv flow of ros_nodes/README.md);
    returns the finished ``subprocess.CompletedProcess`` (output captured) for the caller to check."""
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.environ.get('PYTHONPATH', ''),
                                                       colcon_pythonpath()]))
    cmd = [sys.executable, '-m', 'colcon', '--log-base', str(ws / 'log'), 'build',
           '--base-paths', str(repo / 'ros_nodes'), '--build-base', str(ws / 'build'),
           '--install-base', str(ws / 'install'), '--event-handlers', 'console_direct-']
    return subprocess.run(cmd, cwd=ws, env=env, capture_output=True, text=True, timeout=timeout_s)
