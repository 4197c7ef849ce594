"""The locomotion controller (fog_policy.locomotion_node) with the simulated Go2 as separate processes
over real DDS.

One stack (sim node + locomotion node on a private domain) is shared by most of the module; every test
using it starts from the state `stack` brings it to first: both processes alive, the bridge armed to the
locomotion node (ACTIVE, joint_commands/source=/locomotion), no e-stop, the robot upright and the
controller standing under zero cmd_vel. An e-stop left latched is released; a stack a test has
spent (the watchdog test stops the controller), with a dead process or a fallen robot is replaced
by a new one. So each test passes alone and in any order: walk, turn, bad commands, foreign
publishers, e-stop, watchdog.

The start of a walk (its own stack: the robot lying, and a policy node): locomotion/ready must stay
false through the stand-up and the settle, turn true once the robot trots in place, go false on a
simulator reset and true again after the next stand-up; the policy node must command nothing but a
stop (zero cmd_vel) while it is false, and step once it is true.
"""

import math
import sys
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
from fog_policy.realtime import may_use_fifo
from geometry_msgs.msg import PoseStamped, Twist
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, roll_pitch_yaw, stamp_seconds
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration

COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
READY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
SIM_PARAMS = {"real_time_factor": 0.5, "camera_enabled": False}


def reports(probe, prefix):
    return [d for d in probe.messages["/diagnostics"] if d.status[0].name.startswith(prefix)]


class SimStack:
    """The sim node and the locomotion node, and this test process's observer."""

    def __init__(self, logs):
        domain = private_domain_id()
        self.spent = False  # a test stopped a process on purpose: the next test needs a new stack
        self.group = ProcessGroup(logs, ros_env(domain))
        self.probe = None
        try:
            self.group.start("sim", node_command("quadruped_bridge.sim_node", SIM_PARAMS))
            # real-time priority for the 50 Hz loop where the kernel allows it, as on the robot: under a
            # loaded test machine a normally scheduled loop missed enough ticks to walk 0.87 m of 1.5 m
            loco = {"use_sim_time": True, "realtime_priority": 50 if may_use_fifo() else 0}
            self.group.start("locomotion", node_command("fog_policy.locomotion_node", loco))
            probe = self.probe = RosProbe(domain)
            probe.watch(PoseStamped, "sim/base_pose", sensor=True)
            probe.watch(DiagnosticArray, "/diagnostics")
            probe.watch(JointState, "joint_commands", qos=COMMAND_QOS)
            probe.watch(JointState, "joint_states", sensor=True)
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        return all(p.alive() for p in self.group.processes)

    def upright(self) -> bool:
        poses = self.probe.messages["sim/base_pose"]
        if not poses:
            return True  # not known yet: the bring-up wait below decides
        pose = poses[-1].pose
        return pose.position.z > 0.2 and max(abs(a) for a in roll_pitch_yaw(pose.orientation)[:2]) < 0.5

    def ready(self, timeout=90.0):
        """Await the start state of every test: armed to the locomotion node, standing, upright."""
        probe = self.probe
        if "mode=estop" in diagnostics_text(reports(probe, "quadruped_bridge")[-1:]):
            res = probe.call(Trigger, "quadruped_bridge/release_estop")
            assert res.success, res.message
        n_loco = len(reports(probe, "fog_policy: locomotion"))

        def start_state():
            self.group.check_alive()
            bridge = diagnostics_text(reports(probe, "quadruped_bridge")[-1:])
            loco = reports(probe, "fog_policy: locomotion")
            return ("mode=active" in bridge and "joint_commands/source=/locomotion" in bridge
                    and len(loco) > n_loco and loco[-1].status[0].message == "standing (zero cmd_vel)"
                    and len(probe.messages["sim/base_pose"]) > 0 and self.upright())

        if not probe.spin_until(start_state, timeout):
            poses = probe.messages["sim/base_pose"]
            raise AssertionError(
                f"awaited for {timeout:.0f} s: the bridge ACTIVE and armed to /locomotion, a locomotion report "
                f"'standing (zero cmd_vel)', the robot upright; seen: base z "
                f"{poses[-1].pose.position.z if poses else float('nan'):.3f}, newest reports:\n"
                + diagnostics_text(reports(probe, "quadruped_bridge")[-1:] + reports(probe, "fog_policy")[-1:]))

    def close(self):
        if self.probe is not None:
            self.probe.close()
        self.group.stop()


