"""The Go2 tasks, each defined once (pure: numpy only, no ROS, no MuJoCo, no torch).

A task is its scene layout (where things are put at a reset), its dense reward (for training), its
success rule (for judging) and a scripted controller that reads the simulator's ground truth (the
ceiling a learned policy is compared with). The simulator, the exploration driver, ``fog dataset``,
the demo and ``benchmarks/task_success.py`` all read them from here, so no task is defined twice.

Tasks:

- ``goal``: walk to a marker. A tall red post (visual only: nothing collides with it) stands
  1.5-3 m away at a bearing within +-60 degrees of the robot's start heading, so it is often but
  not always inside the ego camera's +-40 degree view at the start: the robot may have to turn to
  find it. Success: the base origin within 0.35 m of the post's axis (in the plane) within 30 s.
  Dense reward: progress towards the post, ``rate * (d(t) - d(t + 1/rate))`` in m/s, plus
  ``success_bonus`` on the step that reaches it.
- ``pushcube``: push the cube onto the goal disc (the original task). Dense reward (``fog dataset
  --reward-source sim`` / ``sim-progress``): the potential ``-|cube - goal| - 0.5 * max(|base - cube|
  - 0.35, 0)`` of the state a step leads to, or its change per second. Success: the cube's centre
  within 0.15 m of the goal.

The robot always starts at the origin facing +x; positions are world (x, y) in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TASK_NAMES = ("goal", "pushcube")


@dataclass(frozen=True)
class GoalTask:
    """Walk to a visible marker post; see the module docstring."""

    name: str = "goal"
    distance: tuple[float, float] = (1.5, 3.0)
    """Range (m) of the marker's start distance from the robot, uniform."""
    bearing: tuple[float, float] = (-math.radians(60.0), math.radians(60.0))
    """Range (rad) of the marker's bearing from the robot's start heading, uniform."""
    success_radius: float = 0.35
    """Base origin within this distance (m, in the plane) of the marker's axis: success."""
    time_limit: float = 30.0
    """Seconds (simulated, from the first command) to reach the marker."""
    success_bonus: float = 1.0
    """Reward added on the step that reaches the marker."""
    marker_radius: float = 0.15
    """Radius (m) of the post (visual only)."""
    marker_height: float = 1.0
    """Height (m) of the post: tall enough for the downward-tilted ego camera to see it from 3 m."""

    def place(self, rng: np.random.Generator) -> np.ndarray:
        """The marker's (x, y) for a new episode (robot at the origin facing +x)."""
        d = rng.uniform(*self.distance)
        b = rng.uniform(*self.bearing)
        return np.array([d * math.cos(b), d * math.sin(b)])

    def distance_to(self, base_xy, marker_xy) -> np.ndarray:
        """Planar distance (m) from the base origin to the marker's axis (broadcasts over leading axes)."""
        diff = np.asarray(base_xy, float)[..., :2] - np.asarray(marker_xy, float)[..., :2]
        return np.hypot(diff[..., 0], diff[..., 1])

    def success(self, base_xy, marker_xy) -> np.ndarray | bool:
        """The success rule: within ``success_radius`` of the marker."""
        return self.distance_to(base_xy, marker_xy) < self.success_radius

    def reward(self, base_now, base_next, marker_xy, rate: float) -> np.ndarray:
        """Dense reward of the step from ``base_now`` to ``base_next`` (arrays [..., >=2]) at ``rate`` Hz:
        progress towards the marker in m/s, plus ``success_bonus`` when the step ends inside the radius
        having started outside it."""
        d0, d1 = self.distance_to(base_now, marker_xy), self.distance_to(base_next, marker_xy)
        arrived = (d1 < self.success_radius) & (d0 >= self.success_radius)
        return rate * (d0 - d1) + self.success_bonus * arrived

    def scripted_command(
        self, base_xy, yaw: float, marker_xy, max_speed: float = 0.5, max_yaw_rate: float = 0.8
    ) -> np.ndarray:
        """The ground-truth controller (the ceiling): turn towards the marker, walk when roughly facing it."""
        x, y = to_body_frame(marker_xy, base_xy, yaw)
        bearing = math.atan2(y, x)
        wz = float(np.clip(2.0 * bearing, -max_yaw_rate, max_yaw_rate))
        vx = max_speed * max(math.cos(bearing), 0.0) ** 3
        return np.array([vx, 0.0, wz])

    def outcome(self, elapsed: float, base_xy, marker_xy) -> str | None:
        """'success', 'timeout', or None to go on (falls are judged by the caller)."""
        if bool(self.success(base_xy, marker_xy)):
            return "success"
        if elapsed >= self.time_limit:
            return "timeout"
        return None


