"""`fog deploy` (fog_policy.deploy) and the processes it and deploy.launch.py run, seen from a second process.

Clean exits (issue 16): every process that starts ROS nodes ends with exit code 0 and no traceback
on SIGINT, on SIGTERM and at its own end (`--duration`, the end of a bag, a node's `duration`). The
nodes run as processes the way a launch file runs them (all signalled at once, while they talk to
each other: the simulator in lockstep with the controller, the policy active, the recorder
writing); `fog deploy` runs as the `fog` verb. Each process has its own session: a signal goes to
its process group, as Ctrl-C in a terminal does.

The network policy: the project's domain with localhost discovery when no ROS variable is set;
--robot go2 with the robot's interface and domain from its arguments, and each refusal (domain 0
without --real-robot, a ROS domain equal to the robot's) stopping everything with exit code 2
before the policy runs. And config/deploy.yaml names only parameters its nodes declare.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_policy.deploy import default_artifact
from quadruped_bridge.go2_dds import cyclonedds_uri
from quadruped_bridge.process_launch import ManagedProcess, ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

pytestmark = pytest.mark.integration
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
ROS_VARIABLES = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")
NODES = ("quadruped_bridge: go2", "fog_policy: locomotion", "fog_policy: policy")


def wait_log(proc: ManagedProcess, text: str, timeout: float) -> None:
    wait_for(lambda: text in proc.log() or not proc.alive(), timeout, interval=0.05)
    assert text in proc.log() or proc.alive(), (
        f"{proc.name} exited with {proc.popen.returncode} before {text!r}:\n{proc.log()[-3000:]}"
    )
    assert text in proc.log(), f"{proc.name}: no {text!r} within {timeout:.0f} s:\n{proc.log()[-3000:]}"


@pytest.fixture(scope="module")
def bag(tmp_path_factory, robot_bag):
    path = tmp_path_factory.mktemp("exit_bag") / "bag"
    robot_bag(path, 1.5)
    return path


def policy_active(diags) -> bool:
    return any(
        st.name == "fog_policy: policy" and st.message not in ("unconfigured", "configured")
        for d in diags
        for st in d.status
    )


@pytest.mark.parametrize("how", sorted(SIGNALS))
def test_nodes_exit_0_when_signalled_together(how, bag, tmp_path, exit_problems):
    """The simulator, locomotion, policy, recorder, exploration and replay nodes, stopped as a launch stops them."""
    domain = private_domain_id()
    probe = RosProbe(domain)
    clock = probe.watch(Clock, "/clock")
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            procs = [
                group.start(
                    "recorder",
                    node_command(
                        "quadruped_bridge.recorder_node", {"out_dir": str(tmp_path / "bags"), "use_sim_time": True}
                    ),
                ),
                group.start(
                    "sim", node_command("quadruped_bridge.sim_node", {"camera_width": 32, "camera_height": 32})
                ),
                group.start("locomotion", node_command("fog_policy.locomotion_node", {"use_sim_time": True})),
                group.start(
                    "policy",
                    node_command(
                        "fog_policy.policy_node",
                        {"use_sim_time": True, "artifact": default_artifact(), "dry_run": True},
                    ),
                ),
                group.start("exploration", node_command("quadruped_bridge.exploration_node", {"use_sim_time": True})),
                # the bag's own topics, renamed out of the way of the simulator's, without /clock
                group.start(
                    "replay",
                    node_command(
                        "quadruped_bridge.replay_node",
                        {
                            "bag": str(bag),
                            "loop": True,
                            "publish_clock": False,
                            "remap": [
                                "/joint_states:=/replayed/joint_states",
                                "/imu/data:=/replayed/imu",
                                "/camera/image_raw:=/replayed/image",
                                "/camera/camera_info:=/replayed/camera_info",
                            ],
                        },
                    ),
                ),
            ]

            def running() -> bool:
                group.check_alive()
                return len(clock) > 100 and policy_active(diags)

            assert probe.spin_until(running, timeout=90), (
                "the stack did not start: no simulated time or no active policy"
            )
            wait_log(procs[0], "recording", timeout=30)
            wait_log(procs[-1], "replaying", timeout=30)
            for p in procs:
                p.signal(SIGNALS[how])
            problems = exit_problems(procs)
            assert not problems, "\n\n".join(problems)
    finally:
        probe.close()


def test_nodes_exit_0_at_their_own_end(bag, tmp_path, exit_problems):
    """The simulator at the end of its `duration`, the replay at the end of its bag."""
    with ProcessGroup(tmp_path / "logs", ros_env(private_domain_id())) as group:
        procs = [
            group.start(
                "sim",
                node_command("quadruped_bridge.sim_node", {"duration": 1.0, "camera_width": 32, "camera_height": 32}),
            ),
            group.start("replay", node_command("quadruped_bridge.replay_node", {"bag": str(bag)})),
        ]
        problems = exit_problems(procs, timeout=60)
        assert not problems, "\n\n".join(problems)
        assert "simulated 1.0" in procs[0].log() and "replay finished" in procs[1].log()


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "duration"])
def test_fog_deploy_sim_and_replay_exit_0(how, bag, tmp_path, fog, exit_problems):
    """`fog deploy --robot sim` and `--robot replay` (in parallel, each on its own domain)."""
    duration = "2" if how == "duration" else "0"
    procs = []
    with (
        ProcessGroup(tmp_path / "sim", ros_env(private_domain_id())) as sim_group,
        ProcessGroup(tmp_path / "replay", ros_env(private_domain_id())) as replay_group,
    ):
        procs.append(sim_group.start("deploy_sim", fog("deploy", "--robot", "sim", "--duration", duration)))
        procs.append(
            replay_group.start(
                "deploy_replay", fog("deploy", "--robot", "replay", "--bag", str(bag), "--duration", duration)
            )
        )
        for p in procs:
            wait_log(p, "[deploy] robot=", timeout=90)  # the policy is active, the loops run
        if how in SIGNALS:
            for p in procs:
                p.signal(SIGNALS[how])
        problems = exit_problems(procs)
        assert not problems, "\n\n".join(problems)


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


def test_fog_deploy_sim_without_ros_variables_runs_on_the_project_domain_localhost(tmp_path, fog):
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


def test_fog_deploy_go2_against_the_fake_go2_with_interface_and_domain_from_arguments(tmp_path, fog):
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
def test_fog_deploy_go2_refusals_stop_everything(case, tmp_path, fog):
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
