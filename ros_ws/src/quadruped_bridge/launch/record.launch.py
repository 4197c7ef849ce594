"""Record the contract topics into one MCAP bag per episode.

    ros2 launch quadruped_bridge record.launch.py out_dir:=bags use_sim_time:=false
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("out_dir", default_value="bags"),
        DeclareLaunchArgument("use_sim_time", default_value="false"),
        DeclareLaunchArgument("robot", default_value="go2"),
        Node(package="quadruped_bridge", executable="recorder_node", name="recorder", output="screen",
             parameters=[{"out_dir": LaunchConfiguration("out_dir"), "robot": LaunchConfiguration("robot"),
                          "use_sim_time": LaunchConfiguration("use_sim_time"),
                          "record_ground_truth": False}]),
    ])
