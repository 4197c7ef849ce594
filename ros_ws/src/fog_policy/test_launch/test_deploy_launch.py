"""launch_pytest tests of deploy.launch.py, for machines with ROS 2's launch installed.

`make test` collects them; they run where ROS 2's `launch`, `launch_ros` and `launch_pytest` are
installed (the deploy Docker image, docker/Dockerfile.deploy; the robot; a ROS 2 install with the
project's venv), under the pinned pytest thanks to conftest.py beside this file and pytest.ini's
`-p no:launch_testing`. Those packages are not installable from PyPI, so in the pip environment the
module is skipped with that reason; there the same nodes are started as processes by
../test/integration/test_policy_node.py and test_locomotion_node.py. The artifact (../test_data/) is
an untrained policy exported through `fog export`'s code path (fog_training.untrained_artifact).
"""

import os
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    "launch_pytest", reason="ROS 2's launch_pytest is not installed (not on PyPI: the deploy Docker image has it)")
from ament_index_python.packages import get_package_share_directory  # noqa: E402  (after the skip)
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from quadruped_bridge.ros_probe import RosProbe, private_domain_id  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

ARTIFACT = str(Path(__file__).resolve().parents[1] / "test_data" / "untrained_artifact")
DEPLOY = os.path.join(get_package_share_directory("fog_policy"), "launch", "deploy.launch.py")
DOMAIN = private_domain_id()  # both tests' launches (one at a time) and their probes; localhost discovery


def deploy(**arguments):
    return LaunchDescription(
        [
            IncludeLaunchDescription(PythonLaunchDescriptionSource(DEPLOY), launch_arguments=arguments.items()),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@launch_pytest.fixture
def sim_deployment():
    return deploy(robot="sim", artifact=ARTIFACT, domain_id=str(DOMAIN), network="localhost")


@launch_pytest.fixture
def dry_run_deployment():
    return deploy(robot="sim", artifact=ARTIFACT, dry_run="true", domain_id=str(DOMAIN), network="localhost")


def collect_until(topics, done, timeout, what):
    """Watch `topics` ({name: type}) until `done(got)`; fail naming what was awaited and what came."""
    probe = RosProbe(DOMAIN, use_sim_time=False, name="deploy_launch_probe")
    got = {name: probe.watch(msg_type, name, qos=QoSProfile(depth=50)) for name, msg_type in topics.items()}
    try:
        ok = probe.spin_until(lambda: done(got), timeout)
    finally:
        probe.close()
    assert ok, f"awaited {what} for {timeout:.0f} s; got " + str({name: len(v) for name, v in got.items()})
    return got


def diag_names(got):
    return {st.name for d in got["/diagnostics"] for st in d.status}


NODES = {"fog_policy: policy", "fog_policy: locomotion", "quadruped_bridge: go2_sim"}


@pytest.mark.launch(fixture=sim_deployment)
def test_sim_deployment_commands_the_robot():
    # the policy commands once the locomotion node is ready (stood up, trotted in place): on a loaded
    # machine the simulator runs slower than real time, so wait for it rather than for a fixed time
    collect_until({"cmd_vel": Twist, "joint_commands": JointState, "/diagnostics": DiagnosticArray},
                  lambda got: len(got["cmd_vel"]) > 20 and len(got["joint_commands"]) > 500
                  and NODES <= diag_names(got), 240,
                  "21 cmd_vel from the policy, 501 joint_commands from the locomotion node and reports from "
                  f"{sorted(NODES)}")


@pytest.mark.launch(fixture=dry_run_deployment)
def test_dry_run_publishes_only_on_the_dry_run_topic():
    got = collect_until({"cmd_vel": Twist, "fog_policy/dry_run/cmd_vel": Twist},
                        lambda got: len(got["fog_policy/dry_run/cmd_vel"]) >= 10, 240, "10 dry-run outputs")
    assert not got["cmd_vel"], "dry run must not command the robot"
