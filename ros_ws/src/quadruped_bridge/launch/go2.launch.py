"""The real Go2: bridge node (rt/lowstate, rt/lowcmd <-> contract topics) and front camera.

    ros2 launch quadruped_bridge go2.launch.py network_interface:=eth0
    ros2 launch quadruped_bridge go2.launch.py camera:=false             # bridge only
    ros2 launch quadruped_bridge go2.launch.py params_file:=/path/to/my_go2.yaml

Parameters come from config/go2.yaml (every key documented by Go2BridgeConfig / CameraNodeConfig);
network_interface and real_robot given here override it. On pip-based machines without ROS 2's
launch, start the same executables with quadruped_bridge.process_launch (see docs/BRINGUP.md).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("quadruped_bridge"), "config", "go2.yaml")
    params = LaunchConfiguration("params_file")
    interface = LaunchConfiguration("network_interface")
    real = ParameterValue(LaunchConfiguration("real_robot"), value_type=bool)
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=default_params, description="bridge and camera parameters"),
        DeclareLaunchArgument("network_interface", default_value="eth0", description="interface wired to the Go2"),
        DeclareLaunchArgument("real_robot", default_value="true", description="allow DDS domain 0 (the robot's)"),
        DeclareLaunchArgument("camera", default_value="true", description="start the front camera node"),
        Node(package="quadruped_bridge", executable="go2_bridge_node", name="go2_bridge", output="screen",
             parameters=[params, {"network_interface": interface, "real_robot": real}],
             additional_env={"RMW_IMPLEMENTATION": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")}),
        Node(package="quadruped_bridge", executable="camera_node", name="camera", output="screen",
             parameters=[params, {"go2_network_interface": interface, "real_robot": real}],
             condition=IfCondition(LaunchConfiguration("camera"))),
    ])
