"""Launch the perception lifecycle node, configure and activate it.

    ros2 launch perception_ros perception.launch.py model_path:=/models/nano.onnx backend:=tensorrt
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


def _transition(node, transition_id):
    return launch.actions.EmitEvent(event=launch_ros.events.lifecycle.ChangeState(
        lifecycle_node_matcher=launch.events.matches_action(node), transition_id=transition_id))


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory('perception_ros'), 'config',
                                  'params.yaml')
    args = [
        launch.actions.DeclareLaunchArgument('params_file', default_value=default_params),
        launch.actions.DeclareLaunchArgument('model_path', default_value=''),
        launch.actions.DeclareLaunchArgument('backend', default_value='onnxruntime'),
        launch.actions.DeclareLaunchArgument('namespace', default_value=''),
        launch.actions.DeclareLaunchArgument('autostart', default_value='true'),
    ]
    node = launch_ros.actions.LifecycleNode(
        package='perception_ros', executable='perception_node', name='perception_node',
        namespace=LaunchConfiguration('namespace'), output='screen',
        parameters=[LaunchConfiguration('params_file'),
                    {'model_path': LaunchConfiguration('model_path'),
                     'backend': LaunchConfiguration('backend')}])
    autostart = launch.conditions.IfCondition(LaunchConfiguration('autostart'))
    # configure at start; activate once configuring succeeded (the model is loaded there)
    configure = _transition(node, lifecycle_msgs.msg.Transition.TRANSITION_CONFIGURE)
    activate_when_inactive = launch.actions.RegisterEventHandler(
        launch_ros.event_handlers.OnStateTransition(
            target_lifecycle_node=node, goal_state='inactive',
            entities=[_transition(node, lifecycle_msgs.msg.Transition.TRANSITION_ACTIVATE)]),
        condition=autostart)
    return launch.LaunchDescription(args + [
        node, activate_when_inactive,
        launch.actions.GroupAction([configure], condition=autostart)])
