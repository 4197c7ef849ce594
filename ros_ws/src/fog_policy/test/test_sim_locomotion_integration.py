"""The simulated Go2 and the locomotion controller as separate processes over real DDS.

One stack (sim node + locomotion node) is started for the module on a private domain; the tests
run in file order against it: walk, turn, bad commands, e-stop, and last the watchdog (which
kills the controller).
"""

import math
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_policy.realtime import may_use_fifo
from geometry_msgs.msg import PoseStamped, Twist
from quadruped_bridge.go2_description import JOINT_NAMES, STAND_POSE
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, roll_pitch_yaw, stamp_seconds
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration

COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
SIM_PARAMS = {"real_time_factor": 0.5, "camera_enabled": False}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    domain = private_domain_id()
    logs = tmp_path_factory.mktemp("logs")
    group = ProcessGroup(logs, ros_env(domain))
    group.start("sim", node_command("quadruped_bridge.sim_node", SIM_PARAMS))
    # real-time priority for the 50 Hz loop where the kernel allows it, as on the robot: under a
    # loaded test machine a normally scheduled loop missed enough ticks to walk 0.87 m of 1.5 m
    loco = {"use_sim_time": True, "realtime_priority": 50 if may_use_fifo() else 0}
    group.start("locomotion", node_command("fog_policy.locomotion_node", loco))
    probe = RosProbe(domain)
    probe.watch(PoseStamped, "sim/base_pose", sensor=True)
    probe.watch(DiagnosticArray, "/diagnostics")
    probe.watch(JointState, "joint_commands", qos=COMMAND_QOS)
    try:
        walking = lambda: any(
            "standing (zero cmd_vel)" in diagnostics_text([d])  # noqa: E731
            for d in probe.messages["/diagnostics"]
        )
        if not probe.spin_until(walking, timeout=60):
            group.check_alive()
            raise AssertionError(
                "locomotion never reported standing:\n" + diagnostics_text(probe.messages["/diagnostics"])
            )
        yield group, probe
    finally:
        probe.close()
        group.stop()


def drive(probe: RosProbe, vx=0.0, vy=0.0, wz=0.0, seconds=1.0):
    """Publish cmd_vel at 10 Hz (wall) for `seconds` of simulated time; return base poses seen."""
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = vx, vy, wz
    poses = probe.messages["sim/base_pose"]
    first = len(poses)
    last_pub = [0.0]

    def publish():
        if time.monotonic() - last_pub[0] > 0.1:
            probe.publish(Twist, "cmd_vel", msg, COMMAND_QOS)
            last_pub[0] = time.monotonic()

    assert probe.wait_for_subscriber(Twist, "cmd_vel", COMMAND_QOS), "no cmd_vel subscriber was discovered"
    publish()
    assert probe.spin_sim(seconds, timeout=seconds * 6 + 10, every=publish), "simulated time did not advance"
    return poses[first:]


def test_walks_forward(stack):
    _, probe = stack
    poses = drive(probe, vx=0.3, seconds=5.0)
    assert len(poses) > 100
    p0, p1 = poses[0].pose.position, poses[-1].pose.position
    yaw0 = roll_pitch_yaw(poses[0].pose.orientation)[2]
    forward = (p1.x - p0.x) * math.cos(yaw0) + (p1.y - p0.y) * math.sin(yaw0)
    tilt = max(max(abs(r), abs(p)) for r, p, _ in (roll_pitch_yaw(m.pose.orientation) for m in poses))
    loco = [d for d in probe.messages["/diagnostics"] if d.status[0].name == "fog_policy: locomotion"]
    assert forward >= 1.0, f"moved {forward:.2f} m forward in 5 s at 0.3 m/s\n{diagnostics_text(loco[-1:])}"
    assert tilt < 0.5, f"max roll/pitch {tilt:.2f} rad"
    assert min(m.pose.position.z for m in poses) > 0.18


def test_turns_with_right_sign_and_magnitude(stack):
    _, probe = stack
    poses = drive(probe, wz=0.8, seconds=3.0)
    yaws = np.unwrap([roll_pitch_yaw(m.pose.orientation)[2] for m in poses])
    turned = yaws[-1] - yaws[0]
    expected = 0.8 * (stamp_seconds(poses[-1]) - stamp_seconds(poses[0]))
    assert turned > 0, "positive yaw rate must turn left (counter-clockwise)"
    assert 0.4 * expected < turned < 1.6 * expected, f"turned {turned:.2f} rad, expected about {expected:.2f}"
    drive(probe, seconds=1.0)  # settle


