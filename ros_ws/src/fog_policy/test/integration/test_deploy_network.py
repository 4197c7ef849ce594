"""`fog deploy` and the network policy, seen from a second process: the project's domain with
localhost discovery when no ROS variable is set; --robot go2 with the robot's interface and domain
from its arguments, and each refusal (domain 0 without --real-robot, a ROS domain equal to the
robot's) stopping everything with exit code 2 before the policy runs."""

import os
import sys

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from quadruped_bridge.go2_dds import cyclonedds_uri
from quadruped_bridge.process_launch import ProcessGroup, ros_env
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id
from sensor_msgs.msg import JointState

pytestmark = pytest.mark.integration
ROS_VARIABLES = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")
NODES = ("quadruped_bridge: go2", "fog_policy: locomotion", "fog_policy: policy")


def fog(verb: str, *args: str) -> list[str]:
    """`fog <verb> ...` as the fog CLI (fog_training.cli, a layer above) runs it: the verb's module main
    (training/tests/unit/test_cli.py checks the CLI's table names these modules)."""
    module = {"deploy": "fog_policy.deploy", "collect": "fog_policy.collect"}[verb]
    return [sys.executable, "-m", module, *args]


def user_env(**extra) -> dict[str, str]:
    """A user's environment: no ROS variable set."""
    env = {k: v for k, v in os.environ.items() if k not in ROS_VARIABLES}
    env.update({"PYTHONUNBUFFERED": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), **extra})
    return env


def wait_nodes_report(probe, proc, domain, timeout=120.0):
    """Every node of the stack reports, on /diagnostics, the domain the probe listens on and LOCALHOST."""
    diags = probe.messages["/diagnostics"]

    def reported():
        text = {name: diagnostics_text([d for d in diags if d.status[0].name.startswith(name)][-1:]) for name in NODES}
        return all(f"ros_domain_id={domain}" in t and "discovery_range=LOCALHOST" in t for t in text.values())

    ok = probe.spin_until(lambda: reported() or not proc.alive(), timeout)
    assert ok and proc.alive(), f"log:\n{proc.log()[-3000:]}\ndiagnostics:\n{diagnostics_text(diags[-6:])}"


def test_fog_deploy_sim_without_ros_variables_runs_on_the_project_domain_localhost(tmp_path):
    domain = private_domain_id()  # the project default, set as a user would configure it (FOG_ROS_DOMAIN_ID)
    probe = RosProbe(domain, use_sim_time=False)
    probe.watch(DiagnosticArray, "/diagnostics")
    try:
        with ProcessGroup(tmp_path, user_env(FOG_ROS_DOMAIN_ID=str(domain))) as group:
            proc = group.start("deploy", fog("deploy", "--robot", "sim"))
            wait_nodes_report(probe, proc, domain)
            said = f"[deploy] network: ROS domain {domain} (FOG_ROS_DOMAIN_ID), discovery LOCALHOST (project default)"
            assert said in proc.log()
    finally:
        probe.close()


def test_fog_deploy_go2_against_the_fake_go2_with_interface_and_domain_from_arguments(tmp_path):
    ros_domain = private_domain_id()
    robot_domain = 1 + ros_domain % 100
    probe = RosProbe(ros_domain, use_sim_time=False)
    probe.watch(DiagnosticArray, "/diagnostics")
    joints = probe.watch(JointState, "joint_states", sensor=True)
    try:
        with ProcessGroup(tmp_path, ros_env(ros_domain, {"CYCLONEDDS_URI": cyclonedds_uri("lo")})) as group:
            group.start("fake_go2", [sys.executable, "-m", "quadruped_bridge.fake_go2", "--domain", str(robot_domain),
                                     "--interface", "lo", "--model", "joints", "--start-pose", "stand"])
            proc = group.start("deploy", fog("deploy", "--robot", "go2", "--network-interface", "lo",
                                             "--robot-domain", str(robot_domain)))
            wait_nodes_report(probe, proc, ros_domain)
            bridge = lambda: diagnostics_text([d for d in probe.messages["/diagnostics"]  # noqa: E731
                                               if d.status[0].name == "quadruped_bridge: go2"][-1:])
            assert probe.spin_until(lambda: "lowlevel=granted" in bridge() and len(joints) > 10, timeout=30), (
                f"awaited lowlevel=granted and 11 joint_states; got {len(joints)} joint_states and:\n{bridge()}")
            assert f"dds_domain_id={robot_domain}" in bridge() and "network_interface=lo" in bridge()
            group.check_alive()
    finally:
        probe.close()


@pytest.mark.parametrize("case", ["robot_domain_0", "shared_domain"])
def test_fog_deploy_go2_refusals_stop_everything(case, tmp_path):
    ros_domain = private_domain_id()
    args = ["--robot-domain", "0"] if case == "robot_domain_0" else ["--robot-domain", str(ros_domain)]
    with ProcessGroup(tmp_path, ros_env(ros_domain, {"CYCLONEDDS_URI": cyclonedds_uri("lo")})) as group:
        proc = group.start("deploy", fog("deploy", "--robot", "go2", "--network-interface", "lo", *args))
        assert proc.popen.wait(timeout=120) == 2, proc.log()
    log = proc.log()
    expected = "refusing to start on DDS domain 0" if case == "robot_domain_0" else "must never share the robot's"
    assert expected in log and "backend refused to start, nothing else runs" in log, log
    assert "[deploy] robot=" not in log, log  # the policy never started


def test_deploy_params_file_holds_only_declared_parameters():
    """Every key of config/deploy.yaml is a parameter its node declares, of the right type (ROS ignores
    an unknown one silently: a safety setting under an old name would simply not apply)."""
    from pathlib import Path

    import yaml
    from fog_policy.locomotion_node import LocomotionConfig
    from fog_policy.policy_node import PolicyNodeConfig
    from quadruped_bridge.go2_bridge_node import Go2BridgeConfig
    from quadruped_bridge.replay_node import ReplayConfig
    from quadruped_bridge.ros_params import params_file_problems
    from quadruped_bridge.sim_node import SimNodeConfig

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "deploy.yaml").read_text())
    nodes = {"go2_sim": SimNodeConfig, "go2_bridge": Go2BridgeConfig, "locomotion": LocomotionConfig,
             "fog_policy": PolicyNodeConfig, "bag_replay": ReplayConfig}
    assert set(config) == set(nodes), f"deploy.yaml's nodes {sorted(config)}"
    for node, cls in nodes.items():
        problems = params_file_problems(cls, config[node]["ros__parameters"])
        assert not problems, f"deploy.yaml, {node}: {problems}"
    assert config["go2_sim"]["ros__parameters"]["safety"]["kp"] == 50.0
