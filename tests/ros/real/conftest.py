"""Fixtures of the tests that need a real ROS 2 (rclpy, rmw_cyclonedds_cpp, launch_ros).

They are collected only where rclpy imports, i.e. with a ROS 2 environment sourced; elsewhere
tests/ros/test_ros2_real.py runs them in a subprocess with the build of tools/ros2/setup_ros2.sh.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_ROS = Path(__file__).resolve().parents[1]
REPO = TESTS_ROS.parents[1]
sys.path.insert(0, str(TESTS_ROS))    # ros_testkit, core_harness, wire_rig, ros2_env

try:
    import rclpy
except ImportError:
    rclpy = None

if rclpy is None:
    collect_ignore_glob = ['test_*.py']
else:
    from perception.ros.dds import loopback_config
    import ros2_env
    # This session's ROS traffic stays apart from other runs on the machine: loopback only, and a
    # domain of its own, outside the CycloneDDS-shim tests' range and with its ports outside the
    # kernel's ephemeral range (ros2_env.REAL_ROS_DOMAINS). Set before any rclpy.init.
    domains = ros2_env.REAL_ROS_DOMAINS
    os.environ.setdefault('ROS_DOMAIN_ID', str(domains[os.getpid() % len(domains)]))
    os.environ['CYCLONEDDS_URI'] = loopback_config()
    os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_cyclonedds_cpp')


@pytest.fixture(scope='session', autouse=True)
def ros_log_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp('ros_log')
    os.environ['ROS_LOG_DIR'] = str(path)          # launch and the node write their logs here
    return path


@pytest.fixture(scope='session')
def nano_onnx(tmp_path_factory) -> Path:
    """The nano network exported by `perception export` (random weights, 128x160): what a user deploys.
    In its own process, so torch never shares one with rclpy."""
    out = tmp_path_factory.mktemp('nano') / 'nano.onnx'
    cmd = [sys.executable, '-m', 'perception.cli', 'export',
           str(REPO / 'configs' / '_base_' / 'models' / 'nano.py'), '--output', str(out),
           '--shape', '128', '160', '--parity-synthetic', '1']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and out.is_file(), \
        f'export failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}'
    return out


@pytest.fixture(scope='session')
def ros_workspace(tmp_path_factory) -> Path:
    """ros_nodes built by colcon into a fresh workspace, run as ``<this interpreter> -m colcon`` so
    the node's entry point starts this interpreter (the venv flow of ros_nodes/README.md); returns
    the workspace's ``install/local_setup.bash``."""
    import ros2_env
    ws = tmp_path_factory.mktemp('ros_ws')
    proc = ros2_env.colcon_build_nodes(ws, 300)
    assert proc.returncode == 0, f'colcon build failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}'
    script = ws / 'install' / 'perception_ros' / 'lib' / 'perception_ros' / 'perception_node'
    assert script.read_text().splitlines()[0] == f'#!{sys.executable}', 'entry point interpreter'
    return ws / 'install' / 'local_setup.bash'


@pytest.fixture
def ros_context():
    rclpy.init()
    yield
    rclpy.try_shutdown()
