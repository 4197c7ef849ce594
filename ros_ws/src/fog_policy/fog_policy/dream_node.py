"""The world model as a robot: the `dream` backend, speaking the robot's contract at the policy level.

Instead of a simulator or the Go2, the global diffusion world model (fog_worldmodel.dream) makes
the camera images: it starts from a real context window of the dataset (the first frames of a
recorded episode, `start`), and every period imagines the next frame from the last ones and the
`cmd_vel` in effect. There are no legs: cmd_vel *is* the action (no locomotion node).

Topics and services (the full table: docs/DREAM.md): publishes camera/image_raw and camera_info
(the model's frames, nearest-neighbour upscaled on request) once per period; dream/reward,
dream/termination and dream/termination_probability per imagined step; a STANDING robot's
joint_states and imu/data (not imagined: the policy node needs them to run, the exported policies do
not read proprio); locomotion/ready (latched, true); episode/event "reset" before every episode after
the first; /clock (with use_sim_time); /diagnostics. Subscribes cmd_vel (clipped to the dataset's
action bounds; older than cmd_vel_timeout means zero; the latest wins, whoever publishes it).
Services dream/reset (next start window), dream/restart (the current episode again), dream/rewind
(the first episode again); each answers once the new episode's first frame is out, with its stamp.
Windows and seeds: fog_policy.dream_episodes.
An episode also ends, and the next is drawn, after the frame the termination head calls terminal
(reset_on_termination) and after episode_seconds.

Time. With use_sim_time the node owns simulated time (/clock, from 0) and runs in lockstep as fast
as the model allows: after each frame it waits (up to lockstep_timeout wall seconds, and only while
someone publishes cmd_vel) for a new cmd_vel before imagining the next. Without, it runs at the
policy rate on the wall clock and says on /diagnostics when a step does not fit in the period.
The policy node should step on the images (`trigger:=image`, as `fog deploy --robot dream` sets
it): a timer-triggered one sees images only every period, older than its default image_timeout.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import CAMERA_FOVY_DEG, JOINT_NAMES, STAND_POSE
from geometry_msgs.msg import Twist
from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.qos import LATCHED_QOS
from quadruped_bridge.ros_params import declare_config
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Bool, Float32, String
from std_srvs.srv import Trigger

from fog_policy.dream_episodes import REASONS, DreamEpisodes, camera_size, episode_end, scaled_camera_info, upscale

COMMAND_SUB_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
"""Shallow on purpose (not fog_contract's COMMAND_QUEUE_DEPTH): the dream steps on the newest command
and its lockstep counts arrivals, so a deep backlog of an earlier episode's commands would be taken
as the answers to the new episode's frames (training/tests/integration/fog_policy/test_dream_node.py saw the
same frames for two different commands at depth 200). The dream has no source lock for a flood to matter to."""
RELIABLE_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


@dataclass(frozen=True)
class DreamNodeConfig:
    world_model: str = ""
    """A dream bundle (`fog export-dream`), a global model folder or a `fog train world-model` run;
    '' = the bundled goal policy's world model (artifacts/goal/world_model)."""
    dataset: str = ""
    """Episode store for the start windows (model folder or run only; default: the run's own data)."""
    start: int = 0
    """Start window of the first episode; each reset takes the next one (modulo their number)."""
    seed: int = 0
    """Sampler noise seed of the first episode; episode k uses seed + k (same seed, same dream)."""
    rate_hz: float = 0.0
    """Imagined frames per second (0 = the dataset's policy rate, the rate the model was trained at)."""
    camera_width: int = 0
    """Published image width (0 = the model's frame size); larger sizes are nearest-neighbour upscales."""
    camera_height: int = 0
    """Published image height (0 = the model's frame size); must keep the model's (square) aspect ratio."""
    state_rate_hz: float = 20.0
    """Rate of the standing robot's joint_states and imu/data (and of /clock between frames)."""
    lockstep_timeout: float = 1.0
    """use_sim_time: wall seconds to wait for a new cmd_vel after each frame (then step with what is in effect)."""
    cmd_vel_timeout: float = 0.5
    """A cmd_vel older than this (s) is no longer in effect: the model is stepped with zero (stand still)."""
    episode_seconds: float = 0.0
    """Start the next episode after this many seconds of dream (0 = no time limit)."""
    reset_on_termination: bool = True
    """Start the next episode after the frame the termination head calls terminal."""
    threads: int = 1
    """Torch intra-op threads."""
    duration: float = 0.0
    """Stop after this many seconds of dream time (0 = run until shut down)."""
    wait_for_subscribers: int = 0
    """Hold the first frame until camera/image_raw has this many subscribers."""
    diagnostics_rate_hz: float = 1.0
    """Heartbeat of /diagnostics (dream time)."""
    episode_log: str = ""
    """File to append one JSON line to per ended episode (window, seed, steps, return, how it ended); '' = none."""
    policy_reset_service: str = ""
    """std_srvs/Trigger service that resets the policy's memory (the policy node's 'fog_policy/reset'),
    called and awaited (up to lockstep_timeout) before the first frame of every new episode, so the
    policy never sees that frame with the last episode's memory; '' = only episode/event "reset"."""


