"""The exploration node (quadruped_bridge.exploration_node) as a separate process over DDS, without ground
truth (as on the real robot): it waits for locomotion/ready, runs one time-limited episode of smooth
random cmd_vel within the exploration bounds, and exits 0 on its own."""

import numpy as np
import pytest
from geometry_msgs.msg import Twist
from quadruped_bridge.exploration import command_bounds
from quadruped_bridge.exploration_node import LATCHED_QOS
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe, private_domain_id
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String

pytestmark = pytest.mark.integration
DEEP = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)


def test_one_episode_of_bounded_cmd_vel_then_a_clean_exit(tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    cmds = probe.watch(Twist, "cmd_vel", qos=DEEP)
    events = probe.watch(String, "episode/event", qos=DEEP)
    try:
        with ProcessGroup(tmp_path, ros_env(domain)) as group:
            node = group.start("exploration", node_command("quadruped_bridge.exploration_node", {
                "rate_hz": 10.0, "seed": 3, "max_episodes": 1, "settle_time": 0.2, "max_duration": 1.5,
                "use_ground_truth": False}))
            assert probe.spin_until(lambda: len(cmds) >= 3, 30), f"awaited cmd_vel while waiting:\n{node.log()}"
            assert events == [] and not any(m.linear.x or m.linear.y or m.angular.z for m in cmds), (
                "moved or started an episode before locomotion/ready")
            # latched, as the locomotion node publishes it: the robot stands and follows cmd_vel
            probe.publish(Bool, "locomotion/ready", Bool(data=True), qos=LATCHED_QOS)
            assert probe.spin_until(lambda: not node.alive(), 30), f"awaited the node's exit:\n{node.log()}"
            assert node.popen.returncode == 0, node.log()
        probe.spin_until(lambda: len(events) >= 2, 2)  # what DDS still holds for the probe
    finally:
        probe.close()
    assert [e.data for e in events] == ["start", "reset"]  # no ground truth: the time limit ends it
    assert "1 episodes: ['reset']" in node.log()
    got = np.array([(m.linear.x, m.linear.y, m.angular.z) for m in cmds])
    lo, hi = command_bounds()
    assert np.all(got >= lo - 1e-9) and np.all(got <= hi + 1e-9), f"cmd_vel outside {lo}..{hi}"
    moving = got[np.any(got != 0.0, axis=1)]
    assert len(moving) >= 5, f"only {len(moving)} non-zero cmd_vel in a 1.5 s episode at 10 Hz"
    assert np.max(np.abs(np.diff(moving, axis=0))) < 0.5, "cmd_vel jumped: not smooth"
