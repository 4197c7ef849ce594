"""Record the contract topics into one MCAP bag per episode.

    ros2 launch quadruped_bridge record.launch.py out_dir:=bags use_sim_time:=false

Network: the same policy as every entry point (quadruped_bridge.network_policy): the project's
ROS domain, localhost discovery unless network:=lan; domain_id:= picks the domain of the graph
to record.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from quadruped_bridge import network_policy


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("out_dir", default_value="bags"),
        DeclareLaunchArgument("use_sim_time", default_value="false"),
        DeclareLaunchArgument("robot", default_value="go2"),
        *network_policy.launch_arguments(),
        OpaqueFunction(function=network_policy.launch_environment),
        Node(package="quadruped_bridge", executable="recorder_node", name="recorder", output="screen",
             parameters=[{"out_dir": LaunchConfiguration("out_dir"), "robot": LaunchConfiguration("robot"),
                          "use_sim_time": LaunchConfiguration("use_sim_time"),
                          "record_ground_truth": False}]),
    ])
