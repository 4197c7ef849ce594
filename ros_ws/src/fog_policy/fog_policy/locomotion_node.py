"""The locomotion controller node: `cmd_vel` -> `joint_commands` at 50 Hz with the built-in trot.

Subscribes joint_states and imu/data (sensor QoS) and cmd_vel (geometry_msgs/Twist); a timer at
`rate_hz` (on the ROS clock, so simulated time when use_sim_time is set) runs
`fog_policy.trot_gait.TrotGait` and publishes joint_commands (position targets, velocity targets
and feed-forward effort, Unitree order) for the bridge's PD motor loop.

It only commands a robot that stands: it waits until the measured joints are near the stand pose and
still (the bridge's soft start has ended), then trots in place for `settle_time` with a zero command
before it follows cmd_vel, and says so on the latched `locomotion/ready` (std_msgs/Bool): the policy
node starts stepping (from a fresh recurrent state) only then, as the policy was trained from a
robot already trotting. If the robot later leaves its targets by far (damping, e-stop, a fall) or
episode/event says "reset" (the simulator put it down), it stops, publishes ready = false, resets
the gait and waits to stand again. Stale joint states or IMU -> no commands (the bridge's watchdog
then damps) and the reason on /diagnostics. A stale cmd_vel means "stand still", not "keep walking".

cmd_vel is taken from one publisher (quadruped_bridge.command_source): `cmd_vel_source` (the policy
node in deploy.yaml) or the first one; others are rejected and named on /diagnostics.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
from fog_contract.loop_timing import LoopTiming
from geometry_msgs.msg import Twist
from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.command_source import CommandSourceLock, GraphNames, gid_of
from quadruped_bridge.qos import COMMAND_QOS, COMMAND_SUB_QOS, LATCHED_QOS
from quadruped_bridge.ros_params import declare_config
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, String

from fog_policy.realtime import scheduling_of, set_realtime_priority
from fog_policy.trot_gait import GaitConfig, TrotGait


@dataclass(frozen=True)
class LocomotionConfig:
    rate_hz: float = 50.0
    """Control rate (Hz) of joint_commands."""
    state_timeout: float = 0.1
    """joint_states or imu/data older than this (s) -> stop commanding."""
    cmd_vel_timeout: float = 0.5
    """cmd_vel older than this (s) is replaced by zero velocity (stand still)."""
    stand_tolerance: float = 0.4
    """The gait starts once every joint is within this (rad) of the stand pose (and still)."""
    still_velocity: float = 0.1
    """... and every joint moves slower than this (rad/s) ..."""
    still_time: float = 0.3
    """... for this long (s): the bridge's soft start has ended (its last tenths are slow, too)."""
    settle_time: float = 1.0
    """Seconds of trotting in place (zero command) after the gait starts, before cmd_vel is followed
    and locomotion/ready turns true (the in-process rollouts of fog_policy.task_rollout settle as long)."""
    lost_tolerance: float = 0.8
    """A joint this far (rad) from its target for `lost_time` means the robot is not following."""
    lost_time: float = 0.3
    """Seconds of not following before the gait stops and waits for the stand pose again."""
    stand_height: float = GaitConfig.stand_height
    """Base height during the gait (m)."""
    gait_frequency: float = GaitConfig.gait_frequency
    """Trot cycles per second (Hz)."""
    swing_height: float = GaitConfig.swing_height
    """Foot lift in swing (m)."""
    cmd_vel_source: str = ""
    """Node allowed to publish cmd_vel ('fog_policy', 'teleop', or a full '/ns/name'); empty = the first
    publisher whose cmd_vel arrives (the lock is released when the gait stops, e.g. after the bridge's
    reset, or when that publisher leaves the graph). Others are rejected and named on /diagnostics."""
    realtime_priority: int = 0
    """SCHED_FIFO priority (1-99) for this node's process, 0 = normal scheduling. Set it on the robot's
    computer so the 50 Hz loop preempts everything else on its core (needs root, CAP_SYS_NICE or an
    rtprio limit; see fog_policy/realtime.py). Applied by the standalone node (`ros2 run`/launch),
    not inside `fog deploy`'s single process."""


class LocomotionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("locomotion", **kwargs)
        self.cfg = declare_config(self, LocomotionConfig)
        self.gait = TrotGait(
            GaitConfig(
                stand_height=self.cfg.stand_height,
                gait_frequency=self.cfg.gait_frequency,
                swing_height=self.cfg.swing_height,
            )
        )
        self._index = {n: i for i, n in enumerate(JOINT_NAMES)}
        self._joints: tuple[float, np.ndarray, np.ndarray] | None = None
        self._imu: tuple[float, np.ndarray, np.ndarray] | None = None
        self._cmd_vel = np.zeros(3)
        self._t_cmd_vel = -1e9
        self._walking = False
        self._t_walk = 0.0
        self._t_still: float | None = None
        self._ready: bool | None = None
        self._last_target: np.ndarray | None = None
        self._t_lost: float | None = None
        self._status = ("WARN", "waiting for joint_states and imu/data")
        self._status_sent: tuple[str, str] | None = None

        self.create_subscription(JointState, "joint_states", self._on_joints, qos_profile_sensor_data)
        self.create_subscription(Imu, "imu/data", self._on_imu, qos_profile_sensor_data)
        self.cmd_vel_names = GraphNames(self, "cmd_vel")
        self.cmd_vel_lock = CommandSourceLock("cmd_vel", self.cfg.cmd_vel_source, "reject", self.cmd_vel_names)
        self._last_reject_pub = -1e9
        self._events: list[str] = []
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, COMMAND_SUB_QOS)
        self.create_subscription(String, "episode/event", self._on_event, QoSProfile(depth=10))
        self.pub_cmd = self.create_publisher(JointState, "joint_commands", COMMAND_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.pub_ready = self.create_publisher(Bool, "locomotion/ready", LATCHED_QOS)
        self._set_ready(False)
        self.create_timer(1.0 / self.cfg.rate_hz, self._tick)
        self.create_timer(1.0, self._heartbeat)
        self._net = network_policy.report(self)
        self.ticks = 0
        self.timing = LoopTiming(1.0 / self.cfg.rate_hz)  # latency: cmd_vel arrival -> joint command with it
        self._cmd_vel_arrival: float | None = None

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # Sensor callbacks only store the latest sample; the timer does the work.
    def _on_joints(self, msg: JointState) -> None:
        try:
            order = [self._index[n] for n in msg.name]
        except KeyError as e:
            self._status = ("ERROR", f"joint_states has unknown joint {e.args[0]!r}")
            return
        if len(order) != len(JOINT_NAMES) or len(msg.position) != len(order) or len(msg.velocity) != len(order):
            self._status = ("ERROR", f"joint_states must carry {len(JOINT_NAMES)} positions and velocities")
            return
        q, dq = np.empty(12), np.empty(12)
        q[order], dq[order] = msg.position, msg.velocity
        self._joints = (rm.from_stamp(msg.header.stamp), q, dq)

    def _on_imu(self, msg: Imu) -> None:
        quat, gyro, _ = rm.imu_arrays(msg)
        self._imu = (rm.from_stamp(msg.header.stamp), quat, gyro)

    def _on_cmd_vel(self, msg: Twist, info) -> None:
        gid = gid_of(info)
        verdict = self.cmd_vel_lock.admit(gid)
        if not verdict.accepted:
            wall = time.monotonic()
            if wall - self._last_reject_pub >= 0.5:  # named on /diagnostics at most twice a second
                self._last_reject_pub = wall
                self._events.append(verdict.reason)
                self._publish_status(level_message=("WARN", verdict.reason))
            return
        if not self.cmd_vel_lock.armed:
            self._events.append(self.cmd_vel_lock.arm(gid))
        self._cmd_vel = np.array([msg.linear.x, msg.linear.y, msg.angular.z])
        self._t_cmd_vel = self._now()
        self._cmd_vel_arrival = time.monotonic()

    def _on_event(self, msg: String) -> None:
        """A simulator reset puts the robot down: stop now instead of noticing it later."""
        if msg.data == "reset" and self._walking:
            self._events.append("episode/event reset: gait stopped, waiting for the robot to stand")
            self._stop()

    # ------------------------------------------------------------------ tick
    def _tick(self) -> None:
        wall = time.monotonic()
        now = self._now()
        if self._joints is None or self._imu is None:
            return self._set_status("WARN", "waiting for joint_states and imu/data")
        t_j, q, dq = self._joints
        t_i, quat, gyro = self._imu
        age = now - min(t_j, t_i)
        if age > self.cfg.state_timeout:
            self._stop()
            return self._set_status(
                "ERROR", f"robot state stale ({age:.3f} s > {self.cfg.state_timeout} s): not commanding"
            )
        if not self._walking:
            standing = np.max(np.abs(q - STAND_POSE)) <= self.cfg.stand_tolerance
            if not standing or np.max(np.abs(dq)) > self.cfg.still_velocity:
                self._t_still = None
            elif self._t_still is None:
                self._t_still = now
            if self._t_still is None or now - self._t_still < self.cfg.still_time:
                self.timing.pause()
                return self._set_status("WARN", "waiting for the robot to stand still (bridge soft start)")
            self.gait.reset()
            self._walking = True
            self._t_walk = now
            self._t_lost = None
        elif self._last_target is not None and np.max(np.abs(q - self._last_target)) > self.cfg.lost_tolerance:
            self._t_lost = now if self._t_lost is None else self._t_lost
            if now - self._t_lost > self.cfg.lost_time:
                self._stop()
                return self._set_status(
                    "ERROR",
                    "robot not following the joint targets (damping, e-stop or fall): stopped, waiting for it to stand",
                )
        else:
            self._t_lost = None
        settled = now - self._t_walk >= self.cfg.settle_time
        if settled and not self._ready:
            self._set_ready(True)
        fresh = now - self._t_cmd_vel <= self.cfg.cmd_vel_timeout
        cmd = self._cmd_vel if settled and fresh else np.zeros(3)
        target = self.gait.update(now, q, dq, quat, gyro, cmd)
        self._last_target = target.q
        self.pub_cmd.publish(rm.joint_state_msg(now, JOINT_NAMES, target.q, target.dq, target.tau_ff))
        self.ticks += 1
        done = time.monotonic()
        self.timing.tick(now, done - wall, wall)
        if self._cmd_vel_arrival is not None:
            self.timing.add_latency(done - self._cmd_vel_arrival)
            self._cmd_vel_arrival = None
        if not settled:
            self._set_status(
                "OK", f"settling: trotting in place for {self.cfg.settle_time:g} s before following cmd_vel"
            )
        else:
            self._set_status("OK", "walking" if np.any(cmd) else "standing (zero cmd_vel)")

    def _heartbeat(self) -> None:
        """1 Hz: a second cmd_vel publisher while locked is reported; then the status."""
        if self.cmd_vel_lock.armed:
            publishers = self.cmd_vel_names.publishers()
            if self.cmd_vel_lock.owner not in {gid for gid, _ in publishers}:
                # the teleop or policy it followed is gone: the next cmd_vel publisher may take over
                self._events.append(f"cmd_vel lock released: {self.cmd_vel_lock.owner_name} left the graph")
                self.cmd_vel_lock.disarm()
            else:
                self._events += self.cmd_vel_lock.new_publishers(publishers)
        self._publish_status(force=True)

    def _stop(self) -> None:
        if self.cmd_vel_lock.armed:
            self._events.append(f"cmd_vel lock released ({self.cmd_vel_lock.owner_name}): gait stopped")
        self.cmd_vel_lock.disarm()
        self._walking = False
        self._t_still = None
        self._set_ready(False)
        self._t_walk = 0.0
        self._t_still: float | None = None
        self._ready: bool | None = None
        self._last_target = None
        self.timing.pause()

    def _set_ready(self, ready: bool) -> None:
        if ready != self._ready:
            self._ready = ready
            self.pub_ready.publish(Bool(data=ready))

    def _set_status(self, level: str, message: str) -> None:
        self._status = (level, message)
        if self._status != self._status_sent:
            self._publish_status()

    def _publish_status(self, force: bool = False, level_message: tuple[str, str] | None = None) -> None:
        if level_message is None:
            self._status_sent = self._status
        level, message = level_message or self._status
        values = {
            "walking": str(self._walking),
            "ready": str(bool(self._ready)),
            "cmd_vel": " ".join(f"{v:.2f}" for v in self._cmd_vel),
            "scheduling": "{} {}".format(*scheduling_of()),
            **self.timing.report(),
            **self._net,
            **self.cmd_vel_lock.status(),
        }
        if self._events:
            values["events"] = " | ".join(self._events[-10:])
            self._events = []
        self.pub_diag.publish(rm.diagnostics_msg(self._now(), "fog_policy: locomotion", level, message, values))


def main(args=None) -> int:
    """Exits 0 on SIGINT or SIGTERM (see quadruped_bridge.clean_exit); 2 if the realtime priority is refused."""
    stop = clean_exit.init(args)
    node = LocomotionNode()
    if node.cfg.realtime_priority:
        try:
            n = set_realtime_priority(node.cfg.realtime_priority, "locomotion realtime_priority")
        except (ValueError, RuntimeError) as e:
            node.get_logger().fatal(str(e))
            clean_exit.teardown([node])
            return 2
        node.get_logger().info(f"SCHED_FIFO priority {node.cfg.realtime_priority} on {n} threads")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        clean_exit.spin_until(executor, stop)
    finally:
        clean_exit.teardown([node], executor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
