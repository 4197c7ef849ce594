"""The Go2 bridge against the fake Go2: separate processes, real CycloneDDS on loopback, SDK types.

One stack for the module (fake Go2 with independent joints + bridge node, private ROS and Unitree
DDS domains, CycloneDDS bound to `lo`); the tests run in file order, each a stage of a bring-up:
sport mode held, released, zero torque until the first state, soft start, state topics, clamping,
joint order joint by joint, watchdog damping, e-stop latch, CRCs, damping at shutdown. What the
robot side received is read from the fake's record (one row per LowCmd_, by Unitree motor index).
Last, the fake drives the MuJoCo Go2: the bridge's soft start makes it stand up from lying.
"""

import json
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from quadruped_bridge.fake_go2 import read_record, record_column
from quadruped_bridge.go2_dds import cyclonedds_uri
from quadruped_bridge.go2_description import JOINT_NAMES, JOINT_UPPER, STAND_POSE
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration

COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
MOTOR = {  # Unitree's motor index per joint, from Unitree's documentation (independent of the code)
    "FR_hip_joint": 0, "FR_thigh_joint": 1, "FR_calf_joint": 2, "FL_hip_joint": 3, "FL_thigh_joint": 4,
    "FL_calf_joint": 5, "RR_hip_joint": 6, "RR_thigh_joint": 7, "RR_calf_joint": 8, "RL_hip_joint": 9,
    "RL_thigh_joint": 10, "RL_calf_joint": 11,
}
# Timeouts wider than the robot defaults: the test machine is shared and its 2 cores are busy.
KP, KD, DAMPING_KD, TIMEOUT, STATE_TIMEOUT, SOFT = 50.0, 2.0, 3.0, 0.5, 1.0, 1.0
F32 = 1e-5  # LowCmd_ fields are float32


class Stack:
    def __init__(self, group, probe, fake, record, stats):
        self.group, self.probe, self.fake, self.record_path, self.stats_path = group, probe, fake, record, stats
        self.target = None  # joint targets the command thread publishes at 100 Hz (None = silent)
        self.last_publish = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, daemon=True)
        probe.publish(JointState, "joint_commands", joint_state_msg(0.0, JOINT_NAMES, STAND_POSE), COMMAND_QOS)
        self._thread.start()

    def _publish_loop(self):
        pub = self.probe._publishers["joint_commands"]
        while not self._stop.is_set():
            target = self.target
            if target is not None:
                pub.publish(joint_state_msg(time.time(), JOINT_NAMES, target))
                self.last_publish = time.monotonic()
            time.sleep(0.01)

    def rows(self):
        return read_record(self.record_path)

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def bridge_diags(self):
        return [d for d in self.probe.messages["/diagnostics"] if d.status[0].name == "quadruped_bridge: go2"]

    def wait_mode(self, mode, timeout=15.0):
        def reported():
            return any(f"mode={mode}" in diagnostics_text([d]) for d in self.bridge_diags()[-2:])

        ok = self.probe.spin_until(reported, timeout)
        assert ok, f"bridge never reported mode={mode}:\n" + diagnostics_text(self.bridge_diags()[-3:])

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)


