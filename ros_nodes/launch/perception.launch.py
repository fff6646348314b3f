"""Launch the perception lifecycle node, configure and activate it.

    ros2 launch perception_ros perception.launch.py model_path:=/models/nano.onnx backend:=tensorrt
    ros2 launch perception_ros perception.launch.py params_file:=/robot/perception.yaml namespace:=front

Parameters: the node's defaults, then ``params_file``, then ``model_path:=`` / ``backend:=`` when they
are given on the command line (later wins, as rcl merges parameter sources). An empty launch argument
sets nothing, so a ``model_path`` in the user's params file is not replaced by the launch default.
"""
import os

import launch
import launch.actions
import launch.conditions
import launch.events
import launch_ros.actions
import launch_ros.event_handlers
import launch_ros.events.lifecycle
import lifecycle_msgs.msg
from ament_index_python.packages import get_package_share_directory
from launch.substitutions import LaunchConfiguration

OVERRIDES = ('model_path', 'backend')     # launch arguments that override the params file when set


def _transition(node, transition_id):
    return launch.actions.EmitEvent(event=launch_ros.events.lifecycle.ChangeState(
        lifecycle_node_matcher=launch.events.matches_action(node), transition_id=transition_id))


def _node_and_autostart(context):
    overrides = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDES}
    parameters = [LaunchConfiguration('params_file')]
    if any(overrides.values()):
        parameters.append({name: value for name, value in overrides.items() if value})
    node = launch_ros.actions.LifecycleNode(
        package='perception_ros', executable='perception_node', name='perception_node',
        namespace=LaunchConfiguration('namespace'), output='screen', parameters=parameters)
    autostart = launch.conditions.IfCondition(LaunchConfiguration('autostart'))
    # configure at start; activate once configuring succeeded (the model is loaded there). Only the
    # configuring -> inactive edge: deactivating also ends in inactive, and a manual deactivate
    # must stay deactivated.
    configure = _transition(node, lifecycle_msgs.msg.Transition.TRANSITION_CONFIGURE)
    activate_when_configured = launch.actions.RegisterEventHandler(
        launch_ros.event_handlers.OnStateTransition(
            target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
            entities=[_transition(node, lifecycle_msgs.msg.Transition.TRANSITION_ACTIVATE)]),
        condition=autostart)
    return [node, activate_when_configured, launch.actions.GroupAction([configure], condition=autostart)]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory('perception_ros'), 'config',
                                  'params.yaml')
    return launch.LaunchDescription([
        launch.actions.DeclareLaunchArgument(
            'params_file', default_value=default_params,
            description='ROS 2 parameters file (top key /**/perception_node matches any namespace)'),
        launch.actions.DeclareLaunchArgument(
            'model_path', default_value='', description='overrides model_path of params_file when set'),
        launch.actions.DeclareLaunchArgument(
            'backend', default_value='', description='overrides backend of params_file when set'),
        launch.actions.DeclareLaunchArgument('namespace', default_value=''),
        launch.actions.DeclareLaunchArgument('autostart', default_value='true'),
        launch.actions.OpaqueFunction(function=_node_and_autostart),
    ])
