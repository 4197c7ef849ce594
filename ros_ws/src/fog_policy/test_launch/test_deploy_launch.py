"""launch_pytest tests of deploy.launch.py, for machines with ROS 2's launch installed.

ROS 2's `launch`, `launch_ros` and `launch_pytest` are not installable from PyPI, so these run in
the deploy Docker image (docker/Dockerfile.deploy: `python3 -m pytest src/fog_policy/test_launch`)
and on the robot, not in `make test`; there the same nodes are started as processes by
test_policy_integration.py and test_sim_locomotion_integration.py. The artifact beside this file
is an untrained policy exported through `fog export`'s code path (fog_training.untrained_artifact).
"""

import os
import time
from pathlib import Path

import launch_pytest
import pytest
import rclpy
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from sensor_msgs.msg import JointState

ARTIFACT = str(Path(__file__).resolve().parent / "untrained_artifact")
DEPLOY = os.path.join(get_package_share_directory("fog_policy"), "launch", "deploy.launch.py")


def deploy(**arguments):
    return LaunchDescription(
        [
            IncludeLaunchDescription(PythonLaunchDescriptionSource(DEPLOY), launch_arguments=arguments.items()),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@launch_pytest.fixture
def sim_deployment():
    return deploy(robot="sim", artifact=ARTIFACT)


@launch_pytest.fixture
def dry_run_deployment():
    return deploy(robot="sim", artifact=ARTIFACT, dry_run="true")


def collect(topics, seconds):
    rclpy.init()
    node = rclpy.create_node("deploy_launch_probe")
    got = {name: [] for name in topics}
    for name, msg_type in topics.items():
        node.create_subscription(msg_type, name, lambda m, n=name: got[n].append(m), 50)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.shutdown()
    return got


@pytest.mark.launch(fixture=sim_deployment)
def test_sim_deployment_commands_the_robot():
    got = collect({"cmd_vel": Twist, "joint_commands": JointState, "/diagnostics": DiagnosticArray}, 40.0)
    assert len(got["cmd_vel"]) > 20, "the policy never commanded"
    assert len(got["joint_commands"]) > 500, "the locomotion controller never commanded"
    names = {st.name for d in got["/diagnostics"] for st in d.status}
    assert {"fog_policy: policy", "fog_policy: locomotion", "quadruped_bridge: go2_sim"} <= names


@pytest.mark.launch(fixture=dry_run_deployment)
def test_dry_run_publishes_only_on_the_dry_run_topic():
    got = collect({"cmd_vel": Twist, "fog_policy/dry_run/cmd_vel": Twist}, 30.0)
    assert got["fog_policy/dry_run/cmd_vel"], "no dry-run output"
    assert not got["cmd_vel"], "dry run must not command the robot"