def motor_cols(field):
    return [record_column(field, i) for i in range(12)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ros_domain = private_domain_id()
    dds_domain = 1 + ros_domain % 100  # Unitree DDS domain, apart from the ROS ones (110-209) and from 0
    logs = tmp_path_factory.mktemp("go2")
    record, stats = logs / "lowcmd.bin", logs / "stats.json"
    group = ProcessGroup(logs, ros_env(ros_domain, {"CYCLONEDDS_URI": cyclonedds_uri("lo")}))
    fake = group.start("fake_go2", [sys.executable, "-m", "quadruped_bridge.fake_go2", "--domain", str(dds_domain),
                                    "--interface", "lo", "--model", "joints", "--sport-mode", "normal", "--hold-state",
                                    "--record", str(record), "--stats", str(stats)])
    group.start("bridge", node_command("quadruped_bridge.go2_bridge_node", {
        "network_interface": "lo", "dds_domain_id": dds_domain, "kp": KP, "kd": KD, "damping_kd": DAMPING_KD,
        "command_timeout": TIMEOUT, "state_timeout": STATE_TIMEOUT, "soft_start_duration": SOFT,
        "sport_mode_timeout": 2.0}))
    probe = RosProbe(ros_domain, use_sim_time=False)
    probe.watch(DiagnosticArray, "/diagnostics")
    probe.watch(JointState, "joint_states", sensor=True)
    probe.watch(Imu, "imu/data", sensor=True)
    # a count of joint_states through a deep best-effort queue: the bridge's rate, not how promptly
    # this test process happens to be scheduled (the depth-5 queue above keeps only the freshest)
    count = probe.messages["joint_states_count"]
    probe.node.create_subscription(JointState, "joint_states", lambda m: count.append(stamp_seconds(m)),
                                   QoSProfile(depth=5000, reliability=ReliabilityPolicy.BEST_EFFORT))
    s = Stack(group, probe, fake, record, stats)
    try:
        held = lambda: "sport mode 'normal' active" in diagnostics_text(s.bridge_diags())  # noqa: E731
        if not probe.spin_until(held, timeout=60):
            group.check_alive()
            raise AssertionError("bridge never reported the active sport mode:\n" +
                                 diagnostics_text(probe.messages["/diagnostics"]))
        yield s
    finally:
        s.close()
        probe.close()
        group.stop()


def test_no_lowcmd_while_sport_mode_active_then_release(stack):
    stack.probe.spin(1.0)
    assert stack.stats()["lowcmd_received"] == 0, "LowCmd_ sent while the sport mode owns the motors"
    last = stack.bridge_diags()[-1].status[0]
    assert last.level == DiagnosticStatus.ERROR
    assert "go2/release_sport_mode" in last.message
    res = stack.probe.call(Trigger, "go2/release_sport_mode", timeout=15)
    assert res.success, res.message
    assert wait_for(lambda: stack.stats().get("sport_mode") == "", 5)
    assert stack.stats()["sport_mode_releases"] >= 1


def test_zero_torque_until_first_state(stack):
    assert wait_for(lambda: len(stack.rows()) >= 200, 20), "the bridge sends no LowCmd_ after the release"
    rows = stack.rows()
    assert np.all(rows[:, 3] == 0), "the fake was holding its state"
    for field in ("kp", "kd", "tau"):
        assert np.all(rows[:, motor_cols(field)] == 0.0), f"{field} not zero before the first state"
    assert np.all(rows[:, 5] == 0.0), "the unused motor slots 12..19 must stay inert"
    assert np.all(rows[:, record_column("mode", 0):record_column("mode", 0) + 12] == 1)
    stack.lying_q = np.array(stack.stats()["q_by_motor"])
    os.kill(stack.fake.popen.pid, signal.SIGUSR1)  # the robot starts reporting its state
    assert wait_for(lambda: np.any(stack.rows()[:, record_column("kp", 0)] > 0), 10)
    rows = stack.rows()
    active = rows[:, record_column("kp", 0)] > 0
    assert np.all(rows[active, 3] > 0), "torque commanded before any LowState_ was published"


def test_soft_start_moves_from_lying_pose_to_stand(stack):
    stack.wait_mode("stand")
    stack.probe.spin(0.5)
    rows = stack.rows()
    rows = rows[rows[:, record_column("kp", 0)] > 0]
    q = rows[:, motor_cols("q")]  # motors 0..11 = JOINT_NAMES order (checked joint by joint below)
    np.testing.assert_allclose(rows[:, motor_cols("kp")], KP)
    np.testing.assert_allclose(rows[:, motor_cols("kd")], KD)
    np.testing.assert_allclose(q[0], stack.lying_q, atol=0.05)  # starts where the robot lies
    dist = np.abs(q - STAND_POSE).max(axis=1)
    assert np.all(np.diff(dist) <= 1e-5), "the soft start must approach the stand pose monotonically"
    reached = np.flatnonzero(dist < 1e-4)
    assert reached.size, "the stand pose was never commanded"
    # The ramp's duration from the rows we have: the first recorded active command may come late
    # on a loaded machine, so place it on the smoothstep ramp by its progress instead of assuming 0.
    progress = 1.0 - dist[0] / np.abs(stack.lying_q - STAND_POSE).max()
    grid = np.linspace(0.0, 1.0, 2001)
    x0 = float(np.interp(progress, 3 * grid**2 - 2 * grid**3, grid))  # smoothstep^-1
    assert x0 < 0.8, f"the first recorded soft-start command was already {x0:.0%} of the way: too few rows"
    took = (rows[reached[0], 0] - rows[0, 0]) / (1.0 - x0)
    assert 0.7 * SOFT < took < SOFT + 0.6, f"soft start took {took:.2f} s, configured {SOFT} s (first row at {x0:.0%})"
    followed = lambda: np.allclose(stack.stats()["q_by_motor"], STAND_POSE, atol=0.02)  # noqa: E731
    assert wait_for(followed, 5), f"the robot's joints at {stack.stats()['q_by_motor']}"


def lowstate_received(diag) -> int:
    return int(next(kv.value for kv in diag.status[0].values if kv.key == "lowstate_received"))


def test_joint_states_and_imu_follow_lowstate(stack):
    """One joint_states per LowState_ the bridge takes (full rate), in our names, with the robot's values."""
    js = stack.probe.messages["joint_states"]
    counted = stack.probe.messages["joint_states_count"]
    diags = stack.bridge_diags()
    n_diag = len(diags)
    assert stack.probe.spin_until(lambda: len(stack.bridge_diags()) > n_diag, 5)
    d0 = stack.bridge_diags()[-1]
    stack.probe.spin_until(lambda: len(stack.bridge_diags()) > n_diag + 2, 5)
    d1 = stack.bridge_diags()[-1]
    stack.probe.spin(0.5)  # drain what is still queued
    # joint_states stamped between the two reports (the bridge's clock), against LowState_ taken then
    t0, t1 = stamp_seconds(d0), stamp_seconds(d1)
    first, last = 0, sum(1 for t in counted if t0 < t <= t1)
    taken = lowstate_received(d1) - lowstate_received(d0)
    assert taken > 50
    assert (last - first) >= 0.8 * taken, f"{last - first} joint_states for {taken} LowState_ taken"
    msg = js[-1]
    assert tuple(msg.name) == JOINT_NAMES
    fake_q = np.array(stack.stats()["q_by_motor"])
    np.testing.assert_allclose(msg.position, fake_q[[MOTOR[n] for n in JOINT_NAMES]], atol=0.02)
    imu = stack.probe.messages["imu/data"][-1]  # the joint model's base is level and at rest
    assert imu.orientation.w > 0.99 and 9.0 < imu.linear_acceleration.z < 10.6


def test_commands_are_clamped_and_bad_ones_rejected(stack):
    stack.target = STAND_POSE.copy()
    stack.wait_mode("active")
    stack.probe.messages["/diagnostics"].clear()
    n0 = len(stack.rows())
    target = STAND_POSE.copy()
    target[2] = -0.3  # FR calf beyond its upper limit (-0.838)
    target[4] = STAND_POSE[4] + 0.8  # FL thigh: a jump larger than the 0.5 rad max step
    stack.target = target
    stack.probe.spin(0.6)
    rows = stack.rows()[n0:]
    rows = rows[rows[:, record_column("kp", 0)] == KP]  # commanded rows (a busy CPU may trip the watchdog)
    calf = rows[:, record_column("q", MOTOR["FR_calf_joint"])]
    assert calf.max() <= JOINT_UPPER[2] + F32 and calf[-1] == pytest.approx(JOINT_UPPER[2], abs=F32)
    # The max step applies per command (two commands may fall between two motor ticks when the
    # CPU is busy), so LowCmd_ shows it as: never beyond the stand pose + 0.5 before the second
    # command, and the full target once it is reached; the diagnostics name the clamp.
    thigh = rows[:, record_column("q", MOTOR["FL_thigh_joint"])]
    assert set(np.round(thigh, 4)) <= {round(STAND_POSE[4], 4), round(STAND_POSE[4] + 0.5, 4),
                                       round(STAND_POSE[4] + 0.8, 4)}, sorted(set(np.round(thigh, 4)))
    assert thigh[-1] == pytest.approx(STAND_POSE[4] + 0.8, abs=F32)
    nan_target = STAND_POSE.copy()
    nan_target[7] = float("nan")
    stack.target = nan_target
    # hold the NaN target until the bridge has taken one (a fixed 0.15 s lost it on a loaded machine)
    said = lambda: "non-finite position" in diagnostics_text(stack.probe.messages["/diagnostics"])  # noqa: E731
    stack.probe.spin_until(said, timeout=5.0)
    stack.target = STAND_POSE.copy()
    stack.probe.spin(0.5)
    stack.wait_mode("active")  # (rejected commands may have let the watchdog fire: soft start again)
    text = diagnostics_text(stack.probe.messages["/diagnostics"])
    assert "FR_calf_joint (joint limit)" in text and "FL_thigh_joint (max step)" in text, text
    assert "non-finite position for ['RR_thigh_joint']" in text, text
    assert np.all(np.isfinite(stack.rows()[:, motor_cols("q")]))


def test_joint_order_joint_by_joint(stack):
    stack.target = STAND_POSE.copy()
    stack.wait_mode("active")
    js = stack.probe.messages["joint_states"]

    def settled(q):
        return lambda: len(js) > 0 and np.allclose(js[-1].position, q, atol=0.01)

    for j, name in enumerate(JOINT_NAMES):
        assert stack.probe.spin_until(settled(STAND_POSE), 10), "the joints did not settle at the stand pose"
        base = np.array(js[-1].position)
        target = STAND_POSE.copy()
        target[j] += 0.25
        expected = STAND_POSE.copy()
        expected[MOTOR[name]] += 0.25  # STAND_POSE is symmetric per leg, so only the moved slot differs
        stack.target = target
        stack.probe.spin_until(lambda e=expected: np.allclose(stack.rows()[-10:][:, motor_cols("q")], e, atol=F32), 5)
        moved_q = STAND_POSE.copy()
        moved_q[j] += 0.25
        stack.probe.spin_until(settled(moved_q), 3)
        cmd_q = stack.rows()[-10:][:, motor_cols("q")]
        np.testing.assert_allclose(cmd_q, np.tile(expected, (len(cmd_q), 1)), atol=F32,
                                   err_msg=f"{name} must drive Unitree motor {MOTOR[name]} only\n"
                                   + diagnostics_text(stack.bridge_diags()[-3:]))
        # state path: joint_states (by name) equal what the robot reports for that joint's motor; the
        # moved joint breaks the legs' symmetry, so a swapped leg or joint would show here
        robot_q = np.array(stack.stats()["q_by_motor"])  # snapshot of the last 50 ms
        now = np.array(js[-1].position)
        names = list(js[-1].name)
        np.testing.assert_allclose(now, [robot_q[MOTOR[n]] for n in names], atol=0.05,
                                   err_msg=f"joint_states vs the robot's motors while {name} is moved")
        moved = now - base  # the fake's joints are independent: only the commanded one may move
        most = names[int(np.argmax(np.abs(moved)))]
        assert most == name, f"commanding {name} moved {dict(zip(names, moved.round(3), strict=True))}"
        assert moved[names.index(name)] == pytest.approx(0.25, abs=0.02)
        stack.target = STAND_POSE.copy()


def test_watchdog_damping_visible_in_lowcmd(stack):
    stack.probe.messages["/diagnostics"].clear()
    n0 = len(stack.rows())
    stack.target = None  # the controller goes silent
    last = stack.last_publish
    stack.probe.spin(0.6)
    rows = stack.rows()[n0:]
    damp = np.all(rows[:, motor_cols("kp")] == 0, axis=1) & np.all(rows[:, motor_cols("kd")] == DAMPING_KD, axis=1)
    assert damp[-1], "no damping after the commands stopped"
    first = rows[np.argmax(damp), 0]
    assert first - last <= TIMEOUT + 0.1, f"damping {first - last:.3f} s after the last command"
    assert np.all(damp[np.argmax(damp):]), "damping must hold while no command arrives"
    assert np.all(rows[damp][:, motor_cols("dq")] == 0.0) and np.all(rows[damp][:, motor_cols("tau")] == 0.0)
    said = lambda: "damping: watchdog" in diagnostics_text(stack.probe.messages["/diagnostics"])  # noqa: E731
    assert stack.probe.spin_until(said, 3)


def test_estop_latches_damping_until_released(stack):
    stack.target = STAND_POSE.copy()  # fresh commands end watchdog damping through a soft start
    stack.wait_mode("active", timeout=20)
    assert stack.probe.call(Trigger, "quadruped_bridge/estop").success
    t_estop = time.monotonic()
    stack.probe.spin(1.0)  # the controller keeps publishing: the latch must hold
    rows = stack.rows()
    rows = rows[rows[:, 0] > t_estop + 0.05]  # sent after the e-stop (the fake's clock is this machine's)
    assert len(rows) > 20
    assert np.all(rows[:, motor_cols("kp")] == 0) and np.all(rows[:, motor_cols("kd")] == DAMPING_KD)
    assert "mode=estop" in diagnostics_text(stack.bridge_diags()[-1:])
    res = stack.probe.call(Trigger, "quadruped_bridge/release_estop")
    assert res.success, res.message
    n1 = len(stack.rows())
    stack.probe.spin(0.5)
    assert np.any(stack.rows()[n1:, record_column("kp", 0)] == KP), "no soft start after the release"
    stack.wait_mode("active", timeout=20)


def test_every_crc_valid_and_rate(stack):
    stats, rows = stack.stats(), stack.rows()
    assert stats["bad_crc"] == 0
    assert np.all(rows[:, 2] == 1.0)
    assert stats["lowcmd_received"] >= len(rows) > 1000
    sent = rows[-1000:, 1]  # DDS source timestamps: when the bridge wrote them
    rate = (len(sent) - 1) / (sent[-1] - sent[0])
    # 500 Hz on an idle machine (benchmarks/go2_lowcmd_rate.py); here only a floor, the CPU is shared
    assert rate > 50, f"LowCmd_ at {rate:.0f} Hz (500 Hz configured)"


def test_shutdown_sends_damping(stack):
    stack.target = None
    bridge = next(p for p in stack.group.processes if p.name == "bridge")
    bridge.stop()
    time.sleep(0.3)
    last = stack.rows()[-5:]
    assert np.all(last[:, motor_cols("kp")] == 0) and np.all(last[:, motor_cols("kd")] == DAMPING_KD)


def test_refuses_robot_domain_without_real_robot(tmp_path):
    group = ProcessGroup(tmp_path, ros_env(private_domain_id()))
    with group:
        proc = group.start("bridge", node_command("quadruped_bridge.go2_bridge_node", {"dds_domain_id": 0}))
        proc.popen.wait(timeout=30)
        assert proc.popen.returncode == 2
        assert "refusing to start on DDS domain 0" in proc.log()


def test_soft_start_stands_the_mujoco_go2_up(tmp_path):
    ros_domain = private_domain_id()
    dds_domain = 1 + ros_domain % 100
    stats = tmp_path / "stats.json"
    group = ProcessGroup(tmp_path, ros_env(ros_domain, {"CYCLONEDDS_URI": cyclonedds_uri("lo")}))
    with group:
        group.start("fake_go2", [sys.executable, "-m", "quadruped_bridge.fake_go2", "--domain", str(dds_domain),
                                 "--model", "mujoco", "--start-pose", "lie", "--stats", str(stats)])
        group.start("bridge", node_command("quadruped_bridge.go2_bridge_node", {
            "network_interface": "lo", "dds_domain_id": dds_domain, "state_timeout": STATE_TIMEOUT,
            "soft_start_duration": SOFT}))

        def snapshot():
            try:
                return json.loads(stats.read_text())
            except (OSError, ValueError):
                return {}

        assert wait_for(lambda: snapshot().get("states_published", 0) > 0, 30), group.check_alive()
        lying = snapshot()["base_height"]
        assert lying < 0.15
        def standing():
            snap = snapshot()
            # kp 50 under gravity leaves the calves ~0.2 rad short of the target: compare loosely
            return snap.get("base_height", 0) > 0.24 and np.allclose(snap["q_by_motor"], STAND_POSE, atol=0.25)

        stood = wait_for(standing, 40)  # simulated time runs slower than wall time on a busy CPU
        group.check_alive()
        snap = snapshot()
        assert stood, f"base {snap['base_height']:.3f} m, joints {np.round(snap['q_by_motor'], 2)}, lying {lying:.3f}"
        assert snapshot()["bad_crc"] == 0
