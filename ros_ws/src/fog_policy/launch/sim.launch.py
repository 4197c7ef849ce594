"""The simulated Go2 (bridge + safety layer) and the trot locomotion controller.

    ros2 launch fog_policy sim.launch.py real_time_factor:=1.0 camera_size:=64
    ros2 launch fog_policy sim.launch.py network:=lan domain_id:=7     (open to the subnet, deliberately)

Network (quadruped_bridge.network_policy): the project's ROS domain (42 unless domain_id:=,
ROS_DOMAIN_ID or FOG_ROS_DOMAIN_ID say otherwise) with localhost discovery unless network:=lan.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from quadruped_bridge import network_policy


def generate_launch_description():
    rtf = LaunchConfiguration("real_time_factor")
    size = LaunchConfiguration("camera_size")
    return LaunchDescription([
        DeclareLaunchArgument("real_time_factor", default_value="1.0"),
        DeclareLaunchArgument("camera_size", default_value="64"),
        *network_policy.launch_arguments(),
        OpaqueFunction(function=network_policy.launch_environment),
        Node(package="quadruped_bridge", executable="sim_node", name="go2_sim", output="screen",
             parameters=[{"real_time_factor": rtf, "camera_width": size, "camera_height": size}]),
        Node(package="fog_policy", executable="locomotion_node", name="locomotion", output="screen",
             parameters=[{"use_sim_time": True}]),
    ])