class SimStacks:
    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self.stack = None

    def ready(self) -> SimStack:
        s = self.stack
        if s is not None and (s.spent or not s.alive() or not s.upright()):
            s.close()
            s = self.stack = None
        if s is None:
            s = self.stack = SimStack(self._tmp.mktemp("logs"))
        try:
            s.ready()
        except BaseException:
            s.spent = True  # not in the start state: the next test starts a new stack
            raise
        return s

    def close(self):
        """Stop the shared stack (the next `ready()` starts a new one)."""
        if self.stack is not None:
            self.stack.close()
            self.stack = None


@pytest.fixture(scope="module")
def sim_stacks(tmp_path_factory):
    stacks = SimStacks(tmp_path_factory)
    yield stacks
    stacks.close()


@pytest.fixture
def stack(sim_stacks):
    """The shared stack in the start state (see the module's docstring)."""
    return sim_stacks.ready()


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
    probe = stack.probe
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
    probe = stack.probe
    poses = drive(probe, wz=0.8, seconds=3.0)
    yaws = np.unwrap([roll_pitch_yaw(m.pose.orientation)[2] for m in poses])
    turned = yaws[-1] - yaws[0]
    expected = 0.8 * (stamp_seconds(poses[-1]) - stamp_seconds(poses[0]))
    assert turned > 0, "positive yaw rate must turn left (counter-clockwise)"
    assert 0.4 * expected < turned < 1.6 * expected, f"turned {turned:.2f} rad, expected about {expected:.2f}"


def armed_to_locomotion(probe) -> bool:
    """The bridge's newest report: ACTIVE and locked to the locomotion node."""
    text = diagnostics_text(reports(probe, "quadruped_bridge")[-1:])
    return "mode=active" in text and "joint_commands/source=/locomotion" in text


def test_commands_from_another_publisher_are_rejected_and_named(stack):
    """The bridge armed to the locomotion node: joint_commands from this test's probe (bad ones and a
    valid one that would be clamped) are all rejected as a foreign source, named, and the robot stays up."""
    probe = stack.probe
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
            probe.spin(0.05)  # the test's publishing cadence, not a wait
    named = lambda: "joint_commands from foreign publisher /test_probe" in diagnostics_text(  # noqa: E731
        probe.messages["/diagnostics"])
    assert probe.spin_until(named, timeout=20), "awaited the bridge naming /test_probe as a foreign publisher:\n" + (
        diagnostics_text(probe.messages["/diagnostics"][-4:]))
    # one more second of simulated time after the last bad command, for the robot to show it stays up
    assert probe.spin_sim(1.0, timeout=30), "awaited 1 s of simulated time: the clock did not advance"
    text = diagnostics_text(probe.messages["/diagnostics"])
    assert "command clamped" not in text and "non-finite position" not in text, "a foreign command was inspected"
    after = poses[first:]
    assert min(m.pose.position.z for m in after) > 0.18
    assert max(max(abs(a) for a in roll_pitch_yaw(m.pose.orientation)[:2]) for m in after) < 0.5
    assert armed_to_locomotion(probe), diagnostics_text(reports(probe, "quadruped_bridge")[-1:])


