"""A fake Go2 and the Go2 bridge as separate processes, for the bridge's integration tests
(quadruped_bridge/test/integration/test_go2_bridge_node.py): real CycloneDDS on loopback, the SDK's types.

A stack is a fake Go2 with independent joints and the bridge node, on private ROS and Unitree DDS
domains, CycloneDDS bound to `lo`. Each test asks the `go2` fixture for the stage of the bring-up it
starts from (`go2.at(STAGE)`):

- SPORT: the sport mode owns the motors (the bridge sends nothing);
- RELEASED: the sport mode released, LowCmd_ flowing, the robot still withholding its state;
- STOOD: the robot reports its state and the bridge's first soft start has reached the stand pose;
- ACTIVE: a controller (this test's command thread) commands the stand pose and the bridge follows it.

`at` reaches a later stage from the one the stack is in through the same steps the bring-up tests
check, and brings a stack past STOOD back to ACTIVE (fresh commands, e-stop released, latched damping
reset, joints at the stand pose). A stack past SPORT or RELEASED (they cannot be entered again),
one with a dead process or one a test has spent (the shutdown test stops the bridge) is replaced by
a new one, so every test passes alone and in any order. What the robot side received is read from
the fake's record (one row per LowCmd_, by Unitree motor index), incrementally.
"""

import json
import re
import signal
import sys
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_srvs.srv import Trigger

from quadruped_bridge.fake_go2 import RecordReader, record_column
from quadruped_bridge.go2_dds import cyclonedds_uri
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds

COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
MOTOR = {  # Unitree's motor index per joint, from Unitree's documentation (independent of the code)
    "FR_hip_joint": 0, "FR_thigh_joint": 1, "FR_calf_joint": 2, "FL_hip_joint": 3, "FL_thigh_joint": 4,
    "FL_calf_joint": 5, "RR_hip_joint": 6, "RR_thigh_joint": 7, "RR_calf_joint": 8, "RL_hip_joint": 9,
    "RL_thigh_joint": 10, "RL_calf_joint": 11,
}
# Timeouts wider than the robot defaults: the test machine is shared and its 2 cores are busy.
KP, KD, DAMPING_KD, TIMEOUT, STATE_TIMEOUT, SOFT = 50.0, 2.0, 3.0, 0.5, 3.0, 1.0
SHUTDOWN_TICKS = 25  # go2_bridge_node's shutdown_damping_ticks default
F32 = 1e-5  # LowCmd_ fields are float32
SPORT, RELEASED, SOFT_START, STOOD, ACTIVE = range(5)  # SOFT_START: between RELEASED and STOOD
STAGE_NAMES = ("SPORT", "RELEASED", "SOFT_START", "STOOD", "ACTIVE")


def motor_cols(field):
    return [record_column(field, i) for i in range(12)]


def commanded(rows):
    """Rows that carry the bridge's gains (soft start, stand, active), not zero torque or damping."""
    return rows[:, record_column("kp", 0)] == KP


def damping(rows):
    return np.all(rows[:, motor_cols("kp")] == 0, axis=1) & np.all(rows[:, motor_cols("kd")] == DAMPING_KD, axis=1)


def row_summary(rows) -> str:
    """What a few record rows commanded, for failure messages."""
    if len(rows) == 0:
        return "(no rows)"
    return "\n".join(f"t={r[0]:.3f} kp0={r[record_column('kp', 0)]:g} kd0={r[record_column('kd', 0)]:g} "
                     f"q={np.round(r[motor_cols('q')], 3).tolist()}" for r in rows)


