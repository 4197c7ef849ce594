"""The simulated Go2 as a ROS 2 node: the same topics, services and safety layer as the robot.

Publishes (names relative, so a namespace can prefix them):
  joint_states (sensor_msgs/JointState, Unitree order, effort = applied torque), imu/data,
  camera/image_raw (rgb8) + camera/camera_info, /clock (the node owns simulated time),
  /diagnostics, episode/event ("reset" after a simulator reset),
  ground truth for benchmarks and datasets only: sim/base_pose, sim/base_twist (body frame),
  sim/cube_pose, sim/goal_pose.
Subscribes: joint_commands (sensor_msgs/JointState: position targets, optional velocity and
  feed-forward effort), checked by the safety layer (quadruped_bridge.safety).
  Only from one publisher while armed (quadruped_bridge.command_source): the one that armed the
  bridge or `command_source`; others are rejected and named on /diagnostics.
Services: quadruped_bridge/estop, quadruped_bridge/release_estop, quadruped_bridge/reset
  (clear latched damping, soft-start), sim/reset (new scene from the next seed, robot lying),
  sim/camera_enable (std_srvs/SetBool: fault injection, the camera stops publishing).

One thread runs physics at `physics_dt`, paced to `real_time_factor` x wall time (0 = as fast as
the CPU allows); the executor runs DDS callbacks (commands, services) in a second thread, blocked
in its wait until data arrives (polling the wait set from the physics loop cost more than the
physics itself). A lock makes each callback atomic with respect to a physics step.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES
from fog_contract.loop_timing import Every
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.command_source import BridgeCommandGuard
from quadruped_bridge.qos import COMMAND_SUB_QOS, LATCHED_QOS
from quadruped_bridge.ros_params import declare_config
from quadruped_bridge.safety import MODE_LEVEL, Mode, SafetyConfig, SafetyLayer, format_events, worst_level
from quadruped_bridge.sim import Go2Sim, SimConfig, quat_to_rpy
from quadruped_bridge.sim_pacing import Pacer, command_due


@dataclass(frozen=True)
class SimNodeConfig:
    real_time_factor: float = 1.0
    """Simulated seconds per wall second; 0 runs as fast as the CPU allows."""
    physics_dt: float = 0.002
    """Physics step (s); the motor loop runs at this rate (500 Hz by default)."""
    state_rate_hz: float = 250.0
    """Rate of joint_states, imu/data and /clock (simulated time)."""
    camera_rate_hz: float = 30.0
    """Rate of camera/image_raw and camera/camera_info (simulated time)."""
    camera_width: int = 64
    """Ego camera width (pixels), up to 128."""
    camera_height: int = 64
    """Ego camera height (pixels), up to 128."""
    camera_enabled: bool = True
    """Render and publish the ego camera."""
    third_person_rate_hz: float = 0.0
    """Rate of sim/third_person/image_raw, a tracking view for videos (0 = off)."""
    ground_truth_rate_hz: float = 50.0
    """Rate of the sim/* ground-truth topics; 0 disables them."""
    diagnostics_rate_hz: float = 1.0
    """Heartbeat rate of /diagnostics; mode changes and rejections are published at once."""
    start_pose: str = "lie"
    """Robot pose at start and after sim/reset: 'lie' (then soft start) or 'stand'."""
    seed: int = 0
    """Seed of the scene layout (cube and goal); sim/reset draws the next layouts from it."""
    foot_condim: int = 3
    """Foot contact dimensionality (3 or 6), see quadruped_bridge.sim.SimConfig."""
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    """The safety layer's settings, parameters `safety.<name>` (quadruped_bridge.safety.SafetyConfig,
    the same layer as the Go2 bridge's; here its clock is simulated time)."""
    command_source: str = ""
    """Node allowed to publish joint_commands ('locomotion', or '/ns/locomotion'); empty = the publisher
    whose command armed the bridge (STAND -> ACTIVE). Others are rejected and named on /diagnostics;
    re-arming goes through quadruped_bridge/reset."""
    foreign_publisher_action: str = "reject"
    """A second joint_commands publisher while armed: 'reject' (drop and report) or 'damping' (latched)."""
    lockstep_timeout: float = 2.0
    """Wall seconds the simulator waits for a late joint command before letting simulated time run
    into the watchdog (0 = free-running, as the real robot). Keeps simulated behaviour independent
    of how busy the CPU is; a controller that is gone still trips the watchdog, just later in wall time."""
    lockstep_period: float = 0.02
    """Expected joint-command period (s); in lockstep the simulator waits for the next command once
    the last one is this old plus one physics step (and never beyond the watchdog timeout)."""
    wait_for_subscribers: int = 0
    """Hold simulated time at its start until every sensor topic has this many subscribers
    (e.g. 1 for a recorder that must not miss the first messages)."""
    subscriber_settle: float = 0.25
    """With wait_for_subscribers: wall seconds to keep holding once they are counted. The count is the
    publisher's side of the match; a best-effort sample sent before the subscriber's side has matched
    this publisher is dropped (seen once: a recorder's bag one joint state short, the first)."""
    duration: float = 0.0
    """Stop after this many simulated seconds (0 = run until shut down)."""
    task: str = "pushcube"
    """Scene of quadruped_bridge.tasks: 'pushcube' (cube + goal disc) or 'goal' (marker post at sim/goal_pose)."""

    def sim(self) -> SimConfig:
        return SimConfig(
            physics_dt=self.physics_dt,
            camera_width=self.camera_width,
            camera_height=self.camera_height,
            seed=self.seed,
            foot_condim=self.foot_condim,
            task=self.task,
        )


class SimNode(Node):
    def __init__(self, **kwargs):
        super().__init__("go2_sim", **kwargs)
        self.cfg = declare_config(self, SimNodeConfig)
        if self.cfg.start_pose not in ("lie", "stand"):
            raise ValueError(f"parameter 'start_pose' must be 'lie' or 'stand', got {self.cfg.start_pose!r}")
        self.sim = Go2Sim(self.cfg.sim())
        self.sim.reset(seed=self.cfg.seed, pose=self.cfg.start_pose)
        self._episode = 0
        self.safety = SafetyLayer(self.cfg.safety)
        self._lock = threading.Lock()  # guards sim and safety between the physics and executor threads
        self._command_arrived = threading.Condition(self._lock)
        self._gave_up_waiting_for: float | None = None  # lockstep: the command time we stopped waiting after
        self.lockstep_timeouts = 0  # lockstep waits that ended without a command (on /diagnostics)
        self._stop_requested = False  # a plain flag: stop() may be called from a signal handler
        self._until: Callable[[], bool] = lambda: False
        self._run_thread: threading.Thread | None = None

        self.pub_joints = self.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
        self.pub_imu = self.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.pub_image = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
        self.pub_clock = self.create_publisher(Clock, "/clock", QoSProfile(depth=1))
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.pub_event = self.create_publisher(String, "episode/event", QoSProfile(depth=10))
        self.pub_base = self.create_publisher(PoseStamped, "sim/base_pose", qos_profile_sensor_data)
        self.pub_twist = self.create_publisher(TwistStamped, "sim/base_twist", qos_profile_sensor_data)
        self.pub_cube = self.create_publisher(PoseStamped, "sim/cube_pose", qos_profile_sensor_data)
        self.pub_goal = self.create_publisher(PoseStamped, "sim/goal_pose", LATCHED_QOS)
        self.pub_third = self.create_publisher(Image, "sim/third_person/image_raw", qos_profile_sensor_data)
        self.guard = BridgeCommandGuard(self, self.safety, self.cfg.command_source, self.cfg.foreign_publisher_action)
        self.create_subscription(JointState, "joint_commands", self._on_command, COMMAND_SUB_QOS)
        self.create_timer(0.25, self._check_command_sources)
        self._net = network_policy.report(self)
        self.create_service(Trigger, "quadruped_bridge/estop", self._on_estop)
        self.create_service(Trigger, "quadruped_bridge/release_estop", self._on_release)
        self.create_service(Trigger, "quadruped_bridge/reset", self._on_reset)
        self.create_service(Trigger, "sim/reset", self._on_sim_reset)
        self.create_service(SetBool, "sim/camera_enable", self._on_camera_enable)

        t0 = self.sim.time
        self._state_tick = Every(self.cfg.state_rate_hz, t0)
        self._camera_tick = Every(self.cfg.camera_rate_hz if self.cfg.camera_enabled else 0.0, t0)
        self._camera_on = True
        self._third_tick = Every(self.cfg.third_person_rate_hz, t0)
        self._gt_tick = Every(self.cfg.ground_truth_rate_hz, t0)
        self._diag_tick = Every(self.cfg.diagnostics_rate_hz, t0)
        self._last_event_pub = -1.0
        self._pending: list = []  # safety events waiting for the next /diagnostics message
        self.published = {"joint_states": 0, "imu/data": 0, "camera/image_raw": 0, "camera/camera_info": 0}
        self._last_mode = None
        self._pacer: Pacer | None = None  # set by run()
        self._publish_goal()
        self.get_logger().info(
            f"simulated Go2 ready: physics {1 / self.cfg.physics_dt:.0f} Hz, real-time factor "
            f"{self.cfg.real_time_factor or 'max'}, camera {self.cfg.camera_width}x{self.cfg.camera_height} "
            f"at {self.cfg.camera_rate_hz:.0f} Hz"
        )

    # ------------------------------------------------------------- callbacks
    def _on_command(self, msg: JointState, info) -> None:
        with self._lock:
            self.guard.submit(self.sim.time, msg, info)
            self._command_arrived.notify_all()

    def _on_estop(self, _req, res):
        with self._lock:
            self.safety.estop(self.sim.time, "e-stop service")
        res.success, res.message = True, "e-stop engaged: damping, latched until quadruped_bridge/release_estop"
        return res

    def _on_release(self, _req, res):
        with self._lock:
            res.success = self.safety.release_estop(self.sim.time)
        res.message = "e-stop released: soft start" if res.success else f"not in e-stop (mode {self.safety.mode.value})"
        return res

    def _check_command_sources(self) -> None:
        """A second joint_commands publisher while armed is a safety event (graph query outside the lock)."""
        publishers = self.guard.publishers()
        with self._lock:
            self.guard.check_graph(self.sim.time, publishers)

    def _on_reset(self, _req, res):
        with self._lock:
            self.guard.reset()  # re-arming: the next command that arms the bridge names its source
            self.safety.reset(self.sim.time)
        res.success = self.safety.mode is not Mode.ESTOP
        res.message = f"mode {self.safety.mode.value}: {self.safety.mode_reason}"
        return res

    def _on_camera_enable(self, req, res):
        """Fault injection: stop (or restart) the camera stream, as a failed camera would."""
        with self._lock:
            self._camera_on = bool(req.data)
        res.success, res.message = True, f"camera {'on' if req.data else 'off'}"
        return res

    def _on_sim_reset(self, _req, res):
        with self._lock:
            t = self.sim.time
            self._episode += 1
            self.sim.reset(seed=self.cfg.seed + self._episode, pose=self.cfg.start_pose)
            self.sim.data.time = t  # simulated time never goes backwards: /clock consumers rely on it
            # the soft start begins at the lying pose the reset made (not at the pose before it,
            # which made the robot jump up at once and the controller start during the soft start)
            self.safety.reset(t, q=self.sim.joint_state()[0])
            self._publish_goal()
        self.pub_event.publish(String(data="reset"))
        res.success, res.message = True, f"scene {self._episode} (seed {self.cfg.seed + self._episode})"
        return res

    # ------------------------------------------------------------ publishing
    def _publish_goal(self) -> None:
        st = self.sim.state()
        self.pub_goal.publish(rm.pose_msg(st.time, st.goal_pos, (1.0, 0.0, 0.0, 0.0)))

    def _publish_state(self, t: float) -> None:
        st = self.sim.state()
        roll, pitch, _ = quat_to_rpy(st.imu_quat)
        self.safety.update_state(t, st.q, st.dq, roll, pitch)
        self.pub_clock.publish(rm.clock_msg(t))
        self.pub_joints.publish(rm.joint_state_msg(t, JOINT_NAMES, st.q, st.dq, st.tau))
        self.pub_imu.publish(rm.imu_msg(t, st.imu_quat, st.gyro, st.accel))
        self.published["joint_states"] += 1
        self.published["imu/data"] += 1
        if self._gt_tick.due(t):
            self.pub_base.publish(rm.pose_msg(t, st.base_pos, st.base_quat))
            self.pub_twist.publish(rm.twist_msg(t, st.base_lin_vel_body, st.base_ang_vel_body))
            self.pub_cube.publish(rm.pose_msg(t, st.cube_pos, st.cube_quat))

    def _publish_camera(self, t: float) -> None:
        rgb = self.sim.render_ego()
        self.pub_image.publish(rm.image_msg(t, rgb))
        self.pub_info.publish(rm.camera_info_msg(t, *self.sim.camera_info()))
        self.published["camera/image_raw"] += 1
        self.published["camera/camera_info"] += 1

    def _wait_for_subscribers(self) -> None:
        need = self.cfg.wait_for_subscribers
        pubs = [self.pub_joints, self.pub_imu] + ([self.pub_image, self.pub_info] if self.cfg.camera_enabled else [])
        if need > 0:
            self.get_logger().info(f"waiting for {need} subscriber(s) on every sensor topic")
        while need > 0 and self._running() and min(p.get_subscription_count() for p in pubs) < need:
            time.sleep(0.02)
        settled = time.monotonic() + (self.cfg.subscriber_settle if need > 0 else 0.0)
        while self._running() and time.monotonic() < settled:
            time.sleep(min(0.02, max(settled - time.monotonic(), 0.0)))

    def _publish_diagnostics(self, t: float, heartbeat: bool, final: bool = False) -> None:
        events = self.safety.drain_events()
        mode_changed = self.safety.mode is not self._last_mode
        # Rejections may come at the command rate: publish them at most 20 times a second.
        if not (heartbeat or mode_changed or (events and t - self._last_event_pub >= 0.05)):
            self._pending += events
            return
        events = self._pending + events
        self._pending = []
        self._last_mode = self.safety.mode
        self._last_event_pub = t
        values = self.safety.status()
        values["achieved_real_time_factor"] = f"{self._pacer.achieved_rtf if self._pacer else 0.0:.2f}"
        values["lockstep_timeouts"] = str(self.lockstep_timeouts)
        values.update(self._net)
        values.update(self.guard.status())
        values.update({f"published/{k}": str(v) for k, v in self.published.items()})
        if events:
            values["events"] = format_events(events)
        worst = worst_level(*(e.level for e in events))
        level = worst_level(MODE_LEVEL[self.safety.mode], worst)
        message = self.safety.mode_reason
        if final:
            values["finished"] = "true"
        if events and worst != "OK":
            message = f"{message}; last: {events[-1].message}"
        self.pub_diag.publish(rm.diagnostics_msg(t, "quadruped_bridge: go2_sim", level, message, values, "go2_sim"))

    # ------------------------------------------------------------------ loop
    def stop(self) -> None:
        """Ask run() to return (from any thread or a signal handler; takes no lock)."""
        self._stop_requested = True

    def _running(self) -> bool:
        return not self._stop_requested and not self._until() and rclpy.ok(context=self.context)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Step physics until stop(), `until()`, `duration` or the context's shutdown, paced every ~4 ms
        of simulated time. Publishes only while it runs: stop it before destroying the node."""
        self._run_thread = threading.current_thread()
        if until is not None:
            self._until = until
        self._wait_for_subscribers()
        pace_every = max(1, round(0.004 / self.cfg.physics_dt))
        t_start = self.sim.time
        rtf_wall0 = time.monotonic()
        self._pacer = Pacer(self.cfg.real_time_factor, rtf_wall0, t_start)  # quadruped_bridge.sim_pacing
        steps = 0
        while self._running():
            t = self.sim.time
            if self.cfg.duration > 0 and t - t_start >= self.cfg.duration:
                wall = time.monotonic() - rtf_wall0
                self.get_logger().info(
                    f"simulated {t - t_start:.3f} s in {wall:.3f} s wall: real-time factor {(t - t_start) / wall:.2f}"
                )
                with self._lock:  # a last report with the final counts, then let DDS deliver it
                    self._publish_diagnostics(t, heartbeat=True, final=True)
                # every reliable /diagnostics reader (a recorder, a probe) acknowledged it, or 5 s
                # (a fixed 0.3 s was too short on a loaded machine: the report never arrived)
                self.pub_diag.wait_for_all_acked(Duration(seconds=5.0))
                deadline = time.monotonic() + 0.3
                while self._running() and time.monotonic() < deadline:
                    time.sleep(0.02)
                break
            with self._lock:
                self._wait_for_controller(t)
                self._step(self.sim.time)
            steps += 1
            if steps % pace_every:
                continue
            delay = self._pacer.delay(t, time.monotonic())
            if delay > 0:
                time.sleep(delay)  # also where the executor thread gets the GIL

    def _wait_for_controller(self, t: float) -> None:
        """Lockstep: hold simulated time (up to lockstep_timeout wall s) while a command is due."""
        safety, timeout = self.safety, self.cfg.lockstep_timeout
        if timeout <= 0 or safety.mode is not Mode.ACTIVE:
            return
        last = safety.last_command_time
        if not command_due(t, last, self.cfg.physics_dt, self.cfg.lockstep_period, safety.config.command_timeout):
            return
        if last == self._gave_up_waiting_for:
            return  # already waited for this command once: let time run into the watchdog
        deadline = time.monotonic() + timeout
        while safety.last_command_time <= last:
            if not self._running():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._gave_up_waiting_for = last
                self.lockstep_timeouts += 1
                return
            self._command_arrived.wait(min(remaining, 0.05))  # slices: a stop needs no notify

    def _step(self, t: float) -> None:
        """Publish what is due at time t, then one physics step under the safety layer's command."""
        if self._state_tick.due(t):
            self._publish_state(t)
            self._publish_diagnostics(t, heartbeat=self._diag_tick.due(t))
        if self._camera_tick.due(t) and self._camera_on:
            self._publish_camera(t)
        if self._third_tick.due(t):
            self.pub_third.publish(rm.image_msg(t, self.sim.render_third_person(), frame_id="third_person"))
        self.sim.step(self.safety.motor_command(t))

    def destroy_node(self):
        """Publishers and services first, then the simulator and its renderers (after the loop ended)."""
        self.stop()
        loop = self._run_thread
        if loop is not None and loop is not threading.current_thread():
            loop.join(timeout=5.0)  # the loop renders and publishes: it must end first
        super().destroy_node()
        self.sim.close()


def main(args=None) -> int:
    """Exits 0 on SIGINT, SIGTERM or the end of `duration` (see quadruped_bridge.clean_exit)."""
    stop = clean_exit.init(args)
    node = SimNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = clean_exit.spin_in_thread(executor, stop)
    try:
        node.run(until=stop.is_set)
    finally:
        stop.set()  # the spinner too
        clean_exit.teardown([node], executor, [spinner])
    return 0


if __name__ == "__main__":
    sys.exit(main())