INTRUDER = """
import time, rclpy
from geometry_msgs.msg import Twist
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
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
    group, probe = stack.group, stack.probe
    drive(probe, seconds=0.5)  # this test is the teleop the locomotion node follows (zero cmd_vel)
    joints = probe.messages["joint_states"]
    commands = probe.messages["joint_commands"]
    probe.messages["/diagnostics"].clear()
    intruder = group.start("intruder", [sys.executable, "-c", INTRUDER])
    try:
        def named():
            text = diagnostics_text(probe.messages["/diagnostics"])
            return ("joint_commands from foreign publisher /intruder" in text
                    and "cmd_vel from foreign publisher /intruder" in text)

        assert probe.spin_until(named, timeout=40), "awaited both foreign publishers /intruder named:\n" + (
            diagnostics_text(probe.messages["/diagnostics"][-6:]))
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
    assert armed_to_locomotion(probe), diagnostics_text(reports(probe, "quadruped_bridge")[-1:])


def test_estop_latches_until_released(stack):
    probe = stack.probe
    poses = probe.messages["sim/base_pose"]
    z_before = poses[-1].pose.position.z
    res = probe.call(Trigger, "quadruped_bridge/estop")
    assert res.success
    # the controller's commands are refused while latched, and the robot sinks (damping): await the
    # body 4 cm lower within 2 s of simulated time
    sunk = lambda: poses[-1].pose.position.z < z_before - 0.04  # noqa: E731
    assert probe.spin_sim(2.0, timeout=30, until=sunk), "awaited 2 s of simulated time: the clock did not advance"
    assert sunk(), f"e-stop must damp the joints: the body at {poses[-1].pose.position.z:.3f} m, {z_before:.3f} before"
    bridge = reports(probe, "quadruped_bridge")
    assert "mode=estop" in diagnostics_text(bridge[-1:]), diagnostics_text(bridge[-1:])
    res = probe.call(Trigger, "quadruped_bridge/release_estop")
    assert res.success, res.message
    assert probe.spin_until(lambda: armed_to_locomotion(probe), timeout=40), (
        "awaited the controller taking over again after the soft start (bridge ACTIVE, armed to /locomotion):\n"
        + diagnostics_text(probe.messages["/diagnostics"][-8:]))
    assert probe.spin_sim(1.0, timeout=30), "awaited 1 s of simulated time: the clock did not advance"
    assert poses[-1].pose.position.z > 0.22, f"the body at {poses[-1].pose.position.z:.3f} m after the release"


def test_watchdog_damps_within_two_command_periods(stack):
    group, probe = stack.group, stack.probe
    commands = probe.messages["joint_commands"]
    probe.messages["/diagnostics"].clear()
    locomotion = next(p for p in group.processes if p.name == "locomotion")
    stack.spent = True  # the controller is stopped below: the next test gets a new stack
    locomotion.stop()

    def damping_event():
        text = diagnostics_text(probe.messages["/diagnostics"])
        return "damping: watchdog" in text

    assert probe.spin_until(damping_event, timeout=30), "awaited the bridge's 'damping: watchdog' event:\n" + (
        diagnostics_text(probe.messages["/diagnostics"][-4:]))
    last_cmd = stamp_seconds(commands[-1])  # the controller's last command (its stamp), received by now
    text = diagnostics_text(probe.messages["/diagnostics"])
    line = next(part for part in text.split(" | ") if "damping: watchdog" in part)
    t_damp = float(line.split("[", 1)[1].split()[0])
    # when the simulator took that command (simulated time): the stamp is the controller's view of the
    # clock, which lags the simulator's by up to a lockstep period (0.048 s stamp-to-damping was seen
    # with the command taken 0.016 s after its stamp)
    sim = reports(probe, "quadruped_bridge")[-1]
    taken = float(next(kv.value for kv in sim.status[0].values if kv.key == "last_command_time"))
    assert taken >= last_cmd - 1e-3, f"the simulator's last command ({taken:.4f}) older than the last seen ({last_cmd})"
    assert t_damp - taken <= 2 * 0.02 + 1e-6, f"damping {t_damp - taken:.3f} s after the last command was taken"
    # and never while commands still came every period
    assert t_damp - last_cmd > 0.02, f"damping {t_damp - last_cmd:.3f} s after the last command's stamp"


def test_policy_waits_for_the_robot_to_stand_and_settle(tmp_path, untrained_artifact, sim_stacks):
    sim_stacks.close()  # its own stack (robot lying, a policy node): the shared one must not load the machine meanwhile
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