class DreamNode(Node):
    def __init__(self, **kwargs):
        super().__init__("dream", **kwargs)
        self._stop_requested = False  # a plain flag: stop() may be called from a signal handler
        self._run_thread: threading.Thread | None = None  # set first: a refused node is still destroyed
        self.cfg = declare_config(self, DreamNodeConfig)
        self.sim_time = bool(self.get_parameter("use_sim_time").value)
        self._load_world_model()
        self._init_loop_state()
        self._create_interfaces()
        self.policy_resets_failed = 0
        self._net = network_policy.report(self)
        self.pub_ready.publish(Bool(data=True))  # no legs to stand up: cmd_vel is followed at once
        spec, size = self.spec, self.dream.image_size
        self.get_logger().info(
            f"dream: {spec.source}; {len(spec.starts)} start windows (episodes "
            f"{[int(e) for e in spec.starts.episodes][:12]}{' ...' if len(spec.starts) > 12 else ''}), "
            f"{size}x{size} frames published as {self.width}x{self.height} at {self.rate:g} Hz "
            f"({'simulated time, lockstep' if self.sim_time else 'wall clock'})"
        )

    def _load_world_model(self) -> None:
        """Load the world model and its dataset spec; check and set the image size, the rate and the intrinsics."""
        try:
            from fog_worldmodel.dream import Dream, load_world
        except ModuleNotFoundError as e:  # e.g. the deploy Docker image: no torch
            raise ValueError(
                f"the dream backend runs the world model with torch and fog_worldmodel; {e.name} is not installed "
                "here (use the development environment: make setup)"
            ) from e

        from pathlib import Path

        from fog_policy.deploy import default_artifact

        self.world_model = self.cfg.world_model or str(Path(default_artifact()) / "world_model")
        model, spec = load_world(self.world_model, self.cfg.dataset or None, threads=self.cfg.threads)
        if model.cfg.action_dim != 3:
            raise ValueError(
                f"world model {self.world_model} takes {model.cfg.action_dim}-dimensional actions; the dream "
                "backend drives it with cmd_vel: expected 3 (vx, vy, yaw_rate)"
            )
        self.dream = Dream(model, spec)
        self.spec = spec
        self.width, self.height = camera_size(self.dream.image_size, self.cfg.camera_width, self.cfg.camera_height)
        self.rate = self.cfg.rate_hz or spec.policy_rate_hz
        if self.rate <= 0:
            raise ValueError(f"rate_hz must be positive, got {self.rate}")
        self.intrinsics = scaled_camera_info(spec.camera_info, self.width, self.height, CAMERA_FOVY_DEG)

    def _init_loop_state(self) -> None:
        """The loop's shared state (commands, pending resets, under `_lock`) and its counters."""
        self._lock = threading.Lock()
        self._command_arrived = threading.Condition(self._lock)
        self._until: Callable[[], bool] = lambda: False
        self._t = 0.0  # dream time of the last frame (s): simulated, or wall (ROS system time)
        self._cmd = np.zeros(3)
        self._t_cmd = -1e9
        self._cmd_count = 0
        self._pending_reset: tuple[str, str] | None = None  # (reason, which start: "next" | "same" | "first")
        self._reset_done = threading.Condition(self._lock)
        self._first_frame_stamp: float | None = None  # of the episode the last reset started
        self._loop_running = False
        self.eps = DreamEpisodes(self.cfg.start, self.cfg.seed)  # fog_policy.dream_episodes
        self.frames = 0
        self.step_seconds: list[float] = []
        self.late_frames = 0
        self._last_late = -1e9
        self.lockstep_timeouts = 0
        self.clipped = 0
        self.last_step = None
        self._level, self._message = "OK", "starting"

    def _create_interfaces(self) -> None:
        """Publishers, the cmd_vel subscription, the reset services and the policy's reset client."""
        self.pub_image = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
        self.pub_joints = self.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
        self.pub_imu = self.create_publisher(Imu, "imu/data", qos_profile_sensor_data)
        self.pub_reward = self.create_publisher(Float32, "dream/reward", RELIABLE_QOS)
        self.pub_term = self.create_publisher(Bool, "dream/termination", RELIABLE_QOS)
        self.pub_term_p = self.create_publisher(Float32, "dream/termination_probability", RELIABLE_QOS)
        self.pub_ready = self.create_publisher(Bool, "locomotion/ready", LATCHED_QOS)
        self.pub_event = self.create_publisher(String, "episode/event", QoSProfile(depth=10))
        self.pub_clock = self.create_publisher(Clock, "/clock", QoSProfile(depth=1))
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, COMMAND_SUB_QOS)
        # the reset services wait for the loop, which may wait for the policy's reset service: separate
        # callback groups (and a multi-threaded executor) so that the answer can arrive meanwhile
        services = MutuallyExclusiveCallbackGroup()
        self.create_service(
            Trigger, "dream/reset", lambda req, res: self._on_reset(res, same=False), callback_group=services
        )
        self.create_service(
            Trigger, "dream/restart", lambda req, res: self._on_reset(res, same=True), callback_group=services
        )
        self.create_service(
            Trigger, "dream/rewind", lambda req, res: self._on_reset(res, first=True), callback_group=services
        )
        self.policy_reset = (
            self.create_client(Trigger, self.cfg.policy_reset_service, callback_group=MutuallyExclusiveCallbackGroup())
            if self.cfg.policy_reset_service
            else None
        )

    # ------------------------------------------------------------- callbacks
    def _on_cmd_vel(self, msg: Twist) -> None:
        with self._lock:
            self._cmd = np.array([msg.linear.x, msg.linear.y, msg.angular.z], dtype=np.float64)
            self._t_cmd = self._t if self.sim_time else time.time()
            self._cmd_count += 1
            self._command_arrived.notify_all()

    def _on_reset(self, res, same: bool = False, first: bool = False):
        """Ask the loop for a new episode and answer once its first frame is published."""
        with self._lock:
            if not self._loop_running:
                res.success, res.message = False, "the dream is not running"
                return res
            which = "first" if first else "same" if same else "next"
            reason = REASONS[which]
            self._pending_reset = (reason, which)
            self._first_frame_stamp = None
            self._command_arrived.notify_all()
            deadline = time.monotonic() + 30.0
            while self._first_frame_stamp is None and self._loop_running and time.monotonic() < deadline:
                self._reset_done.wait(0.05)
            stamp = self._first_frame_stamp
        if stamp is None:
            res.success, res.message = False, "the dream did not start the new episode within 30 s"
            return res
        i = self.dream.start
        res.success = True
        res.message = (
            f"episode {self.eps.episode}: start window {i} (dataset episode {int(self.spec.starts.episodes[i])}), "
            f"seed {self.eps.episode_seed}, first frame stamped {stamp:.9f}"
        )
        return res

    # ------------------------------------------------------------ publishing
    def _publish_state(self, t: float) -> None:
        if self.sim_time:
            self.pub_clock.publish(rm.clock_msg(t))
        self.pub_joints.publish(rm.joint_state_msg(t, JOINT_NAMES, STAND_POSE, np.zeros(12), np.zeros(12)))
        self.pub_imu.publish(rm.imu_msg(t, (1.0, 0.0, 0.0, 0.0), np.zeros(3), (0.0, 0.0, 9.81)))

    def _publish_frame(self, t: float, frame: np.ndarray) -> None:
        self.pub_image.publish(rm.image_msg(t, upscale(frame, self.width, self.height)))
        self.pub_info.publish(rm.camera_info_msg(t, self.width, self.height, *self.intrinsics))
        self.frames += 1

    def _publish_step(self, out) -> None:
        self.pub_reward.publish(Float32(data=float(out.reward)))
        self.pub_term.publish(Bool(data=bool(out.terminated)))
        self.pub_term_p.publish(Float32(data=float(out.termination_probability)))

    def _publish_diagnostics(self, t: float) -> None:
        steps = np.array(self.step_seconds[-50:]) if self.step_seconds else np.zeros(1)
        values = {
            "world_model": self.spec.source,
            "episode": str(self.eps.episode),
            "start_window": str(self.dream.start),
            "dataset_episode": str(int(self.spec.starts.episodes[self.dream.start or 0])),
            "step": str(self.dream.steps),
            "frames": str(self.frames),
            "rate_hz": f"{self.rate:g}",
            "time": "simulated (lockstep)" if self.sim_time else "wall clock",
            "step_ms_mean": f"{1e3 * steps.mean():.1f}",
            "step_ms_max": f"{1e3 * steps.max():.1f}",
            "late_frames": str(self.late_frames),
            "lockstep_timeouts": str(self.lockstep_timeouts),
            "policy_resets_failed": str(self.policy_resets_failed),
            "clipped_commands": str(self.clipped),
            "cmd_vel": " ".join(f"{v:+.3f}" for v in self._cmd),
            "episode_return": f"{self.eps.episode_return:.3f}",
            "joint_states": "a standing robot's (not imagined)",
            **self._net,
        }
        if self.last_step is not None:
            values["reward"] = f"{self.last_step.reward:.4f}"
            values["termination_probability"] = f"{self.last_step.termination_probability:.3f}"
        self.pub_diag.publish(rm.diagnostics_msg(t, "fog_policy: dream", self._level, self._message, values, "dream"))

    # ------------------------------------------------------------------ loop
    def stop(self) -> None:
        """Ask run() to return (from any thread or a signal handler; takes no lock)."""
        self._stop_requested = True

    def _running(self) -> bool:
        return not self._stop_requested and not self._until() and rclpy.ok(context=self.context)

    def _command(self, t: float) -> np.ndarray:
        return self._cmd.copy() if t - self._t_cmd <= self.cfg.cmd_vel_timeout else np.zeros(3)

    def _begin_episode(self, reason: str | None, which: str = "next") -> np.ndarray:
        """Reset the model to a start window: the next one, the current one again ("same") or the
        first one ("first", and at the start); every episode after the first is announced with
        episode/event "reset"."""
        if reason is not None:
            self._log_episode(reason)
            self.eps.advance(which)
            self.pub_event.publish(String(data="reset"))
        frame = self.dream.reset(self.eps.window, seed=self.eps.episode_seed)
        self.eps.begin(self._counters())
        self.get_logger().info(
            f"episode {self.eps.episode}: start window {self.dream.start} (dataset episode "
            f"{int(self.spec.starts.episodes[self.dream.start])}), seed {self.eps.episode_seed}"
            + (f" ({reason})" if reason else "")
        )
        return frame

    def _counters(self) -> dict[str, int]:
        return {"clipped_commands": self.clipped, "lockstep_timeouts": self.lockstep_timeouts}

    def _log_episode(self, ended_by: str) -> None:
        """One JSON line for the episode that ends now (episode_log)."""
        if not self.cfg.episode_log:
            return
        import json

        i = self.dream.start
        row = self.eps.log_row(ended_by, i, int(self.spec.starts.episodes[i]), self.dream.steps, self.rate,
                               self._counters())
        with open(self.cfg.episode_log, "a") as f:
            f.write(json.dumps(row) + "\n")

    def _reset_policy(self) -> None:
        """Call policy_reset_service and wait (up to lockstep_timeout wall s) for its answer."""
        if self.policy_reset is None:
            return
        if not self.policy_reset.service_is_ready():
            self.policy_resets_failed += 1
            return
        done = threading.Event()
        future = self.policy_reset.call_async(Trigger.Request())
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(max(self.cfg.lockstep_timeout, 0.1)) or not future.result().success:
            self.policy_resets_failed += 1

    def _wait_for_subscribers(self) -> None:
        need = self.cfg.wait_for_subscribers
        while need > 0 and self._running() and self.pub_image.get_subscription_count() < need:
            time.sleep(0.02)

    def _wait_for_command(self, count: int) -> None:
        """Lockstep: wait for a cmd_vel newer than the frame (only while someone publishes cmd_vel)."""
        if self.count_publishers("cmd_vel") == 0:
            return
        deadline = time.monotonic() + self.cfg.lockstep_timeout
        with self._lock:
            # a pending reset does not cut the wait short: the policy's answer to this frame would then
            # arrive after the new episode's first frame and be taken for the answer to it (a lag of one
            # frame for the rest of the run)
            while self._cmd_count <= count and self._running():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.lockstep_timeouts += 1
                    return
                self._command_arrived.wait(min(remaining, 0.05))

    def _advance(self, t: float, t_next: float) -> float:
        """Publish the standing state between frames; wall clock: sleep until t_next. Returns t_next."""
        dt = 1.0 / self.cfg.state_rate_hz if self.cfg.state_rate_hz > 0 else 0.0
        ts = t + dt if dt > 0 else t_next
        while ts < t_next - 1e-9 and self._running():
            if not self.sim_time:
                delay = ts - time.time()
                if delay > 0:
                    time.sleep(delay)
            with self._lock:
                self._t = ts if self.sim_time else self._t
                self._publish_state(ts)
            ts += dt
        if not self.sim_time:
            delay = t_next - time.time()
            if delay > 0:
                time.sleep(delay)
        return t_next

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Imagine frames until stop(), `until()`, `duration` or the context's shutdown."""
        self._run_thread = threading.current_thread()
        if until is not None:
            self._until = until
        self._wait_for_subscribers()
        period = 1.0 / self.rate
        limit = int(round(self.cfg.episode_seconds * self.rate)) if self.cfg.episode_seconds > 0 else 0
        t = 0.0 if self.sim_time else time.time()
        with self._lock:
            frame = self._begin_episode(None)
            self._t = t
            self._loop_running = True
        self._level, self._message = "OK", "dreaming"
        try:
            self._loop(t, frame, period, limit)
        finally:
            with self._lock:
                self._loop_running = False
                self._reset_done.notify_all()
                if rclpy.ok(context=self.context):
                    self._publish_diagnostics(self._t)  # the final counts

    def _loop(self, t: float, frame: np.ndarray, period: float, limit: int) -> None:
        t0, next_diag = t, t
        new_episode = False
        while self._running():
            if self.cfg.duration > 0 and t - t0 >= self.cfg.duration:
                break
            if new_episode:
                self._reset_policy()
            with self._lock:
                self._t = t
                self._publish_state(t)
                self._publish_frame(t, frame)
                if new_episode:
                    self._first_frame_stamp = t
                    self._reset_done.notify_all()
                    new_episode = False
                count = self._cmd_count
                if t >= next_diag:
                    self._publish_diagnostics(t)
                    next_diag = t + 1.0 / max(self.cfg.diagnostics_rate_hz, 1e-3)
            if self.sim_time:
                self._wait_for_command(count)
            t_next = self._advance(t, t + period)
            if not self._running():
                break
            wall0 = time.monotonic()
            with self._lock:
                self._t = t_next
                reason, which = self._pending_reset or (None, "next")
                if reason is None and self.last_step is not None:
                    reason = episode_end(self.last_step.terminated, self.dream.steps, limit,
                                         self.cfg.reset_on_termination, self.cfg.episode_seconds)
                if reason is not None:
                    self._pending_reset = None
                    self.last_step = None
                    frame = self._begin_episode(reason, which)
                    new_episode = True
                else:
                    out = self.dream.step(self._command(t_next))
                    self.last_step = out
                    self.eps.episode_return += out.reward
                    self.clipped += int(out.clipped)
                    frame = out.frame
                    self._publish_step(out)
            spent = time.monotonic() - wall0
            self.step_seconds.append(spent)
            if not self.sim_time:
                if time.time() - t_next > period:  # the step alone took more than a period
                    self.late_frames += 1
                    self._last_late = t_next
                    self._level, self._message = "WARN", (
                        f"cannot keep up with {self.rate:g} Hz: a step took {1e3 * spent:.0f} ms of a "
                        f"{1e3 * period:.0f} ms period ({self.late_frames} late frames so far)")
                    t_next = time.time()  # re-anchor instead of racing to catch up
                elif self._level == "WARN" and t_next - self._last_late > 5.0:
                    self._level, self._message = "OK", "dreaming (keeping up again)"
            t = t_next

    def destroy_node(self):
        self.stop()
        loop = self._run_thread
        if loop is not None and loop is not threading.current_thread():
            loop.join(timeout=5.0)
        super().destroy_node()


def main(args=None) -> int:
    """Exits 0 on SIGINT, SIGTERM or the end of `duration`; 2 if the world model is refused."""
    stop = clean_exit.init(args)
    try:
        node = DreamNode()
    except (ValueError, FileNotFoundError) as e:  # WorldModelFolderError is a ValueError
        print(f"[dream] refusing to start: {e}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    executor = MultiThreadedExecutor(num_threads=2)  # a reset service waits while the policy's reset answers
    executor.add_node(node)
    spinner = clean_exit.spin_in_thread(executor, stop)
    try:
        node.run(until=stop.is_set)
    finally:
        stop.set()
        clean_exit.teardown([node], executor, [spinner])
    return 0


if __name__ == "__main__":
    sys.exit(main())