def wait_armed_to_locomotion(probe):
    """The start state of the source-lock tests: the bridge is ACTIVE and locked to the locomotion node."""
    def armed():
        bridge = [d for d in probe.messages["/diagnostics"] if d.status[0].name.startswith("quadruped_bridge")]
        text = diagnostics_text(bridge[-1:])
        return "mode=active" in text and "joint_commands/source=/locomotion" in text

    assert probe.spin_until(armed, timeout=30), diagnostics_text(probe.messages["/diagnostics"][-4:])


def test_commands_from_another_publisher_are_rejected_and_named(stack):
    """The bridge armed to the locomotion node: joint_commands from this test's probe (bad ones and a
    valid one that would be clamped) are all rejected as a foreign source, named, and the robot stays up."""
    _, probe = stack
    wait_armed_to_locomotion(probe)
    probe.messages["/diagnostics"].clear()
    nan_q = STAND_POSE.copy()
    nan_q[4] = math.nan
    bad = [
        joint_state_msg(probe.now(), JOINT_NAMES, nan_q),
        joint_state_msg(probe.now(), ("bogus_joint",) + JOINT_NAMES[1:], STAND_POSE),
        joint_state_msg(probe.now(), JOINT_NAMES, STAND_POSE + 50.0),
    ]
    poses = probe.messages["sim/base_pose"]
    first = len(poses)
    for msg in bad:
        for _ in range(5):
            probe.publish(JointState, "joint_commands", msg, COMMAND_QOS)
            probe.spin(0.05)
    probe.spin_sim(1.0, timeout=10)
    text = diagnostics_text(probe.messages["/diagnostics"])
    assert "joint_commands from foreign publisher /test_probe" in text, text
    assert "command clamped" not in text and "non-finite position" not in text, "a foreign command was inspected"
    after = poses[first:]
    assert min(m.pose.position.z for m in after) > 0.18
    assert max(max(abs(a) for a in roll_pitch_yaw(m.pose.orientation)[:2]) for m in after) < 0.5
    bridge = [d for d in probe.messages["/diagnostics"] if d.status[0].name.startswith("quadruped_bridge")]
    assert "mode=active" in diagnostics_text(bridge[-1:])
    assert "joint_commands/source=/locomotion" in diagnostics_text(bridge[-1:])


INTRUDER = """
import time, rclpy
from geometry_msgs.msg import Twist
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from quadruped_bridge.go2_description import JOINT_NAMES, STAND_POSE
from quadruped_bridge.ros_messages import joint_state_msg
rclpy.init()
node = rclpy.create_node("intruder")
qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
pj, pv = node.create_publisher(JointState, "joint_commands", qos), node.create_publisher(Twist, "cmd_vel", qos)
pose = STAND_POSE.copy()
pose[1::3] = 0.2
pose[2::3] = -1.0
spin = Twist()
spin.angular.z = 1.0
while rclpy.ok():
    pj.publish(joint_state_msg(0.0, JOINT_NAMES, pose))
    pv.publish(spin)
    time.sleep(0.02)  # the intruder's publishing rate (a 50 Hz flood), not a wait
"""