class Stack:
    """One fake Go2 + bridge, and this test process's command thread and observer."""

    def __init__(self, logs):
        ros_domain = private_domain_id()
        dds_domain = 1 + ros_domain % 100  # Unitree DDS domain, apart from the ROS ones (110-209) and from 0
        self.stage = SPORT
        self.spent = False  # a test stopped a process on purpose: the next test needs a new stack
        self.lying_q = None  # the robot's joints before its first state (set by publish_state)
        self.first_state_row = None  # record rows before the first LowState_
        self.soft_start_times = None  # (start, end) of the first soft start, as the bridge reported them
        record, self.stats_path = logs / "lowcmd.bin", logs / "stats.json"
        self.record = RecordReader(record)
        self.group = ProcessGroup(logs, ros_env(ros_domain, {"CYCLONEDDS_URI": cyclonedds_uri("lo")}))
        self.probe = None
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.target = None  # joint targets the command thread publishes at 100 Hz (None = silent)
        self.last_publish = 0.0  # time.time() of the last command published
        self.published = 0
        try:
            self.fake = self.group.start("fake_go2", [
                sys.executable, "-m", "quadruped_bridge.fake_go2", "--domain", str(dds_domain), "--interface", "lo",
                "--model", "joints", "--sport-mode", "normal", "--hold-state", "--record", str(record),
                "--stats", str(self.stats_path)])
            self.bridge = self.group.start("bridge", node_command("quadruped_bridge.go2_bridge_node", {
                "network_interface": "lo", "dds_domain_id": dds_domain, "safety.kp": KP, "safety.kd": KD,
                "safety.damping_kd": DAMPING_KD, "safety.command_timeout": TIMEOUT,
                "safety.state_timeout": STATE_TIMEOUT, "safety.soft_start_duration": SOFT,
                "sport_mode_timeout": 2.0}))
            probe = self.probe = RosProbe(ros_domain, use_sim_time=False)
            probe.watch(DiagnosticArray, "/diagnostics")
            probe.watch(JointState, "joint_states", sensor=True)
            probe.watch(Imu, "imu/data", sensor=True)
            # a count of joint_states through a deep best-effort queue: the bridge's rate, not how promptly
            # this test process happens to be scheduled (the depth-5 queue above keeps only the freshest)
            count = probe.messages["joint_states_count"]
            probe.node.create_subscription(JointState, "joint_states", lambda m: count.append(stamp_seconds(m)),
                                           QoSProfile(depth=5000, reliability=ReliabilityPolicy.BEST_EFFORT))
            self._pub = probe.publisher(JointState, "joint_commands", COMMAND_QOS)
            self._thread = threading.Thread(target=self._publish_loop, daemon=True)
            self._thread.start()
            held = lambda: "sport mode 'normal' active" in diagnostics_text(self.bridge_diags())  # noqa: E731
            if not probe.spin_until(held, timeout=60):
                self.group.check_alive()
                raise AssertionError("awaited the bridge's report of the active sport mode for 60 s; it reported:\n"
                                     + diagnostics_text(probe.messages["/diagnostics"][-3:]))
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ the controller
    def _publish_loop(self):
        while not self._stop.is_set():
            with self._lock:
                if self.target is not None:
                    self._pub.publish(joint_state_msg(time.time(), JOINT_NAMES, self.target))
                    self.last_publish = time.time()
                    self.published += 1
            time.sleep(0.01)  # the controller's 100 Hz publishing period, not a wait

    def command(self, target):
        """Publish `target` from now on (None: go silent); returns the time of the last command published
        before the change (the thread publishes nothing of the old target after this returns)."""
        with self._lock:
            self.target = None if target is None else np.array(target, dtype=np.float64)
            return self.last_publish

    # ------------------------------------------------------------ observations
    def rows(self):
        return self.record.rows()

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def bridge_diags(self):
        return [d for d in self.probe.messages["/diagnostics"] if d.status[0].name == "quadruped_bridge: go2"]

    def last_report(self) -> str:
        return diagnostics_text(self.bridge_diags()[-1:])

    def await_(self, predicate, timeout, what):
        """Spin until `predicate()`; fail naming what was awaited and what the bridge last reported."""
        if not self.probe.spin_until(predicate, timeout):
            self.group.check_alive()
            raise AssertionError(f"awaited {what} for {timeout:.0f} s; the bridge last reported:\n"
                                 + diagnostics_text(self.bridge_diags()[-2:]))

    def wait_mode(self, mode, timeout=20.0, after=None):
        """Until the bridge's newest report (one received after `after` reports, if given) says mode=`mode`."""
        n = len(self.bridge_diags()) if after is None else after

        def reported():
            diags = self.bridge_diags()
            return len(diags) > n and f"mode={mode}\n" in diagnostics_text(diags[-1:]) + "\n"

        self.await_(reported, timeout, f"mode={mode} in the bridge's newest report")

    def alive(self) -> bool:
        return all(p.alive() for p in self.group.processes)

    # ------------------------------------------------------------ bring-up steps
    def release_sport_mode(self):
        """SPORT -> RELEASED: release the sport mode through the bridge; LowCmd_ start flowing."""
        assert self.stage == SPORT, STAGE_NAMES[self.stage]
        res = self.probe.call(Trigger, "go2/release_sport_mode", timeout=15)
        assert res.success, res.message
        released = wait_for(lambda: self.stats().get("sport_mode") == "", 10)
        assert released, f"awaited the fake's sport mode '' after the release; its stats: {self.stats()}"
        assert self.stats()["sport_mode_releases"] >= 1
        self.await_(lambda: len(self.rows()) > 0, 20, "the first LowCmd_ after the sport-mode release")
        self.stage = RELEASED

    def publish_state(self):
        """RELEASED -> SOFT_START: the robot starts publishing LowState_; the bridge soft-starts."""
        assert self.stage == RELEASED, STAGE_NAMES[self.stage]
        self.lying_q = np.array(self.stats()["q_by_motor"])
        self.first_state_row = len(self.rows())
        self.fake.signal(signal.SIGUSR1)
        self.await_(lambda: np.any(commanded(self.rows()[self.first_state_row:])), 20,
                    "LowCmd_ with the bridge's gains after the robot's first LowState_")
        self.stage = SOFT_START

    def finish_soft_start(self):
        """SOFT_START -> STOOD: the soft start reaches the stand pose (the bridge holds it)."""
        assert self.stage == SOFT_START, STAGE_NAMES[self.stage]
        self.wait_mode("stand", after=0)

        def recorded():  # the fake writes its record every 50 ms: the stand command may not be in it yet
            rows = self.rows()[self.first_state_row:]
            rows = rows[commanded(rows)]
            return np.any(np.abs(rows[:, motor_cols("q")] - STAND_POSE).max(axis=1) < 1e-4)

        self.await_(recorded, 10, "the stand pose commanded in the fake's record")
        # the bridge's own times of the ramp's start and end (its events; its clock is CLOCK_MONOTONIC)
        text = diagnostics_text(self.bridge_diags())
        start = re.search(r"\[([0-9.]+) OK\] soft_start: first robot state received", text)
        done = re.search(r"\[([0-9.]+) OK\] stand: soft start done", text)
        assert start and done, f"the bridge did not report its soft start's start and end:\n{text}"
        self.soft_start_times = (float(start.group(1)), float(done.group(1)))
        self.stage = STOOD

    def activate(self):
        """STOOD or later -> ACTIVE: commands at the stand pose, followed by the bridge and the joints; an
        e-stop left by an earlier test is released and latched damping reset first."""
        assert self.stage >= STOOD, STAGE_NAMES[self.stage]
        self.command(STAND_POSE)
        report = self.last_report()
        if "mode=estop" in report:
            res = self.probe.call(Trigger, "quadruped_bridge/release_estop")
            assert res.success, res.message
        elif "mode=damping" in report and "latched until reset" in report:
            res = self.probe.call(Trigger, "quadruped_bridge/reset")
            assert res.success, res.message
        n0 = len(self.rows())
        self.wait_mode("active")  # a report made after the commands started (the heartbeat is 1 Hz)

        def following():
            rows = self.rows()[n0:][-10:]
            return (len(rows) == 10 and np.all(commanded(rows))
                    and np.allclose(rows[:, motor_cols("q")], STAND_POSE, atol=F32))

        self.await_(following, 10, "10 LowCmd_ commanding the stand pose")
        js = self.probe.messages["joint_states"]
        self.await_(lambda: len(js) > 0 and np.allclose(js[-1].position, STAND_POSE, atol=0.01), 10,
                    "joint_states at the stand pose")
        self.stage = ACTIVE

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.probe is not None:
            self.probe.close()
        self.group.stop()


class Stacks:
    """The `go2` fixture: the current stack, brought to the stage a test asks for."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self.stack = None

    def at(self, stage) -> Stack:
        s = self.stack
        if s is not None and (s.spent or not s.alive() or (s.stage > stage and stage < STOOD)):
            s.close()  # past a stage that cannot be entered again, or spent: a new stack
            s = self.stack = None
        if s is None:
            s = self.stack = Stack(self._tmp.mktemp("go2"))
        steps = {SPORT: s.release_sport_mode, RELEASED: s.publish_state, SOFT_START: s.finish_soft_start,
                 STOOD: s.activate}
        goal = stage
        if s.stage == ACTIVE:  # whatever the last test left (targets, silence, e-stop): activate again
            s.stage, goal = STOOD, ACTIVE
        while s.stage < goal:
            try:
                steps[s.stage]()
            except BaseException:
                s.spent = True  # a failed step leaves the stack in no known stage
                raise
        return s

    def close(self):
        if self.stack is not None:
            self.stack.close()
