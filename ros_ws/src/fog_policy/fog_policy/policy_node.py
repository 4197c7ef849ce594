"""The FoG policy on the robot: a lifecycle node that runs the exported artifact at the policy rate.

Lifecycle:
  configure  load the artifact (fog_policy.policy_runtime) and check it against this robot: joint
             names and order (parameter `joint_names`, Unitree order by default), camera aspect
             ratio (from camera/camera_info when one arrives), action space. A mismatch fails the
             transition with an error that names the field.
  activate   start the policy timer; deactivate stops it (the locomotion controller then stands).
With `autostart` (default), the node configures and activates itself: `fog deploy` and the launch
file need no lifecycle manager.

Sensor callbacks only store messages. One timer at `policy_rate_hz` (the artifact's) runs the step
on the newest image, joint state and IMU reading and publishes cmd_vel (geometry_msgs/Twist) or,
for a joint-space artifact, joint_commands. With `trigger:=image` (bag replay, dream) the step runs
on the first image of each policy period instead, with the joint state and IMU reading stamped at
or before that image, once readings stamped at or after it have arrived (fog_policy.sensor_inputs:
the outputs then depend only on the data, not on the order a busy executor took the topics in).
With `dry_run` it publishes on fog_policy/dry_run/<topic> only. It stops
commanding (one zero command, then silence, and the reason on /diagnostics) when:
  - the camera image or the joint state is older than its timeout (stale sensor);
  - the world model's surprise stays above the threshold for `surprise_steps` steps: what the
    robot sees is no longer what the policy was trained on (latched until re-enabled);
  - `fog_policy/enable` (std_srvs/SetBool) says false.
episode/event "start" or "reset" resets the recurrent state, and so does the service
fog_policy/reset (std_srvs/Trigger), which answers once it is done. A cmd_vel policy on the timer waits
for the locomotion controller: it steps only while the latched `locomotion/ready` (std_msgs/Bool)
is true (the robot stands and trots), and starts from a fresh recurrent state each time it turns
true, so the stand-up after a reset or a fall never enters the policy's memory
(`wait_for_locomotion`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.artifact import ArtifactError, check_compatible
from fog_contract.go2 import JOINT_NAMES
from fog_contract.loop_timing import LoopTiming
from fog_contract.proprio import check_names, proprio_vector
from geometry_msgs.msg import Twist
from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.qos import COMMAND_QOS, LATCHED_QOS
from quadruped_bridge.ros_params import declare_config
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from fog_policy.policy_guard import ImageTicks, SurpriseLatch, hold
from fog_policy.sensor_inputs import StampedBuffer

IMAGE_TRIGGER_SENSOR_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT)


@dataclass(frozen=True)
class PolicyNodeConfig:
    artifact: str = ""
    """Folder of the exported policy (policy.onnx + policy_meta.json)."""
    dry_run: bool = False
    """Publish on fog_policy/dry_run/<topic> instead of the robot's command topic."""
    autostart: bool = True
    """Configure and activate at start (no lifecycle manager needed)."""
    enabled: bool = True
    """Command the robot once active (the fog_policy/enable service toggles it)."""
    image_timeout: float = 0.15
    """A camera image older than this (s) stops the commands: with the 5 Hz policy, commands stop
    within two policy periods of the camera's last image."""
    joint_timeout: float = 0.2
    """A joint state or IMU message older than this (s) stops the commands."""
    surprise_threshold: float = 0.0
    """Surprise (nats) above which a step counts as unfamiliar; 0 = the artifact's threshold."""
    surprise_steps: int = 0
    """Consecutive unfamiliar steps that stop the policy; 0 = the artifact's."""
    policy_rate_hz: float = 0.0
    """Override of the artifact's policy rate (Hz); 0 = the artifact's."""
    joint_names: tuple[str, ...] = tuple(JOINT_NAMES)
    """This robot's joint names in its order; the artifact must match them."""
    threads: int = 1
    """onnxruntime intra-op threads."""
    wait_for_locomotion: bool = True
    """A cmd_vel policy on the timer steps only while locomotion/ready is true (no effect on
    joint-space artifacts, `dry_run` or the image trigger)."""
    trigger: str = "timer"
    """'timer': step on a timer at the policy rate (the robot); 'image': step on the first image of
    each policy period by its stamp (bag replay: the outputs depend only on the recorded data)."""


class PolicyNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("fog_policy", **kwargs)
        self.cfg = declare_config(self, PolicyNodeConfig)
        if self.cfg.trigger not in ("timer", "image"):
            raise ValueError(f"parameter 'trigger' must be 'timer' or 'image', got {self.cfg.trigger!r}")
        self.runtime = None
        self.timer = None
        self.image: tuple[float, float, Image] | None = None  # (stamp, wall arrival, msg)
        self.joint_buffer: StampedBuffer[tuple[np.ndarray, np.ndarray]] = StampedBuffer()  # (q, dq)
        self.imu_buffer: StampedBuffer[tuple[np.ndarray, np.ndarray, np.ndarray]] = StampedBuffer()  # quat, gyro, accel
        self._pending_image: tuple[float, float, Image] | None = None  # image trigger: awaiting its sensors
        self.camera_size: tuple[int, int] | None = None
        self.enabled = self.cfg.enabled
        self.stopped_reason: str | None = None
        self.surprise: SurpriseLatch | None = None  # from the artifact at configure
        self.status = ("WARN", "unconfigured")
        self._status_sent = None
        self.steps = 0
        self.timing: LoopTiming | None = None  # image arrival (wall) -> command published: latency
        self._index = {n: i for i, n in enumerate(self.cfg.joint_names)}
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        # best effort (matches every sensor publisher); the image trigger keeps a deep queue so a busy
        # moment drops nothing a replay sent
        sensor_qos = qos_profile_sensor_data if self.cfg.trigger == "timer" else IMAGE_TRIGGER_SENSOR_QOS
        self.create_subscription(Image, "camera/image_raw", self._on_image, sensor_qos)
        self.create_subscription(CameraInfo, "camera/camera_info", self._on_info, qos_profile_sensor_data)
        self.create_subscription(JointState, "joint_states", self._on_joints, sensor_qos)
        self.create_subscription(Imu, "imu/data", self._on_imu, sensor_qos)
        self.create_subscription(String, "episode/event", self._on_event, QoSProfile(depth=10))
        self.locomotion_ready = False
        self.create_subscription(Bool, "locomotion/ready", self._on_ready, LATCHED_QOS)
        self.create_service(SetBool, "fog_policy/enable", self._on_enable)
        self.create_service(Trigger, "fog_policy/reset", self._on_reset)
        # the status heartbeat runs on the wall clock: under use_sim_time a node waiting for /clock (a replay
        # that has not started) still says where it is to a monitor that joined after its last change
        self.create_timer(1.0, lambda: self._publish_status(force=True), clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._net = network_policy.report(self)

    # ------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from fog_policy.policy_runtime import PolicyRuntime

        try:
            if not self.cfg.artifact:
                raise ArtifactError("parameter 'artifact' is empty: give the exported policy folder")
            runtime = PolicyRuntime(self.cfg.artifact, threads=self.cfg.threads)
            meta = runtime.meta
            check_compatible(meta, self.cfg.joint_names, self.camera_size)
            check_names(meta["observation"]["proprio"]["names"])
        except (ArtifactError, ValueError, OSError) as e:
            self._set_status("ERROR", f"refusing the artifact: {e}")
            self.get_logger().error(f"refusing the artifact: {e}")
            return TransitionCallbackReturn.FAILURE
        self.runtime = runtime
        meta = runtime.meta
        self.kind = meta["action"]["kind"]
        self.rate = self.cfg.policy_rate_hz or float(meta["policy_rate_hz"])
        self.timing = LoopTiming(1.0 / self.rate)
        self.threshold = self.cfg.surprise_threshold or float(meta["surprise"]["threshold"])
        self.max_surprising = self.cfg.surprise_steps or int(meta["surprise"]["steps"])
        self.surprise = SurpriseLatch(self.threshold, self.max_surprising)
        topic = "cmd_vel" if self.kind == "cmd_vel" else "joint_commands"
        if self.cfg.dry_run:
            topic = f"fog_policy/dry_run/{topic}"
        msg_type = Twist if self.kind == "cmd_vel" else JointState
        self.pub_cmd = self.create_publisher(msg_type, topic, COMMAND_QOS)
        self.get_logger().info(
            f"artifact {self.cfg.artifact}: {self.kind} at {self.rate:g} Hz -> {topic} "
            f"(surprise stop above {self.threshold:.2f} for {self.max_surprising} steps)"
        )
        self._set_status("OK", "configured")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.runtime.reset()
        self.image_ticks = ImageTicks(1.0 / self.rate)
        self._pending_image = None
        if self.cfg.trigger == "timer":
            self.timer = self.create_timer(1.0 / self.rate, self._tick)
        self._activated = True
        self._set_status("OK", "active")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.timer is not None:
            self.destroy_timer(self.timer)
            self.timer = None
        self._activated = False
        self._stop("deactivated")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.runtime = None
        return TransitionCallbackReturn.SUCCESS

    # --------------------------------------------------------------- inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, msg: Image) -> None:
        stamp = rm.from_stamp(msg.header.stamp)
        self.image = (stamp, time.monotonic(), msg)
        if self.cfg.trigger == "image" and self.runtime is not None and self._active():
            if self.image_ticks.due(stamp):
                if self._pending_image is not None:  # its sensors never caught up: step with what came
                    self._step_pending()
                self._pending_image = self.image
                self._step_pending_when_sensors_reached()

    def _step_pending_when_sensors_reached(self) -> None:
        """Image trigger: step on the pending image once joint states and IMU readings stamped at or
        after it have arrived (the ones before it, published earlier, are then all in)."""
        pending = self._pending_image
        if pending is not None and self.joint_buffer.reached(pending[0]) and self.imu_buffer.reached(pending[0]):
            self._step_pending()

    def _step_pending(self) -> None:
        pending, self._pending_image = self._pending_image, None
        self._tick(now=pending[0], image=pending)

    def _active(self) -> bool:
        return getattr(self, "_activated", False)

    def _on_info(self, msg: CameraInfo) -> None:
        self.camera_size = (int(msg.width), int(msg.height))

    def _on_joints(self, msg: JointState) -> None:
        try:
            order = [self._index[n] for n in msg.name]
        except KeyError as e:
            self._set_status("ERROR", f"joint_states has unknown joint {e.args[0]!r}")
            return
        q, dq = np.zeros(len(self._index)), np.zeros(len(self._index))
        q[order] = msg.position
        if len(msg.velocity) == len(order):
            dq[order] = msg.velocity
        self.joint_buffer.add(rm.from_stamp(msg.header.stamp), (q, dq))
        self._step_pending_when_sensors_reached()

    def _on_imu(self, msg: Imu) -> None:
        quat, gyro, accel = rm.imu_arrays(msg)
        if msg.orientation_covariance[0] == -1:  # no orientation (REP 145): gravity from the accelerometer
            quat = np.zeros(4)
        self.imu_buffer.add(rm.from_stamp(msg.header.stamp), (quat, gyro, accel))
        self._step_pending_when_sensors_reached()

    def _on_event(self, msg: String) -> None:
        if msg.data in ("start", "reset") and self.runtime is not None:
            self.runtime.reset()
            self.surprise.reset()

    def _on_ready(self, msg: Bool) -> None:
        if msg.data and not self.locomotion_ready and self.runtime is not None:
            self.runtime.reset()  # the policy's memory starts when the robot can follow it
            self.surprise.reset()
        self.locomotion_ready = bool(msg.data)

    def _gated(self) -> bool:
        """Whether this node must wait for locomotion/ready before stepping."""
        return (
            self.cfg.wait_for_locomotion
            and getattr(self, "kind", "") == "cmd_vel"
            and not self.cfg.dry_run
            and self.cfg.trigger == "timer"
        )

    def _on_reset(self, _req, res):
        """Forget the recurrent state now (a caller that must know it happened before its next image,
        e.g. the dream backend at a new episode; episode/event "reset" gives no such guarantee)."""
        if self.runtime is not None:
            self.runtime.reset()
            self.surprise.reset()
        res.success, res.message = True, "recurrent state reset"
        return res

    def _on_enable(self, req, res):
        self.enabled = bool(req.data)
        if self.enabled:
            if self.runtime is not None:
                self.runtime.reset()
                self.surprise.reset(unlatch=True)
        else:
            self._stop("disabled by fog_policy/enable")
        res.success, res.message = True, f"policy {'enabled' if self.enabled else 'disabled'}"
        return res

    # ----------------------------------------------------------------- step
    def _tick(self, now: float | None = None, image: tuple[float, float, Image] | None = None) -> None:
        """One policy step: at `now` on the newest readings (timer), or at an image's stamp on that
        image and the readings stamped at or before it (image trigger)."""
        wall = time.monotonic()
        now = self._now() if now is None else now
        if image is None:
            image, joints, imu = self.image, self.joint_buffer.newest, self.imu_buffer.newest
        else:
            joints, imu = self.joint_buffer.at(image[0]), self.imu_buffer.at(image[0])
        image_stamp, joint_stamp, imu_stamp = (None if v is None else v[0] for v in (image, joints, imu))
        held = hold(
            enabled=self.enabled,
            latch=self.surprise,
            waiting_for_locomotion=self._gated() and not self.locomotion_ready,
            now=now,
            image_stamp=image_stamp,
            joint_stamp=joint_stamp,
            imu_stamp=imu_stamp,
            image_timeout=self.cfg.image_timeout,
            joint_timeout=self.cfg.joint_timeout,
        )
        if held is not None:
            return self._stop(held.reason, level=held.level) if held.stop else self._set_status(held.level, held.reason)
        _, arrival, img_msg = image
        try:
            rgb = rm.image_array(img_msg)
            _, (q, dq) = joints
            _, (quat, gyro, accel) = imu
            proprio = proprio_vector(
                self.runtime.meta["observation"]["proprio"]["names"], self._index, q, dq, quat, gyro, accel
            )
            out = self.runtime.step(rgb, proprio)
        except ValueError as e:
            return self._stop(f"bad input: {e}")
        if self.surprise.update(out.surprise):
            return self._stop(self.surprise.reason)
        self._publish_action(now, out.action)
        done = time.monotonic()
        self.timing.tick(now, done - wall, wall)
        self.timing.add_latency(done - arrival)
        self.steps += 1
        self.stopped_reason = None
        self.last_action = out.action
        self.last_surprise = out.surprise
        self._set_status("OK", "commanding")

    def _publish_action(self, now: float, action: np.ndarray) -> None:
        if self.kind == "cmd_vel":
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in action[:3])
        else:
            msg = rm.joint_state_msg(now, self.runtime.meta["joint_names"], action)
        self.pub_cmd.publish(msg)

    def _stop(self, reason: str, level: str = "ERROR") -> None:
        """Stop commanding: one zero velocity (stand still), then nothing, and say why."""
        if self.stopped_reason is None and self.runtime is not None and hasattr(self, "pub_cmd"):
            if self.kind == "cmd_vel":
                self.pub_cmd.publish(Twist())
        self.stopped_reason = reason
        if hasattr(self, "timing"):
            self.timing.pause()  # no deadline while stopped on purpose
        self._set_status(level, reason)

    # ----------------------------------------------------------- diagnostics
    def _set_status(self, level: str, message: str) -> None:
        self.status = (level, message)
        if self.status != self._status_sent:
            self._publish_status()

    def _publish_status(self, force: bool = False) -> None:
        self._status_sent = self.status
        level, message = self.status
        values = {
            "steps": str(self.steps),
            "enabled": str(self.enabled),
            "artifact": self.cfg.artifact,
            "dry_run": str(self.cfg.dry_run),
            **getattr(self, "_net", {}),
        }
        if self.timing is not None:
            values.update(self.timing.report())
        if hasattr(self, "last_surprise"):
            values["surprise"] = f"{self.last_surprise:.3f}"
            values["action"] = " ".join(f"{v:+.3f}" for v in self.last_action)
        self.pub_diag.publish(rm.diagnostics_msg(self._now(), "fog_policy: policy", level, message, values))


def start(node: PolicyNode) -> bool:
    """configure + activate when autostart; False if the artifact was refused."""
    if not node.cfg.autostart:
        return True
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        return False
    return node.trigger_activate() == TransitionCallbackReturn.SUCCESS


def main(args=None) -> int:
    """Exits 0 on SIGINT or SIGTERM (see quadruped_bridge.clean_exit); 2 if the artifact is refused."""
    stop = clean_exit.init(args)
    node = PolicyNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        # camera_info first (aspect-ratio check), for at most a second
        deadline = time.monotonic() + 1.0
        clean_exit.spin_until(
            executor, stop, done=lambda: node.camera_size is not None or time.monotonic() > deadline, period=0.05
        )
        if stop.is_set():
            return 0
        if not start(node):
            return 2
        clean_exit.spin_until(executor, stop)
    finally:
        clean_exit.teardown([node], executor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