@dataclass(frozen=True)
class PushCubeTask:
    """Push the cube onto the goal disc (layout in quadruped_bridge.sim.SimConfig)."""

    name: str = "pushcube"
    success_radius: float = 0.15
    """Cube centre within this distance (m, in the plane) of the goal: success."""
    time_limit: float = 30.0
    """Seconds per episode."""
    robot_weight: float = 0.5
    """Weight of the robot-to-cube distance term of the reward."""
    contact_radius: float = 0.35
    """Robot-to-cube distance (m, base origin to cube centre) below which the robot counts as touching the cube."""

    def success(self, cube_xy, goal_xy) -> np.ndarray | bool:
        diff = np.asarray(cube_xy, float)[..., :2] - np.asarray(goal_xy, float)[..., :2]
        return np.hypot(diff[..., 0], diff[..., 1]) < self.success_radius

    def potential(self, base_xy, cube_xy, goal_xy) -> np.ndarray:
        """``phi = -|cube - goal| - robot_weight * max(|base - cube| - contact_radius, 0)`` (x, y in
        metres; broadcasts over leading axes): the ``sim`` reward of a transition, on the state it leads to."""
        cube = np.asarray(cube_xy, float)[..., :2]
        d_goal = np.linalg.norm(cube - np.asarray(goal_xy, float)[..., :2], axis=-1)
        d_robot = np.linalg.norm(np.asarray(base_xy, float)[..., :2] - cube, axis=-1)
        return -d_goal - self.robot_weight * np.maximum(d_robot - self.contact_radius, 0.0)

    def progress_reward(self, base_now, cube_now, base_next, cube_next, goal_xy, rate: float) -> np.ndarray:
        """The ``sim-progress`` reward: ``rate * (phi(next) - phi(now))`` per second (an episode's
        unobservable offset cancels; its return telescopes to rate * (phi(end) - phi(start)))."""
        return rate * (self.potential(base_next, cube_next, goal_xy) - self.potential(base_now, cube_now, goal_xy))

    def scripted_command(self, base_xy, yaw: float, cube_xy, goal_xy, speed: float = 0.35) -> np.ndarray:
        """Ground-truth pusher: go to a point behind the cube on the goal line, then push along it."""
        cube, goal = np.asarray(cube_xy, float)[:2], np.asarray(goal_xy, float)[:2]
        line = goal - cube
        n = float(np.hypot(*line)) or 1.0
        behind = cube - 0.35 * line / n
        to_behind = float(np.hypot(*(behind - np.asarray(base_xy, float)[:2])))
        target = goal if to_behind < 0.15 else behind
        x, y = to_body_frame(target, base_xy, yaw)
        bearing = math.atan2(y, x)
        return np.array([speed * max(math.cos(bearing), 0.0) ** 3, 0.0, float(np.clip(2.0 * bearing, -0.8, 0.8))])


def task_by_name(name: str) -> GoalTask | PushCubeTask:
    """The task called ``name`` (one of TASK_NAMES), with its default settings."""
    if name == "goal":
        return GoalTask()
    if name == "pushcube":
        return PushCubeTask()
    raise ValueError(f"unknown task {name!r}: expected one of {', '.join(TASK_NAMES)}")


def to_body_frame(point_world, base_xy, yaw: float) -> np.ndarray:
    """(x, y) of a world point in the robot's heading frame."""
    dx, dy = point_world[0] - base_xy[0], point_world[1] - base_xy[1]
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * dx + s * dy, -s * dx + c * dy])
