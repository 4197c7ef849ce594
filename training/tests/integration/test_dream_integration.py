"""The world model as a robot over real DDS (separate processes, private domain): `fog deploy --robot
dream` runs a policy closed loop inside its world model at the policy rate; cmd_vel changes what is
imagined (two commands from the same start, and the same command again); the project's teleop
drives the dream as it drives the simulator; bad world models are refused with exit code 2.

The world model and the policy are untrained and tiny (fog_training.untrained_dream,
untrained_artifact): these tests are about the machinery, not what a trained model imagines.
"""

import os
import pty
import re
import sys

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_training.untrained_artifact import make_untrained_artifact
from fog_training.untrained_dream import make_untrained_world_model
from geometry_msgs.msg import Twist
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float32
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
DEEP_SENSOR = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_untrained_world_model(tmp_path_factory.mktemp("dream"), seed=0, bundle=True)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("policy") / "untrained"
    make_untrained_artifact(out, seed=1, image_size=16)
    return out


def fog(*args: str) -> list[str]:
    return [sys.executable, "-m", "fog_training.cli", *args]


def last_status(diags, name: str) -> str:
    return diagnostics_text([d for d in diags if d.status and d.status[0].name == name][-1:])


def test_fog_deploy_dream_runs_the_policy_closed_loop_at_the_policy_rate(world, artifact, tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    images = probe.watch(Image, "camera/image_raw", sensor=True)
    infos = probe.watch(CameraInfo, "camera/camera_info", sensor=True)
    joints = probe.watch(JointState, "joint_states", sensor=True)
    ready = probe.watch(Bool, "locomotion/ready", qos=LATCHED)
    rewards = probe.watch(Float32, "dream/reward", qos=RELIABLE)
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    cmds = []
    probe.node.create_subscription(
        Twist, "cmd_vel", lambda m: cmds.append((len(images), m.linear.x, m.linear.y, m.angular.z)), RELIABLE
    )
    # an untrained policy's surprise threshold means nothing against an untrained world model: off
    params = tmp_path / "params.yaml"
    params.write_text("fog_policy:\n  ros__parameters:\n    surprise_threshold: 1.0e9\n")
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            deploy = group.start(
                "deploy", fog("deploy", "--robot", "dream", "--artifact", str(artifact), "--world-model",
                              str(world["bundle"]), "--params-file", str(params))
            )
            commanding = lambda: "fog_policy: policy: commanding" in last_status(diags, "fog_policy: policy")  # noqa: E731
            ok = probe.spin_until(lambda: commanding() or not deploy.alive(), timeout=120)
            assert ok and deploy.alive(), f"the policy never commanded in the dream:\n{deploy.log()[-3000:]}"
            n0, c0 = len(images), len(cmds)
            assert probe.spin_until(lambda: len(images) >= n0 + 16, timeout=120), f"{len(images) - n0} images in 120 s"
            group.check_alive()
            assert "[deploy] robot=dream" in deploy.log()
            # images at the policy rate (5 Hz) by their stamps; a step that took more than a period
            # (a starved CPU) restarts the grid, and the dream counts it on /diagnostics
            stamps = np.array([stamp_seconds(m) for m in images[n0:]])
            gaps = np.diff(stamps)
            periods = np.round(gaps / 0.2)  # more than one: images this probe dropped (best effort)
            on_grid = np.abs(gaps - 0.2 * periods) < 2e-3
            assert np.all(periods >= 1) and np.mean(periods == 1) >= 0.75, f"stamp intervals {gaps}"
            after = lambda: [d for d in diags if d.status and d.status[0].name == "fog_policy: dream"  # noqa: E731
                             and stamp_seconds(d) >= stamps[-1]]
            assert probe.spin_until(after, timeout=10), "no dream diagnostics after the images counted"
            late = int(re.search(r"late_frames=(\d+)", diagnostics_text(after()[-1:])).group(1))
            assert (~on_grid).sum() <= late, f"{(~on_grid).sum()} off-grid intervals, {late} late frames reported"
            # by their arrival too, unless the dream said it could not keep up (a starved CPU)
            arrivals = np.diff(probe.wall_times["camera/image_raw"][n0:])
            assert late > 0 or abs(np.median(arrivals) - 0.2) < 0.04, f"median arrival {np.median(arrivals):.3f} s"
            img = images[-1]
            assert (img.encoding, img.width, img.height) == ("rgb8", 16, 16) and infos[-1].width == 16
            assert ready and ready[-1].data is True, "locomotion/ready must be latched true"
            assert joints and np.allclose(joints[-1].position, np.tile([0.0, 0.9, -1.8], 4)), "a standing robot"
            # closed loop: one policy command per image, and the dream steps with them
            n_cmd = len(cmds) - c0
            assert abs(n_cmd - (len(images) - n0)) <= 3, f"{n_cmd} cmd_vel for {len(images) - n0} images"
            assert any(any(abs(v) > 1e-6 for v in c[1:]) for c in cmds[c0:]), "the policy only sent zeros"
            assert len(rewards) >= len(images) - n0 - 2, f"{len(rewards)} dream/reward for {len(images) - n0} images"
            dream = last_status(diags, "fog_policy: dream")
            said = re.search(r"cmd_vel=(\S+) (\S+) (\S+)", dream)
            assert said, dream
            took = np.array([float(v) for v in said.groups()])
            sent = np.array([c[1:] for c in cmds[c0:]])
            closest = np.min(np.abs(sent - took).max(axis=1))
            assert closest < 1e-3, f"the dream holds {took}, the policy sent {sent[-3:]}"
            assert "joint_states=a standing robot's (not imagined)" in dream
            deploy.signal(2)  # SIGINT: a normal stop
            assert deploy.popen.wait(timeout=60) == 0, deploy.log()[-3000:]
    finally:
        probe.close()


def drive_from_the_start(probe, command, steps, images):
    """Restart the dream's episode, then drive it with a constant `command`: the episode's frames."""
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = command
    for _ in range(20):  # the command in effect before the restart, so every step after it uses it
        probe.publish(Twist, "cmd_vel", msg)
        probe.executor.spin_once(timeout_sec=0.01)
    res = probe.call(Trigger, "dream/restart", timeout=60)
    assert res.success, res.message
    t0 = float(re.search(r"first frame stamped (\S+)", res.message).group(1))
    frames = lambda: [m for m in images if stamp_seconds(m) >= t0 - 1e-6]  # noqa: E731

    def more():
        probe.publish(Twist, "cmd_vel", msg)
        return len(frames()) > steps

    assert probe.spin_until(more, timeout=120), f"only {len(frames())} frames of the episode after 120 s"
    got = frames()[: steps + 1]
    assert np.allclose(np.diff([stamp_seconds(m) for m in got]), 0.2, atol=1e-6), "frames 0.2 s apart (sim time)"
    return np.stack([rm.image_array(m) for m in got])


def test_commands_change_the_imagined_frames_and_the_same_command_repeats_them(world, tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=True)
    images = probe.watch(Image, "camera/image_raw", qos=DEEP_SENSOR)  # lockstep: a deep queue drops none
    clock = probe.watch(Clock, "/clock")
    terminations = probe.watch(Bool, "dream/termination", qos=RELIABLE)
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            group.start("dream", node_command("fog_policy.dream_node", {
                "world_model": str(world["bundle"]), "use_sim_time": True, "reset_on_termination": False}))
            assert probe.spin_until(lambda: len(images) > 0, timeout=60), "no image from the dream"
            forward = drive_from_the_start(probe, (0.4, 0.0, 0.0), 6, images)
            turn = drive_from_the_start(probe, (-0.1, 0.2, 0.7), 6, images)
            forward_again = drive_from_the_start(probe, (0.4, 0.0, 0.0), 6, images)
            group.check_alive()
    finally:
        probe.close()
    assert np.array_equal(forward[0], turn[0]), "both episodes start from the same real frame"
    assert not np.array_equal(forward[-1], turn[-1]), "two different commands imagined the same frames"
    assert np.array_equal(forward, forward_again), "the same command from the same start must imagine the same"
    assert clock and len(terminations) >= 18, f"{len(terminations)} dream/termination for 18 steps"


def test_teleop_drives_the_dream(world, tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    master, slave = pty.openpty()
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            dream = group.start("dream", node_command("fog_policy.dream_node", {
                "world_model": str(world["bundle"]), "diagnostics_rate_hz": 5.0}))
            teleop = group.start("teleop", [sys.executable, "-m", "quadruped_bridge.teleop"], stdin=slave)
            ok = probe.spin_until(lambda: probe.node.count_publishers("cmd_vel") > 0 and diags, timeout=60)
            assert ok, f"teleop or the dream did not come up:\n{teleop.log()[-2000:]}\n{dream.log()[-2000:]}"
            assert wait_for(lambda: "vx +0.00" in teleop.log(), 30), teleop.log()  # its key loop runs
            os.write(master, b"www" + b"q")  # vx 0.3, yaw rate 0.2
            want = "cmd_vel=+0.300 +0.000 +0.200"
            ok = probe.spin_until(lambda: want in last_status(diags, "fog_policy: dream"), timeout=60)
            assert ok, f"the dream never took teleop's command: {last_status(diags, 'fog_policy: dream')}"
            os.write(master, b" ")  # stop
            ok = probe.spin_until(lambda: "cmd_vel=+0.000 +0.000 +0.000" in last_status(diags, "fog_policy: dream"),
                                  timeout=60)
            assert ok, last_status(diags, "fog_policy: dream")
            group.check_alive()
    finally:
        probe.close()
        os.close(master)
        os.close(slave)


def test_dream_task_plays_imagined_episodes_in_order_logs_them_and_repeats_them(world, artifact, tmp_path):
    from fog_policy.dream_task import run_dream_task

    def run(tag):
        return run_dream_task(tmp_path / tag, policy=str(artifact), world_model=str(world["bundle"]), episodes=4,
                              episode_seconds=1.0, seed=5, domain_id=private_domain_id(), log=lambda s: None,
                              policy_params={"surprise_threshold": 1.0e9})

    r, again = run("a"), run("b")
    assert len(r.episodes) == 4
    # lockstep, seeded noise, the policy's memory reset before each first frame: the same run twice
    assert r.episodes == again.episodes, f"{r.episodes}\n!=\n{again.episodes}"
    # episode k: start window k (modulo the bundle's 3), seed 5 + k; ended by the head or after 1 s (5 steps)
    assert [e["episode"] for e in r.episodes] == [0, 1, 2, 3], "counted from the rewind"
    assert [e["start_window"] for e in r.episodes] == [0, 1, 2, 0]
    assert [e["seed"] for e in r.episodes] == [5, 6, 7, 8]
    for e in r.episodes:
        assert (e["terminated"] and 1 <= e["steps"] <= 5) or (not e["terminated"] and e["steps"] == 5), e
    assert r.success_rate == sum(e["terminated"] for e in r.episodes) / 4
    assert r.lockstep_timeouts == 0, "the policy answered every imagined frame"
    assert 4.0 < r.command_rate_hz < 6.0, f"{r.command_rate_hz:.2f} commands per dream second"
    assert (tmp_path / "a" / "summary.json").exists()


def test_what_is_not_a_world_model_is_refused_by_name(world, artifact, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with ProcessGroup(tmp_path / "logs", ros_env(private_domain_id())) as group:
        node = group.start("dream", node_command("fog_policy.dream_node", {"world_model": str(empty)}))
        no_wm = group.start("deploy", fog("deploy", "--robot", "dream", "--artifact", str(artifact)))
        assert node.popen.wait(timeout=60) == 2, node.log()
        assert no_wm.popen.wait(timeout=60) == 2, no_wm.log()
    assert f"world model {empty} is not one: expected dream.json" in node.log(), node.log()
    assert "--robot dream needs a world model" in no_wm.log() and "nothing else runs" in no_wm.log(), no_wm.log()
