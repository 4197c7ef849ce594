"""The start of a walk over real DDS: the simulator (robot lying), the locomotion controller and a
policy node, each its own process on a private domain.

locomotion/ready must stay false through the stand-up and the settle, turn true once the robot
trots in place, go false on a simulator reset and true again after the next stand-up; the policy
node must command nothing but a stop (zero cmd_vel) while it is false, and step once it is true.
"""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import STAND_POSE
from geometry_msgs.msg import Twist
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration
READY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def test_policy_waits_for_the_robot_to_stand_and_settle(tmp_path, untrained_artifact):
    artifact = untrained_artifact
    domain = private_domain_id()
    group = ProcessGroup(tmp_path / "logs", ros_env(domain))
    group.start("sim", node_command("quadruped_bridge.sim_node", {"real_time_factor": 0.5, "start_pose": "lie"}))
    group.start("locomotion", node_command("fog_policy.locomotion_node", {"use_sim_time": True}))
    group.start("policy", node_command("fog_policy.policy_node", {"use_sim_time": True, "artifact": str(artifact)}))
    probe = RosProbe(domain)
    try:
        ready: list[tuple[float, bool]] = []  # (wall order, value), with the probe's sim time
        probe.node.create_subscription(
            Bool, "locomotion/ready", lambda m: ready.append((probe.now(), m.data)), READY_QOS
        )
        cmds: list[tuple[float, np.ndarray]] = []
        probe.node.create_subscription(
            Twist,
            "cmd_vel",
            lambda m: cmds.append((probe.now(), np.array([m.linear.x, m.linear.y, m.angular.z]))),
            RELIABLE,
        )
        joints = probe.watch(JointState, "joint_states", sensor=True)
        diags = probe.watch(DiagnosticArray, "/diagnostics")

        def first_true_after(i):
            return next((k for k in range(i, len(ready)) if ready[k][1]), None)

        ok = probe.spin_until(
            lambda: first_true_after(0) is not None or not all(p.alive() for p in group.processes), timeout=90
        )
        group.check_alive()
        assert ok, "awaited locomotion/ready = true after the stand-up:\n" + diagnostics_text(diags[-6:])
        assert ready[0][1] is False, f"locomotion/ready must start false (robot lying), got {ready[:3]}"
        k = first_true_after(0)
        t_ready = ready[k][0]
        # At ready the robot stands: the joints are near the stand pose.
        q = np.array(joints[-1].position)
        assert np.max(np.abs(q - STAND_POSE)) < 0.4, (
            f"ready while the joints are {np.max(np.abs(q - STAND_POSE)):.2f} rad from stand"
        )
        before = [c for t, c in cmds if t < t_ready - 0.05]
        assert all(not np.any(c) for c in before), f"the policy commanded before locomotion/ready: {before[:3]}"
        ok = probe.spin_until(lambda: any(t > t_ready for t, _ in cmds) and len(cmds) >= len(before) + 3, timeout=30)
        assert ok, "awaited the policy's cmd_vel after locomotion/ready:\n" + diagnostics_text(diags[-6:])
        after = [c for t, c in cmds if t > t_ready]
        assert any(np.any(c) for c in after), f"the policy stepped but only published zeros after ready: {after[:5]}"

        # A simulator reset puts the robot down: ready goes false, the policy stops, and both come back.
        n = len(ready)
        assert probe.call(Trigger, "sim/reset", Trigger.Request()).success, "sim/reset failed"
        ok = probe.spin_until(lambda: any(not v for _, v in ready[n:]), timeout=10)
        assert ok, f"awaited locomotion/ready = false after sim/reset; got {ready[n:]}"
        m = next(k for k in range(n, len(ready)) if not ready[k][1])
        ok = probe.spin_until(lambda: first_true_after(m) is not None, timeout=90)
        assert ok, "awaited locomotion/ready = true after the second stand-up:\n" + diagnostics_text(diags[-6:])
        t_down, t_up = ready[m][0], ready[first_true_after(m)][0]
        assert t_up - t_down >= 1.0, (
            f"ready again {t_up - t_down:.2f} s after the reset: no stand-up and settle in between"
        )
        inside = [c for t, c in cmds if t_down + 0.3 < t < t_up - 0.05]
        assert all(not np.any(c) for c in inside), f"the policy commanded while the robot stood up: {inside[:3]}"
        waiting = [diagnostics_text([d]) for d in diags if stamp_seconds(d) < t_up - 0.05 and stamp_seconds(d) > t_down]
        assert any("waiting for the locomotion controller" in w for w in waiting), (
            "the policy's /diagnostics never said it waits for locomotion/ready during the stand-up"
        )
    finally:
        probe.close()
        group.stop()
