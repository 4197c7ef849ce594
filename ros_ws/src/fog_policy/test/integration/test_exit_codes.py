"""Every process that starts ROS nodes ends cleanly (issue 16): exit code 0 and no traceback on
SIGINT, on SIGTERM and at its own end (`--duration`, `--minutes`, the end of a bag, a node's
`duration`).

The nodes run as processes the way a launch file runs them (all signalled at once, while they
talk to each other: the simulator in lockstep with the controller, the policy active, the
recorder writing); `fog deploy` and `fog collect` run as the `fog` verbs. Each process has its
own session: a signal goes to its process group, as Ctrl-C in a terminal does.
"""

from __future__ import annotations

import signal
import sys
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_policy.deploy import default_artifact
from quadruped_bridge.process_launch import ManagedProcess, ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_probe import RosProbe, private_domain_id
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosgraph_msgs.msg import Clock

pytestmark = pytest.mark.integration
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
# what a normal stop must never print (rclpy's RCLError, EGLError, "Exception in thread", ...)
BAD_OUTPUT = ("Traceback", "Error", "Exception", "never retrieved", "Segmentation fault", "core dumped")
EXIT_TIMEOUT = 30.0  # wall s from the signal to the exit (the recorder drains, the simulator closes its renderers)


def wait_log(proc: ManagedProcess, text: str, timeout: float) -> None:
    wait_for(lambda: text in proc.log() or not proc.alive(), timeout, interval=0.05)
    assert text in proc.log() or proc.alive(), (
        f"{proc.name} exited with {proc.popen.returncode} before {text!r}:\n{proc.log()[-3000:]}"
    )
    assert text in proc.log(), f"{proc.name}: no {text!r} within {timeout:.0f} s:\n{proc.log()[-3000:]}"


def wait_file(path, text: str, proc: ManagedProcess, timeout: float = 90.0) -> None:
    """Wait for `text` in the log file a node started by `proc` writes."""
    seen = lambda: path.exists() and text in path.read_text(errors="replace")  # noqa: E731
    wait_for(lambda: seen() or not proc.alive(), timeout, interval=0.05)
    assert seen() or proc.alive(), f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()[-3000:]}"
    assert seen(), f"no {text!r} in {path} within {timeout:.0f} s"


def exit_problems(procs: list[ManagedProcess], timeout: float = EXIT_TIMEOUT) -> list[str]:
    """Wait for each process to end; one line (with the log's tail) per unclean exit."""
    problems = []
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            code = p.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except Exception:
            problems.append(f"{p.name}: still running {timeout:.0f} s after the stop:\n{p.log()[-2000:]}")
            continue
        log = p.log()
        bad = [b for b in BAD_OUTPUT if b in log]
        if code != 0 or bad:
            problems.append(f"{p.name}: exit code {code}, output has {bad}:\n{log[-3000:]}")
    return problems


