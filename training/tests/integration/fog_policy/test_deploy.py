"""`fog deploy --robot dream` (fog_policy.deploy) over real DDS (separate processes, private domain): it runs
a policy closed loop inside its world model at the policy rate, and without a world model it is refused
with exit code 2 before anything runs.

The world model and the policy are untrained and tiny (the `dream_world` and `dream_artifact` fixtures
of training/tests/conftest.py: fog_training.untrained_dream, untrained_artifact); these tests live in
training/tests because they build them with fog_training. They are about the machinery, not what a
trained model imagines.
"""

import re
import sys

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from quadruped_bridge.process_launch import ProcessGroup, ros_env
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float32

pytestmark = pytest.mark.integration
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def fog(*args: str) -> list[str]:
    return [sys.executable, "-m", "fog_training.cli", *args]


def last_status(diags, name: str) -> str:
    return diagnostics_text([d for d in diags if d.status and d.status[0].name == name][-1:])


def test_fog_deploy_dream_runs_the_policy_closed_loop_at_the_policy_rate(dream_world, dream_artifact, tmp_path):
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
                "deploy", fog("deploy", "--robot", "dream", "--artifact", str(dream_artifact), "--world-model",
                              str(dream_world["bundle"]), "--params-file", str(params))
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



def test_deploy_dream_without_a_world_model_is_refused(dream_artifact, tmp_path):
    with ProcessGroup(tmp_path / "logs", ros_env(private_domain_id())) as group:
        no_wm = group.start("deploy", fog("deploy", "--robot", "dream", "--artifact", str(dream_artifact)))
        assert no_wm.popen.wait(timeout=60) == 2, no_wm.log()
    assert "--robot dream needs a world model" in no_wm.log() and "nothing else runs" in no_wm.log(), no_wm.log()
