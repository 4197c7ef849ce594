"""fog_policy.dream_node, the world model as a robot over real DDS (separate processes, private domain):
cmd_vel changes what is imagined (two commands from the same start, and the same command again); the
project's teleop drives the dream as it drives the simulator; a folder that is no world model is
refused with exit code 2.

The world model is untrained and tiny (fog_training.untrained_dream, the `dream_world` fixture of
training/tests/conftest.py): these tests are about the machinery, not what a trained model imagines.
They live in training/tests because they build the world model with fog_training. `fog deploy --robot
dream` is in test_deploy.py, `fog_policy.dream_task` in test_dream_task.py.
"""

import os
import pty
import re
import sys

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
DEEP_SENSOR = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)


def last_status(diags, name: str) -> str:
    return diagnostics_text([d for d in diags if d.status and d.status[0].name == name][-1:])


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


def test_commands_change_the_imagined_frames_and_the_same_command_repeats_them(dream_world, tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=True)
    images = probe.watch(Image, "camera/image_raw", qos=DEEP_SENSOR)  # lockstep: a deep queue drops none
    clock = probe.watch(Clock, "/clock")
    terminations = probe.watch(Bool, "dream/termination", qos=RELIABLE)
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            group.start("dream", node_command("fog_policy.dream_node", {
                "world_model": str(dream_world["bundle"]), "use_sim_time": True, "reset_on_termination": False}))
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


def test_teleop_drives_the_dream(dream_world, tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    master, slave = pty.openpty()
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            dream = group.start("dream", node_command("fog_policy.dream_node", {
                "world_model": str(dream_world["bundle"]), "diagnostics_rate_hz": 5.0}))
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


def test_what_is_not_a_world_model_is_refused_by_name(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with ProcessGroup(tmp_path / "logs", ros_env(private_domain_id())) as group:
        node = group.start("dream", node_command("fog_policy.dream_node", {"world_model": str(empty)}))
        assert node.popen.wait(timeout=60) == 2, node.log()
    assert f"world model {empty} is not one: expected dream.json" in node.log(), node.log()