def robot_bag(path, seconds: float = 1.5) -> None:
    """A short bag like the robot's: 64x64 images at 30 Hz, joint states and IMU at 100 Hz, camera_info."""
    ts = get_typestore(Stores.ROS2_KILTED)
    T = ts.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    vec, quat = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Quaternion"]
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    from fog_contract.go2 import JOINT_NAMES

    def header(t):
        ns = int(round(t * 1e9))
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")

    events = []
    for i in range(int(seconds * 30)):
        t = 1.0 + i / 30
        events.append(
            (
                t,
                "/camera/image_raw",
                "sensor_msgs/msg/Image",
                T["sensor_msgs/msg/Image"](
                    header=header(t),
                    height=64,
                    width=64,
                    encoding="rgb8",
                    is_bigendian=0,
                    step=192,
                    data=np.roll(img, i, axis=1).reshape(-1),
                ),
            )
        )
        events.append(
            (
                t,
                "/camera/camera_info",
                "sensor_msgs/msg/CameraInfo",
                T["sensor_msgs/msg/CameraInfo"](
                    header=header(t),
                    height=64,
                    width=64,
                    distortion_model="plumb_bob",
                    d=np.zeros(5),
                    k=np.array([55.0, 0, 31.5, 0, 55.0, 31.5, 0, 0, 1]),
                    r=np.eye(3).reshape(-1),
                    p=np.array([55.0, 0, 31.5, 0, 0, 55.0, 31.5, 0, 0, 0, 1, 0]),
                    binning_x=0,
                    binning_y=0,
                    roi=T["sensor_msgs/msg/RegionOfInterest"](
                        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
                    ),
                ),
            )
        )
    for i in range(int(seconds * 100)):
        t = 1.0 + i / 100
        events.append(
            (
                t,
                "/joint_states",
                "sensor_msgs/msg/JointState",
                T["sensor_msgs/msg/JointState"](
                    header=header(t),
                    name=list(JOINT_NAMES),
                    position=np.tile([0.0, 0.9, -1.8], 4),
                    velocity=np.zeros(12),
                    effort=np.zeros(12),
                ),
            )
        )
        events.append(
            (
                t,
                "/imu/data",
                "sensor_msgs/msg/Imu",
                T["sensor_msgs/msg/Imu"](
                    header=header(t),
                    orientation=quat(x=0.0, y=0.0, z=0.0, w=1.0),
                    orientation_covariance=np.zeros(9),
                    angular_velocity=vec(x=0.0, y=0.0, z=0.0),
                    angular_velocity_covariance=np.zeros(9),
                    linear_acceleration=vec(x=0.0, y=0.0, z=9.81),
                    linear_acceleration_covariance=np.zeros(9),
                ),
            )
        )
    events.sort(key=lambda e: e[0])
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        for t, topic, kind, msg in events:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, kind, typestore=ts)
            w.write(conns[topic], int(round(t * 1e9)), ts.serialize_cdr(msg, kind))


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("exit_bag") / "bag"
    robot_bag(path)
    return path


def policy_active(diags) -> bool:
    return any(
        st.name == "fog_policy: policy" and st.message not in ("unconfigured", "configured")
        for d in diags
        for st in d.status
    )


@pytest.mark.parametrize("how", sorted(SIGNALS))
def test_nodes_exit_0_when_signalled_together(how, bag, tmp_path):
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


def test_nodes_exit_0_at_their_own_end(bag, tmp_path):
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


def fog(verb: str, *args: str) -> list[str]:
    """`fog <verb> ...` as the fog CLI (fog_training.cli, a layer above) runs it: the verb's module main
    (training/tests/unit/test_cli.py checks the CLI's table names these modules)."""
    module = {"deploy": "fog_policy.deploy", "collect": "fog_policy.collect"}[verb]
    return [sys.executable, "-m", module, *args]


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "duration"])
def test_fog_deploy_sim_and_replay_exit_0(how, bag, tmp_path):
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


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "minutes"])
def test_fog_collect_exits_0(how, tmp_path):
    """`fog collect`: a signal ends the collection early (bags closed, summary written); so does --minutes."""
    out = tmp_path / "bags"
    minutes = "0.03" if how == "minutes" else "10"
    domain = private_domain_id()
    with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
        proc = group.start(
            "collect",
            fog(
                "collect",
                "--minutes",
                minutes,
                "--out",
                str(out),
                "--real-time-factor",
                "2",
                "--camera-size",
                "32",
                "--domain-id",
                str(domain),
            ),
        )
        if how in SIGNALS:  # once the recorder records and the simulator runs
            wait_file(out / "logs" / "recorder.log", "recording", proc)
            wait_file(out / "logs" / "sim.log", "simulated Go2 ready", proc)
            proc.signal(SIGNALS[how])
        problems = exit_problems([proc], timeout=60)
        assert not problems, "\n\n".join(problems)
    node_logs = {p.stem: p.read_text() for p in (out / "logs").glob("*.log")}
    assert set(node_logs) == {"recorder", "sim", "locomotion", "exploration"}
    dirty = {name: [b for b in BAD_OUTPUT if b in log] for name, log in node_logs.items()}
    assert not any(dirty.values()), dirty
    assert '"interrupted": ' + ("true" if how in SIGNALS else "false") in proc.log()
