"""The real Unitree Go2 as a ROS 2 node: the same topics, services and safety layer as the simulator.

    python -m quadruped_bridge.go2_bridge_node --ros-args -p network_interface:=eth0 -p real_robot:=true

Publishes (names relative): joint_states (sensor_msgs/JointState, Unitree order, effort = the
motors' estimated torque) and imu/data at the rate LowState_ arrives (500 Hz on the robot),
/diagnostics (1 Hz and on every safety event: mode, LowCmd_ rate and interval p50/p99, LowState_
rate and age, sport mode). The camera is a separate node (quadruped_bridge.camera_node).
Subscribes: joint_commands (position targets, optional velocity and feed-forward effort), checked
by the shared safety layer (quadruped_bridge.safety), exactly as in the simulator.
  Only from one publisher while armed (quadruped_bridge.command_source): the one that armed the
  bridge or `command_source`; others are rejected and named on /diagnostics.
Services: quadruped_bridge/estop, quadruped_bridge/release_estop, quadruped_bridge/reset (as the
simulator), go2/release_sport_mode (std_srvs/Trigger: release the Go2's sport mode so that
low-level commands take effect; do it with the robot lying down or hoisted).

Robot side: unitree_sdk2py types over CycloneDDS on `network_interface` and `dds_domain_id`
(`rt/lowstate` in, `rt/lowcmd` out, see quadruped_bridge.go2_dds). The motor loop runs in the main
thread at `motor_rate_hz`: take the newest LowState_, update the safety layer, ask it for the
motor command, write it into a LowCmd_ with its CRC (go2_lowlevel.LowCmdPacker: the SDK's CRC from
precomputed tables), send. Every LowState_'s CRC is checked; bad ones are dropped and counted
(/diagnostics: lowstate_bad_crc, motor_tick_p50_ms / p99_ms the cost of a tick). So:
zero torque until the first state, soft start to the stand pose, commands clamped, watchdog ->
damping (kp = 0, kd > 0), latched e-stop, all in the LowCmd_ the motors get.

Safety at start: the node refuses DDS domain 0 (the real robot's) unless `real_robot` is true, and
a ROS domain equal to the robot's DDS domain (the ROS graph never shares the robot's domain); it
asks the motion switcher which mode is active and sends no LowCmd_ at all while a sport mode owns
the motors (unless `release_sport_mode_on_start`); when it stops it sends damping.
The executor (commands, services, diagnostics) runs in a second thread; a lock makes each callback
atomic with respect to a motor tick.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES
from fog_contract.loop_timing import RateMeter
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Imu, JointState
from std_srvs.srv import Trigger

from quadruped_bridge import clean_exit, go2_dds, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.command_source import BridgeCommandGuard
from quadruped_bridge.go2_lowlevel import LowCmdPacker, check_dds_domain, lowstate_arrays, lowstate_crc_valid
from quadruped_bridge.motor_command import MotorCommand
from quadruped_bridge.qos import COMMAND_SUB_QOS
from quadruped_bridge.ros_params import declare_config
from quadruped_bridge.safety import MODE_LEVEL, Mode, SafetyConfig, SafetyLayer, format_events, worst_level
from quadruped_bridge.sport_mode import LowLevelAccess


@dataclass(frozen=True)
class Go2BridgeConfig:
    network_interface: str = "lo"
    """Network interface wired to the Go2 (e.g. eth0, enp2s0); 'lo' for a fake Go2 on this machine."""
    dds_domain_id: int = 0
    """CycloneDDS domain of rt/lowstate and rt/lowcmd; the robot uses 0, which needs real_robot."""
    real_robot: bool = False
    """Set true to talk to the real Go2 on domain 0; without it domain 0 is refused."""
    motor_rate_hz: float = 500.0
    """Rate of the motor loop: one LowCmd_ per tick."""
    state_decimation: int = 1
    """Publish joint_states and imu/data for every Nth LowState_ (1 = every one)."""
    diagnostics_rate_hz: float = 1.0
    """Heartbeat rate of /diagnostics; mode changes and rejections are published at once."""
    check_sport_mode: bool = True
    """Ask the motion switcher at start and send no LowCmd_ while a sport mode is active."""
    release_sport_mode_on_start: bool = False
    """Release an active sport mode at start (the robot goes limp: lie it down or hoist it first)."""
    sport_mode_timeout: float = 2.0
    """Seconds to wait for each motion-switcher answer."""
    shutdown_damping_ticks: int = 25
    """Damping commands sent when the node stops (motor ticks), so the robot sinks instead of holding."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    """The safety layer's settings, parameters `safety.<name>` (quadruped_bridge.safety.SafetyConfig:
    gains, watchdog and state timeouts, soft start, limits). `safety.loop_period` is set from
    motor_rate_hz."""
    command_source: str = ""
    """Node allowed to publish joint_commands ('locomotion', or '/ns/locomotion'); empty = the publisher
    whose command armed the bridge (STAND -> ACTIVE). Others are rejected and named on /diagnostics;
    re-arming goes through quadruped_bridge/reset."""
    foreign_publisher_action: str = "reject"
    """A second joint_commands publisher while armed: 'reject' (drop and report) or 'damping' (latched)."""


class Go2BridgeNode(Node):
    def __init__(self, **kwargs):
        super().__init__("go2_bridge", **kwargs)
        self.cfg = cfg = declare_config(self, Go2BridgeConfig)
        check_dds_domain(cfg.dds_domain_id, cfg.real_robot)
        ros_domain = self.context.get_domain_id()
        if ros_domain == cfg.dds_domain_id:
            raise ValueError(
                f"refusing to start: the ROS graph runs on DDS domain {ros_domain}, the robot's domain "
                f"(dds_domain_id {cfg.dds_domain_id}); the ROS graph must never share the robot's DDS domain: "
                "run ROS on another domain (ROS_DOMAIN_ID, --domain-id, domain_id:=)"
            )
        if cfg.motor_rate_hz <= 0 or cfg.state_decimation < 1:
            raise ValueError("motor_rate_hz must be > 0 and state_decimation >= 1")
        from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

        # the motor loop runs on the wall clock: its own stalls are not charged to the commander
        self.safety = SafetyLayer(replace(cfg.safety, loop_period=1.0 / cfg.motor_rate_hz))
        self._lock = threading.Lock()  # guards safety and the low-level grant between the two threads
        self._stop_requested = False  # a plain flag: stop() may be called from a signal handler
        self.pub_joints = self.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
        self.pub_imu = self.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.guard = BridgeCommandGuard(self, self.safety, self.cfg.command_source, self.cfg.foreign_publisher_action)
        self.create_subscription(JointState, "joint_commands", self._on_command, COMMAND_SUB_QOS)
        self.create_timer(0.25, self._check_command_sources)
        self._net = network_policy.report(self)
        self.create_service(Trigger, "quadruped_bridge/estop", self._on_estop)
        self.create_service(Trigger, "quadruped_bridge/release_estop", self._on_release)
        self.create_service(Trigger, "quadruped_bridge/reset", self._on_reset)
        self.create_service(Trigger, "go2/release_sport_mode", self._on_release_sport_mode)

        self.participant = go2_dds.open_go2_domain(cfg.dds_domain_id, cfg.network_interface)
        self.state_reader = go2_dds.latest_reader(self.participant, go2_dds.LOWSTATE_TOPIC, LowState_)
        self.cmd_writer = go2_dds.writer(self.participant, go2_dds.LOWCMD_TOPIC, LowCmd_)
        self._packer = LowCmdPacker()  # LowCmd_ fields + CRC from precomputed tables (go2_crc)
        self._bad_crc = 0
        self._tick_ms = np.zeros(1000)
        self._ticks = 0
        self.access = LowLevelAccess(cfg.check_sport_mode)  # LowCmd_ held until the sport mode is out of the way
        self._switcher = None
        self._switcher_lock = threading.Lock()
        self.lowcmd_meter = RateMeter(1000)
        self.lowstate_meter = RateMeter(1000)
        self._last_state_t = -1.0
        self._states = 0
        self._overruns = 0
        self._last_mode = None
        self._last_diag = -1.0
        self._last_heartbeat = -1.0
        self._pending: list = []
        self.create_timer(0.05, self._diagnostics_tick)
        if cfg.check_sport_mode:
            threading.Thread(target=self._check_sport_mode_at_start, daemon=True).start()
        self.get_logger().info(
            f"Go2 bridge: DDS domain {cfg.dds_domain_id} on {cfg.network_interface}"
            f"{' (REAL ROBOT)' if cfg.real_robot else ''}, motor loop {cfg.motor_rate_hz:.0f} Hz, "
            f"kp {cfg.safety.kp} kd {cfg.safety.kd}, watchdog {cfg.safety.command_timeout * 1e3:.0f} ms"
        )

    # ----------------------------------------------------------- sport mode
    def _motion_switcher(self) -> go2_dds.MotionSwitcher:
        with self._switcher_lock:
            if self._switcher is None:
                self._switcher = go2_dds.MotionSwitcher(self.cfg.sport_mode_timeout)
            return self._switcher

    def _check_sport_mode_at_start(self) -> None:
        try:
            switcher = self._motion_switcher()
        except Exception as exc:  # the SDK raises bare Exceptions
            switcher = _Unreachable(exc)
        self.access.check_at_start(switcher, self.cfg.release_sport_mode_on_start)
        granted, status = self.access.snapshot()
        (self.get_logger().info if granted else self.get_logger().warning)(f"low-level control: {status}")

    def _on_release_sport_mode(self, _req, res):
        try:
            switcher = self._motion_switcher()
        except Exception as exc:
            switcher = _Unreachable(exc)
        res.success, res.message = self.access.release(switcher)
        if res.success:
            self.get_logger().info(f"low-level control: {res.message}")
        return res

    # ------------------------------------------------------------- callbacks
    def _on_command(self, msg: JointState, info) -> None:
        with self._lock:
            self.guard.submit(time.monotonic(), msg, info)

    def _on_estop(self, _req, res):
        with self._lock:
            self.safety.estop(time.monotonic(), "e-stop service")
        res.success, res.message = True, "e-stop engaged: damping, latched until quadruped_bridge/release_estop"
        return res

    def _on_release(self, _req, res):
        with self._lock:
            res.success = self.safety.release_estop(time.monotonic())
        res.message = "e-stop released: soft start" if res.success else f"not in e-stop (mode {self.safety.mode.value})"
        return res

    def _check_command_sources(self) -> None:
        """A second joint_commands publisher while armed is a safety event (graph query outside the lock)."""
        publishers = self.guard.publishers()
        with self._lock:
            self.guard.check_graph(time.monotonic(), publishers)

    def _on_reset(self, _req, res):
        with self._lock:
            self.guard.reset()  # re-arming: the next command that arms the bridge names its source
            self.safety.reset(time.monotonic())
        res.success = self.safety.mode is not Mode.ESTOP
        res.message = f"mode {self.safety.mode.value}: {self.safety.mode_reason}"
        return res

    # ----------------------------------------------------------- diagnostics
    def _diagnostics_tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            events = self.safety.drain_events()
            mode, reason, values = self.safety.mode, self.safety.mode_reason, self.safety.status()
        lowlevel, sport = self.access.snapshot()
        heartbeat = now - self._last_heartbeat >= 1.0 / max(self.cfg.diagnostics_rate_hz, 1e-3)
        changed = mode is not self._last_mode
        if not (heartbeat or changed or (events and now - self._last_diag >= 0.05)):
            self._pending += events
            return
        events, self._pending = self._pending + events, []
        self._last_mode, self._last_diag = mode, now
        if heartbeat:
            self._last_heartbeat = now
        period = 1.0 / self.cfg.motor_rate_hz
        cmd = self.lowcmd_meter.stats(period)
        tick_ms = self._tick_ms[: min(self._ticks, len(self._tick_ms))] if self._ticks else np.zeros(1)
        st = self.lowstate_meter.stats()
        values.update(
            {
                "lowlevel": "granted" if lowlevel else "held",
                "sport_mode": sport,
                "lowcmd_sent": str(self.lowcmd_meter.total),
                "lowcmd_rate_hz": f"{cmd['rate_hz']:.1f}",
                "lowcmd_interval_p50_ms": f"{cmd['p50_ms']:.3f}",
                "lowcmd_interval_p99_ms": f"{cmd['p99_ms']:.3f}",
                "motor_loop_overruns": str(self._overruns),
                "motor_tick_p50_ms": f"{np.percentile(tick_ms, 50):.3f}",
                "motor_tick_p99_ms": f"{np.percentile(tick_ms, 99):.3f}",
                "lowstate_bad_crc": str(self._bad_crc),
                "lowstate_received": str(self._states),
                "lowstate_rate_hz": f"{st['rate_hz']:.1f}",
                "lowstate_age_ms": f"{max(0.0, now - self._last_state_t) * 1e3:.1f}"
                if self._last_state_t > 0
                else "never",
                "network_interface": self.cfg.network_interface,
                "dds_domain_id": str(self.cfg.dds_domain_id),
            }
        )
        values.update(self._net)
        values.update(self.guard.status())
        if events:
            values["events"] = format_events(events)
        worst = worst_level(*(e.level for e in events))
        level = worst_level(MODE_LEVEL[mode], worst, "OK" if lowlevel else "ERROR")
        message = reason if lowlevel else sport
        if events and worst != "OK":
            message = f"{message}; last: {events[-1].message}"
        t_ros = self.get_clock().now().nanoseconds * 1e-9
        self.pub_diag.publish(rm.diagnostics_msg(t_ros, "quadruped_bridge: go2", level, message, values, "go2"))

    # ------------------------------------------------------------ motor loop
    def _tick(self, t: float) -> None:
        samples = go2_dds.take_valid(self.state_reader, 4)
        good = [s for s in samples if lowstate_crc_valid(s)]  # every LowState_'s CRC checked
        self._bad_crc += len(samples) - len(good)
        state = lowstate_arrays(good[-1]) if good else None
        with self._lock:
            lowlevel = self.access.granted
            if state is not None and lowlevel:
                roll, pitch = state.roll_pitch
                self.safety.update_state(t, state.q, state.dq, roll, pitch)
            motor = self.safety.motor_command(t) if lowlevel else None
            if motor is not None:
                # written under the lock: once the e-stop service has replied, no command computed
                # before the latch can still go out (a preempted tick used to write it afterwards)
                self._send(motor)
        if motor is not None:
            self.lowcmd_meter.tick(t)
        if state is not None:
            self._states += 1
            self._last_state_t = t
            self.lowstate_meter.tick(t)
            if self._states % self.cfg.state_decimation == 0:
                t_ros = self.get_clock().now().nanoseconds * 1e-9
                self.pub_joints.publish(rm.joint_state_msg(t_ros, JOINT_NAMES, state.q, state.dq, state.tau))
                self.pub_imu.publish(rm.imu_msg(t_ros, state.imu_quat, state.gyro, state.accel))

    def _send(self, motor: MotorCommand) -> None:
        self.cmd_writer.write(self._packer.pack(motor))

    def stop(self) -> None:
        """Ask run() to return (from any thread or a signal handler; takes no lock)."""
        self._stop_requested = True

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """The motor loop: one tick per period on absolute deadlines (no drift), until stop(), `until()`
        or the context's shutdown."""
        period = 1.0 / self.cfg.motor_rate_hz
        next_t = time.monotonic()
        while not self._stop_requested and not (until is not None and until()) and rclpy.ok(context=self.context):
            t = time.monotonic()
            self._tick(t)
            self._tick_ms[self._ticks % len(self._tick_ms)] = (time.monotonic() - t) * 1e3
            self._ticks += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -5 * period:  # far behind (CPU starved): skip ticks rather than burst
                self._overruns += 1
                next_t = time.monotonic()

    def send_shutdown_damping(self) -> None:
        """Damping (kp = 0, kd > 0) for a few ticks, so the robot sinks slowly when the bridge stops."""
        with self._lock:
            if not self.access.granted or self.safety.mode is Mode.ZERO_TORQUE:
                return
        damping = MotorCommand.damping(self.cfg.safety.damping_kd)
        for _ in range(self.cfg.shutdown_damping_ticks):
            self._send(damping)
            time.sleep(1.0 / self.cfg.motor_rate_hz)


def main(args=None) -> int:
    """Exits 0 on SIGINT or SIGTERM after the shutdown damping (see quadruped_bridge.clean_exit)."""
    stop = clean_exit.init(args)
    try:
        node = Go2BridgeNode()
    except ValueError as exc:
        rclpy.logging.get_logger("go2_bridge").fatal(str(exc))
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = clean_exit.spin_in_thread(executor, stop)
    try:
        node.run(until=stop.is_set)
    finally:
        stop.set()
        node.send_shutdown_damping()
        clean_exit.teardown([node], executor, [spinner])
    return 0


if __name__ == "__main__":
    sys.exit(main())


class _Unreachable:
    """A motion switcher that could not be created: every question fails with why."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def active_mode(self) -> str | None:
        raise RuntimeError(str(self.exc))

    def release(self) -> tuple[bool, str]:
        raise RuntimeError(str(self.exc))
