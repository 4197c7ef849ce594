"""The real Go2: bridge node (rt/lowstate, rt/lowcmd <-> contract topics) and front camera.

    ros2 launch quadruped_bridge go2.launch.py network_interface:=eth0 robot_domain:=0 real_robot:=true
    ros2 launch quadruped_bridge go2.launch.py camera:=false             # bridge only
    ros2 launch quadruped_bridge go2.launch.py params_file:=/path/to/my_go2.yaml

Parameters come from config/go2.yaml (every key documented by Go2BridgeConfig / CameraNodeConfig);
network_interface, robot_domain and real_robot given here override it. real_robot defaults to
false: the robot's DDS domain 0 is refused unless real_robot:=true is on the command line.
Network (quadruped_bridge.network_policy): the ROS graph on the project's domain (42 unless
domain_id:=, ROS_DOMAIN_ID or FOG_ROS_DOMAIN_ID), localhost discovery unless network:=lan; the
bridge refuses a ROS domain equal to the robot's. If the bridge exits, the launch stops (non-zero
when it refused or failed). security:=true keystore:=PATH runs both nodes in their SROS2 enclaves.
On pip-based machines without ROS 2's launch, start the same executables with
quadruped_bridge.process_launch (see docs/BRINGUP.md).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch_ros.actions import Node
from quadruped_bridge import network_policy
from quadruped_bridge.sros2_keystore import ENCLAVES


def _bridge_exited(event, _context):
    if event.returncode not in (0, None):
        raise RuntimeError(f"{event.action.name} exited with code {event.returncode}: stopping the launch")
    return [EmitEvent(event=Shutdown(reason=f"{event.action.name} exited"))]


def _nodes(context):
    get = context.launch_configurations.__getitem__
    actions = network_policy.launch_environment(context)
    secure = get("security").lower() == "true"
    if secure:
        if not get("keystore"):
            raise RuntimeError("security:=true needs keystore:=PATH (create one with `fog security init --out PATH`)")
        actions += [SetEnvironmentVariable("ROS_SECURITY_ENABLE", "true"),
                    SetEnvironmentVariable("ROS_SECURITY_STRATEGY", "Enforce"),
                    SetEnvironmentVariable("ROS_SECURITY_KEYSTORE", os.path.abspath(get("keystore")))]
    enclave = lambda name: ["--enclave", ENCLAVES[name]] if secure else []  # noqa: E731
    real = get("real_robot").lower() == "true"
    robot = {"network_interface": get("network_interface"), "dds_domain_id": int(get("robot_domain")),
             "real_robot": real}
    params = get("params_file")
    bridge = Node(package="quadruped_bridge", executable="go2_bridge_node", name="go2_bridge", output="screen",
                  parameters=[params, robot], ros_arguments=enclave("go2_bridge"),
                  additional_env={"RMW_IMPLEMENTATION": os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")})
    actions.append(bridge)
    if get("camera").lower() == "true":
        actions.append(Node(package="quadruped_bridge", executable="camera_node", name="camera", output="screen",
                            parameters=[params, {"go2_network_interface": get("network_interface"),
                                                 "go2_dds_domain_id": int(get("robot_domain")), "real_robot": real}],
                            ros_arguments=enclave("camera")))
    actions.append(RegisterEventHandler(OnProcessExit(target_action=bridge, on_exit=_bridge_exited)))
    return actions


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("quadruped_bridge"), "config", "go2.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=default_params, description="bridge and camera parameters"),
        DeclareLaunchArgument("network_interface", default_value="eth0", description="interface wired to the Go2"),
        DeclareLaunchArgument("robot_domain", default_value="0", description="the robot's CycloneDDS domain"),
        DeclareLaunchArgument("real_robot", default_value="false",
                              description="the real robot: allow its DDS domain 0 (set on the command line)"),
        DeclareLaunchArgument("camera", default_value="true", description="start the front camera node"),
        DeclareLaunchArgument("security", default_value="false", description="SROS2: run the nodes in their enclaves"),
        DeclareLaunchArgument("keystore", default_value="", description="SROS2 keystore (fog security init)"),
        *network_policy.launch_arguments(),
        OpaqueFunction(function=_nodes),
    ])
