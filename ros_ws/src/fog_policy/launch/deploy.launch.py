"""Run a FoG policy on the robot, the simulator or a bag: bridge backend + locomotion + policy.

    ros2 launch fog_policy deploy.launch.py robot:=sim artifact:=/path/to/artifact
    ros2 launch fog_policy deploy.launch.py robot:=go2 artifact:=... dry_run:=true
    ros2 launch fog_policy deploy.launch.py robot:=replay bag:=bags/episode_0001 artifact:=...

Arguments: robot (sim | go2 | replay), artifact (exported policy folder; default: the bundled
small policy), params_file (default: this package's config/deploy.yaml), use_sim_time (default:
true for sim and replay, false for go2), dry_run (policy publishes on fog_policy/dry_run/* only;
always on for replay), namespace, bag (replay only).
Where `ros2 launch` is not installed (pip-based machines), `fog deploy` starts the same node
classes with the same parameter file in one process.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch_ros.actions import Node, PushRosNamespace

BACKENDS = {"sim": ("quadruped_bridge", "sim_node", "go2_sim"),
            "go2": ("quadruped_bridge", "go2_bridge_node", "go2_bridge"),
            "replay": ("quadruped_bridge", "replay_node", "bag_replay")}


def _nodes(context):
    get = lambda name: context.launch_configurations[name]  # noqa: E731
    robot = get("robot")
    if robot not in BACKENDS:
        raise RuntimeError(f"robot:={robot!r}: expected one of {sorted(BACKENDS)}")
    share = get_package_share_directory("fog_policy")
    params = get("params_file") or os.path.join(share, "config", "deploy.yaml")
    artifact = get("artifact") or os.path.join(share, "artifacts", "pushcube")
    sim_time = get("use_sim_time") or ("false" if robot == "go2" else "true")
    sim_time = sim_time.lower() == "true"
    dry_run = robot == "replay" or get("dry_run").lower() == "true"
    package, executable, name = BACKENDS[robot]
    backend_params = [params, {"use_sim_time": sim_time}] if robot != "replay" else [params, {"bag": get("bag")}]
    nodes = [Node(package=package, executable=executable, name=name, output="screen", parameters=backend_params)]
    if robot != "replay":
        nodes.append(Node(package="fog_policy", executable="locomotion_node", name="locomotion", output="screen",
                          parameters=[params, {"use_sim_time": sim_time}]))
    nodes.append(Node(package="fog_policy", executable="policy_node", name="fog_policy", output="screen",
                      parameters=[params, {"use_sim_time": sim_time, "artifact": artifact, "dry_run": dry_run,
                                           "trigger": "image" if robot == "replay" else "timer"}]))
    return [GroupAction([PushRosNamespace(get("namespace")), *nodes])]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="sim", description="sim | go2 | replay"),
        DeclareLaunchArgument("artifact", default_value="", description="exported policy folder"),
        DeclareLaunchArgument("params_file", default_value="", description="ROS 2 parameters file"),
        DeclareLaunchArgument("use_sim_time", default_value="", description="default: true unless robot:=go2"),
        DeclareLaunchArgument("dry_run", default_value="false", description="publish on fog_policy/dry_run/* only"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for every node"),
        DeclareLaunchArgument("bag", default_value="", description="bag to replay (robot:=replay)"),
        OpaqueFunction(function=_nodes),
    ])