def test_foreign_process_cannot_command_the_armed_stack(stack):
    """Another process publishes joint_commands (legs stretched out) and cmd_vel (turn at 1 rad/s, so
    1 s of it would turn the robot by about 1 rad)
    while the stack is armed: both are rejected and named on /diagnostics (and the second
    joint_commands publisher is a safety event), the joints keep following the locomotion node."""
    import sys

    group, probe = stack
    wait_armed_to_locomotion(probe)
    drive(probe, seconds=0.5)  # this test is the teleop the locomotion node follows (zero cmd_vel)
    joints = probe.watch(JointState, "joint_states", sensor=True)
    commands = probe.messages["joint_commands"]
    probe.messages["/diagnostics"].clear()
    intruder = group.start("intruder", [sys.executable, "-c", INTRUDER])
    try:
        def named():
            text = diagnostics_text(probe.messages["/diagnostics"])
            return ("joint_commands from foreign publisher /intruder" in text
                    and "cmd_vel from foreign publisher /intruder" in text)

        assert probe.spin_until(named, timeout=40), diagnostics_text(probe.messages["/diagnostics"])
        yaw0 = roll_pitch_yaw(probe.messages["sim/base_pose"][-1].pose.orientation)[2]
        first_joint, first_cmd = len(joints), len(commands)
        # wide wall timeout: the intruder competes for the test machine's 2 busy cores
        assert probe.spin_sim(1.0, timeout=60), "simulated time did not advance"
        assert intruder.alive(), intruder.log()
    finally:
        intruder.stop()
    text = diagnostics_text(probe.messages["/diagnostics"])
    assert "second publisher on joint_commands while armed: /intruder" in text, text
    # the joints never moved towards the intruder's stretched pose (thighs 0.2, calves -1.0 rad; the
    # trot keeps thighs near 0.9 and calves near -1.9, and one accepted command would move them 0.5 rad)
    assert len(commands) - first_cmd > 20, "the locomotion node stopped commanding"
    measured = np.array([m.position for m in joints[first_joint:]])
    report = diagnostics_text(probe.messages["/diagnostics"][-6:])
    assert measured[:, 1::3].min() > 0.55 and measured[:, 2::3].max() < -1.45, (
        f"joints moved towards the intruder's pose: thighs min {measured[:, 1::3].min():.2f}, "
        f"calves max {measured[:, 2::3].max():.2f}\n{report}")
    yaw1 = roll_pitch_yaw(probe.messages["sim/base_pose"][-1].pose.orientation)[2]
    assert abs(math.remainder(yaw1 - yaw0, 2 * math.pi)) < 0.3, "the robot turned on the intruder's cmd_vel"
    bridge = [d for d in probe.messages["/diagnostics"] if d.status[0].name.startswith("quadruped_bridge")]
    assert "mode=active" in diagnostics_text(bridge[-1:])


def test_estop_latches_until_released(stack):
    _, probe = stack
    z_before = probe.messages["sim/base_pose"][-1].pose.position.z
    res = probe.call(Trigger, "quadruped_bridge/estop")
    assert res.success
    probe.spin_sim(2.0, timeout=15)
    diags = probe.messages["/diagnostics"]
    bridge = [d for d in diags if d.status[0].name.startswith("quadruped_bridge")]
    assert "mode=estop" in diagnostics_text(bridge[-1:])
    # the controller's commands are refused while latched, and the robot sinks (damping)
    poses = probe.messages["sim/base_pose"]
    assert poses[-1].pose.position.z < z_before - 0.04, "e-stop must damp the joints: the body sinks"
    res = probe.call(Trigger, "quadruped_bridge/release_estop")
    assert res.success, res.message
    stood = lambda: any("mode=active" in diagnostics_text([d]) for d in probe.messages["/diagnostics"][-4:])  # noqa: E731
    assert probe.spin_until(stood, timeout=40), "the controller did not take over again after the soft start:\n" + (
        diagnostics_text(probe.messages["/diagnostics"][-8:])
    )
    probe.spin_sim(1.0, timeout=10)
    assert probe.messages["sim/base_pose"][-1].pose.position.z > 0.22


def test_watchdog_damps_within_two_command_periods(stack):
    group, probe = stack
    commands = probe.messages["joint_commands"]
    probe.messages["/diagnostics"].clear()
    locomotion = next(p for p in group.processes if p.name == "locomotion")
    locomotion.stop()
    last_cmd = stamp_seconds(commands[-1])

    def damping_event():
        text = diagnostics_text(probe.messages["/diagnostics"])
        return "damping: watchdog" in text

    assert probe.spin_until(damping_event, timeout=10), diagnostics_text(probe.messages["/diagnostics"])
    text = diagnostics_text(probe.messages["/diagnostics"])
    line = next(part for part in text.split(" | ") if "damping: watchdog" in part)
    t_damp = float(line.split("[", 1)[1].split()[0])
    assert 0.0 < t_damp - last_cmd <= 2 * 0.02 + 1e-6, f"damping {t_damp - last_cmd:.3f} s after the last command"
