"""The VGA budget rig (tools/ros_vga_rig.py, issue 25) through real ROS 2: perception_node started
by ``ros2 launch perception_ros perception.launch.py`` from the colcon workspace, rclpy cameras
(images and CameraInfo of a colour, a thermal of another size and a depth camera at other poses)
and an rclpy recorder taking each output's source timestamp from rclpy's MessageInfo. Behaviour
only, as tests/ros/test_ros_vga_rig.py on the CycloneDDS shim (whose checks these are)."""
import pytest
from test_ros_vga_rig import check_behaviour, vga


def test_vga_rig_small_through_rclpy(ros_workspace, tmp_path, capsys):
    """The rig scaled to a 160-pixel-wide colour camera, 1.5 s at 30 Hz, ros_testkit's 5 ms
    predictor behind the launch file."""
    result = vga.run('rclpy', seconds=1.5, model='ros_testkit:toy_predictor_5ms', width=160,
                     warmup_s=0.5, workdir=tmp_path, workspace=ros_workspace)
    figures = vga.figures(result)
    check_behaviour(result, figures)
    with capsys.disabled():
        print('\n' + vga.table(figures))


@pytest.mark.slow
def test_vga_rig_with_exported_nano_through_rclpy(ros_workspace, tmp_path, capsys):
    """At VGA with the nano exported for rgb+thermal+depth at 480x640, 5 s at 30 Hz: behaviour
    checks and the budget table printed (no bounds)."""
    result = vga.run('rclpy', seconds=5.0, model=None, width=640, workdir=tmp_path,
                     workspace=ros_workspace)
    figures = vga.figures(result)
    check_behaviour(result, figures)
    assert figures['node_ms']['inference'] > 0
    with capsys.disabled():
        print('\n' + vga.table(figures))
