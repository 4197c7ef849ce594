"""Exploration driver: smooth random cmd_vel at the policy rate, episodes, resets (for recording).

Publishes cmd_vel at `rate_hz` (5 Hz: the policy's rate, so recorded actions look like policy
actions) and episode/event ("start", then "success" / "fail" / "reset"). In the simulator it reads
the ground truth (sim/base_pose, sim/cube_pose, sim/goal_pose) to steer towards the cube part of
the time and to end episodes (fall, cube out of the arena, cube at the goal, time limit), and
calls sim/reset between episodes. On a real robot, without ground truth, episodes end on the time
limit only and no reset service is called (an operator resets the scene; see teleop_node).

It starts an episode only when the locomotion controller says on the latched `locomotion/ready`
(std_msgs/Bool, the topic contract) that the robot stands and follows cmd_vel.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from quadruped_bridge import clean_exit
from quadruped_bridge.exploration import (
    EpisodeConfig,
    ExplorationConfig,
    SmoothRandomCommands,
    episode_outcome,
    to_body_frame,
)
from quadruped_bridge.qos import COMMAND_QOS
from quadruped_bridge.ros_params import declare_config
from quadruped_bridge.tasks import TASK_NAMES, GoalTask

EVENT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass(frozen=True)
class ExplorationNodeConfig:
    rate_hz: float = 5.0
    """cmd_vel rate (Hz): the policy's rate."""
    seed: int = 0
    """Seed of the random commands."""
    max_episodes: int = 0
    """Stop (and exit) after this many episodes (0 = until shut down)."""
    settle_time: float = 1.5
    """Seconds of standing after a reset before the next episode starts."""
    max_duration: float = EpisodeConfig.max_duration
    """Episode time limit (s)."""
    use_ground_truth: bool = True
    """Use the simulator's sim/* topics to steer and to end episodes."""
    task: str = "pushcube"
    """Task of the scene (quadruped_bridge.tasks): 'pushcube' steers towards the cube part of the time and
    ends on cube-at-goal; 'goal' steers towards the marker post and ends when the robot reaches it."""


def yaw_of(q) -> tuple[float, float, float]:
    w, x, y, z = q.w, q.x, q.y, q.z
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return float(roll), float(pitch), float(yaw)


class ExplorationNode(Node):
    def __init__(self, **kwargs):
        super().__init__("exploration", **kwargs)
        self.cfg = declare_config(self, ExplorationNodeConfig)
        if self.cfg.task not in TASK_NAMES:
            raise ValueError(f"parameter task: expected one of {TASK_NAMES}, got {self.cfg.task!r}")
        self.goal_task = GoalTask() if self.cfg.task == "goal" else None
        explore = ExplorationConfig(seek_speed=0.4) if self.goal_task else ExplorationConfig()
        self.commands = SmoothRandomCommands(explore, seed=self.cfg.seed)
        self.episode_cfg = EpisodeConfig(max_duration=self.cfg.max_duration)
        self.pub_cmd = self.create_publisher(Twist, "cmd_vel", COMMAND_QOS)
        self.pub_event = self.create_publisher(String, "episode/event", EVENT_QOS)
        self.base = self.cube = self.goal = None
        self.loco_ready = False  # locomotion/ready: the robot stands and follows cmd_vel
        if self.cfg.use_ground_truth:
            self.create_subscription(
                PoseStamped, "sim/base_pose", lambda m: setattr(self, "base", m), qos_profile_sensor_data
            )
            self.create_subscription(
                PoseStamped, "sim/cube_pose", lambda m: setattr(self, "cube", m), qos_profile_sensor_data
            )
            self.create_subscription(PoseStamped, "sim/goal_pose", lambda m: setattr(self, "goal", m), LATCHED_QOS)
        self.create_subscription(Bool, "locomotion/ready", self._on_ready, LATCHED_QOS)
        self.reset_client = self.create_client(Trigger, "sim/reset")
        self.state = "waiting"
        self.t_state = None
        self.episodes = 0
        self.outcomes: list[str] = []
        self.done = False
        self.create_timer(1.0 / self.cfg.rate_hz, self._tick)

    def _on_ready(self, msg: Bool) -> None:
        self.loco_ready = bool(msg.data)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _publish(self, cmd) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in cmd)
        self.pub_cmd.publish(msg)

    def _tick(self) -> None:
        now = self._now()
        if self.t_state is None:
            self.t_state = now
        standing = self.loco_ready
        if self.state == "waiting":
            self._publish((0.0, 0.0, 0.0))
            if not standing:
                self.t_state = now
            elif now - self.t_state >= self.cfg.settle_time:
                if self.cfg.max_episodes and self.episodes >= self.cfg.max_episodes:
                    self.done = True
                    return
                self.episodes += 1
                self.pub_event.publish(String(data="start"))
                self.get_logger().info(f"episode {self.episodes} started")
                self.state, self.t_state = "running", now
            return
        if self.state == "resetting":
            self._publish((0.0, 0.0, 0.0))
            return
        # running
        cube_body = None
        outcome = None
        if self.base is not None:
            p = self.base.pose.position
            roll, pitch, yaw = yaw_of(self.base.pose.orientation)
            base = (p.x, p.y, p.z)
            cube = (self.cube.pose.position.x, self.cube.pose.position.y) if self.cube is not None else None
            goal = (self.goal.pose.position.x, self.goal.pose.position.y) if self.goal is not None else None
            if self.goal_task is not None:
                # The marker stands at the goal position; seek it, and end the episode on reaching it.
                cube_body = to_body_frame(goal, base, yaw) if goal is not None else None
                outcome = episode_outcome(self.episode_cfg, now - self.t_state, base, roll, pitch)
                if outcome is None and goal is not None and self.goal_task.success(base, goal):
                    outcome = "success"
            else:
                if cube is not None:
                    cube_body = to_body_frame(cube, base, yaw)
                outcome = episode_outcome(self.episode_cfg, now - self.t_state, base, roll, pitch, cube, goal)
        elif now - self.t_state >= self.episode_cfg.max_duration:
            outcome = "reset"
        if outcome is None:
            self._publish(self.commands.update(now, 1.0 / self.cfg.rate_hz, cube_body))
            return
        self._publish((0.0, 0.0, 0.0))
        self.pub_event.publish(String(data=outcome))
        self.outcomes.append(outcome)
        self.get_logger().info(f"episode {self.episodes} ended: {outcome}")
        self.commands.command[:] = 0.0
        if self.cfg.use_ground_truth and self.reset_client.service_is_ready():
            self.state = "resetting"
            self.loco_ready = False  # the reset's episode/event stops the controller; await it standing again
            self.reset_client.call_async(Trigger.Request()).add_done_callback(lambda _f: self._after_reset())
        else:
            self._after_reset()

    def _after_reset(self) -> None:
        self.state, self.t_state = "waiting", self._now()


def main(args=None) -> int:
    """Exits 0 when done, on SIGINT or SIGTERM (see quadruped_bridge.clean_exit)."""
    stop = clean_exit.init(args)
    node = ExplorationNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        clean_exit.spin_until(executor, stop, done=lambda: node.done)
    finally:
        node.get_logger().info(f"{node.episodes} episodes: {node.outcomes}")
        clean_exit.teardown([node], executor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
