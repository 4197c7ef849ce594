"""quadruped_bridge.ros_probe's RosProbe against a child process on a private domain: it sees what the
child publishes, in order, and says clearly when nothing comes (no topic, no service); its helpers read
stamps, attitudes and diagnostics; private_domain_id never hands one domain to two processes side by side."""

import math
import os
import subprocess
import sys
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Quaternion
from quadruped_bridge.process_launch import ProcessGroup, ros_env
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, roll_pitch_yaw, stamp_seconds
from std_msgs.msg import String
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration

TALKER = """
import itertools, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("talker")
pub = node.create_publisher(String, "chatter", QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
count = itertools.count()
node.create_timer(0.05, lambda: pub.publish(String(data=f"hello {next(count)}")))  # 20 Hz
rclpy.spin(node)
"""


def test_probe_waits_on_a_childs_topic_and_times_out_clearly_when_nothing_comes(tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    heard = probe.watch(String, "chatter")
    silent = probe.watch(String, "nobody_publishes_here")
    try:
        with ProcessGroup(tmp_path, ros_env(domain)) as group:
            talker = group.start("talker", [sys.executable, "-c", TALKER])
            if not probe.spin_until(lambda: len(heard) >= 5, 30):
                group.check_alive()
                raise AssertionError(f"awaited 5 messages on chatter for 30 s; got {len(heard)}:\n{talker.log()}")
            numbers = [int(m.data.split()[1]) for m in heard]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers  # in order, no gaps
            assert len(probe.wall_times["chatter"]) == len(heard)
            # nothing on a topic nobody publishes: spin_until says so after its timeout, not before
            t0 = time.monotonic()
            assert not probe.spin_until(lambda: len(silent) > 0, 0.5)
            assert time.monotonic() - t0 >= 0.5 and silent == []
            with pytest.raises(TimeoutError, match="service nobody/here not available after 0.5 s"):
                probe.call(Trigger, "nobody/here", timeout=0.5)
            assert not probe.wait_for_subscriber(String, "nobody_listens", timeout=0.3)
    finally:
        probe.close()


def test_stamp_attitude_and_diagnostics_helpers():
    assert stamp_seconds(joint_state_msg(12.25, ["j"], [0.0])) == pytest.approx(12.25)
    half = 0.2  # roll 0.4 rad
    roll, pitch, yaw = roll_pitch_yaw(Quaternion(w=math.cos(half), x=math.sin(half), y=0.0, z=0.0))
    assert (roll, pitch, yaw) == pytest.approx((0.4, 0.0, 0.0))
    status = DiagnosticStatus(name="quadruped_bridge: go2", message="active",
                              values=[KeyValue(key="mode", value="active"), KeyValue(key="rate_hz", value="500")])
    text = diagnostics_text([DiagnosticArray(status=[status])])
    assert text == "quadruped_bridge: go2: active\nmode=active\nrate_hz=500"
    assert diagnostics_text([]) == ""


CLAIM = """
import sys
from quadruped_bridge.ros_probe import private_domain_id
print(" ".join(str(private_domain_id()) for _ in range(int(sys.argv[1]))), flush=True)
sys.stdin.read()  # hold the claims until the test closes stdin
"""


def claimer(n, env):
    proc = subprocess.Popen([sys.executable, "-c", CLAIM, str(n)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, [int(d) for d in proc.stdout.readline().split()]


def test_a_domain_claimed_by_one_process_is_not_handed_to_another(tmp_path):
    # four domains, a lock folder of this test's own (no other run's claims in it)
    env = dict(os.environ, FOG_TEST_DOMAINS="150-153", FOG_DOMAIN_LOCK_DIR=str(tmp_path))
    first, got_first = claimer(3, env)
    try:
        assert len(set(got_first)) == 3 and set(got_first) <= {150, 151, 152, 153}, got_first
        # the second process gets the one domain left, then (all claimed) that one again
        second, got_second = claimer(3, env)
        try:
            free = {150, 151, 152, 153} - set(got_first)
            assert got_second == [free.pop()] * 3, (got_first, got_second)
        finally:
            second.communicate("")
    finally:
        first.communicate("")
    # the claims end with their processes: a new one gets three distinct domains again
    third, got_third = claimer(3, env)
    third.communicate("")
    assert len(set(got_third)) == 3, got_third
