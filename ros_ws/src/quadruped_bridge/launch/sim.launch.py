"""The simulated Go2 (bridge + safety layer) and the trot locomotion controller.

    ros2 launch quadruped_bridge sim.launch.py real_time_factor:=1.0 camera_size:=64
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    rtf = LaunchConfiguration("real_time_factor")
    size = LaunchConfiguration("camera_size")
    return LaunchDescription([
        DeclareLaunchArgument("real_time_factor", default_value="1.0"),
        DeclareLaunchArgument("camera_size", default_value="64"),
        Node(package="quadruped_bridge", executable="sim_node", name="go2_sim", output="screen",
             parameters=[{"real_time_factor": rtf, "camera_width": size, "camera_height": size}]),
        Node(package="fog_policy", executable="locomotion_node", name="locomotion", output="screen",
             parameters=[{"use_sim_time": True}]),
    ])
