"""Exploration for data collection: smooth random velocity commands and episode bookkeeping (pure).

The world models learn from what the robot did, so the play data must cover the command space
smoothly (no bang-bang steps that the 50 Hz gait cannot follow) and contain plenty of contact
with the cube. `SmoothRandomCommands` draws a new random target velocity every few seconds and
moves towards it through a first-order filter; with probability `seek_probability` a segment
steers towards the cube instead (when its position is known, e.g. in the simulator), with noise.

`EpisodeJudge` decides when an episode ends: time limit, fall, cube out of the arena, cube at the
goal. The node (`exploration_node.py`) turns these into cmd_vel, episode/event and sim/reset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExplorationConfig:
    vx_range: tuple[float, float] = (-0.2, 0.5)
    """Forward velocity targets are drawn in this range (m/s)."""
    vy_range: tuple[float, float] = (-0.25, 0.25)
    """Lateral velocity targets (m/s)."""
    wz_range: tuple[float, float] = (-0.8, 0.8)
    """Yaw-rate targets (rad/s)."""
    segment_duration: tuple[float, float] = (1.0, 4.0)
    """A new target is drawn after a uniform duration in this range (s)."""
    smoothing_time: float = 0.5
    """Time constant (s) of the first-order filter towards the target: smooth commands."""
    stop_probability: float = 0.1
    """Probability that a segment's target is standing still."""
    seek_probability: float = 0.5
    """Probability that a segment steers towards the cube (when its position is known)."""
    seek_speed: float = 0.35
    """Forward speed (m/s) while steering towards the cube."""
    seek_noise: float = 0.1
    """Standard deviation of the noise added to seek commands (m/s, rad/s)."""


def command_bounds(cfg: ExplorationConfig = ExplorationConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of (vx, vy, wz) the exploration commands: the range a policy trained on its data should keep to."""
    ranges = (cfg.vx_range, cfg.vy_range, cfg.wz_range)
    return np.array([r[0] for r in ranges]), np.array([r[1] for r in ranges])


class SmoothRandomCommands:
    """(vx, vy, wz) commands, updated at the caller's rate."""

    def __init__(self, config: ExplorationConfig = ExplorationConfig(), seed: int = 0):
        self.cfg = config
        self.rng = np.random.default_rng(seed)
        self.command = np.zeros(3)
        self.target = np.zeros(3)
        self.seeking = False
        self._segment_end = 0.0

    def _new_segment(self, t: float) -> None:
        cfg, rng = self.cfg, self.rng
        self._segment_end = t + rng.uniform(*cfg.segment_duration)
        self.seeking = rng.random() < cfg.seek_probability
        if rng.random() < cfg.stop_probability:
            self.target = np.zeros(3)
        else:
            self.target = np.array([rng.uniform(*cfg.vx_range), rng.uniform(*cfg.vy_range), rng.uniform(*cfg.wz_range)])

    def update(self, t: float, dt: float, cube_in_body: np.ndarray | None = None) -> np.ndarray:
        """Next command. `cube_in_body`: the cube's (x, y) in the robot's frame, if known."""
        if t >= self._segment_end:
            self._new_segment(t)
        target = self.target
        if self.seeking and cube_in_body is not None:
            bearing = math.atan2(cube_in_body[1], cube_in_body[0])
            noise = self.rng.normal(0.0, self.cfg.seek_noise, 3)
            target = np.array([self.cfg.seek_speed * max(math.cos(bearing), 0.0), 0.0, 1.5 * bearing]) + noise
        lo = np.array([self.cfg.vx_range[0], self.cfg.vy_range[0], self.cfg.wz_range[0]])
        hi = np.array([self.cfg.vx_range[1], self.cfg.vy_range[1], self.cfg.wz_range[1]])
        target = np.clip(target, lo, hi)
        alpha = 1.0 - math.exp(-dt / max(self.cfg.smoothing_time, 1e-6))
        self.command = self.command + alpha * (target - self.command)
        return self.command.copy()


@dataclass(frozen=True)
class EpisodeConfig:
    max_duration: float = 30.0
    """Episode time limit (s): then 'reset'."""
    arena_radius: float = 3.0
    """Cube farther than this from the origin (m) -> 'reset' (it left the arena)."""
    robot_radius: float = 4.0
    """Robot farther than this from the origin (m) -> 'reset'."""
    goal_radius: float = 0.15
    """Cube centre within this of the goal (m, in the plane) -> 'success'."""
    fall_height: float = 0.15
    """Base lower than this (m) -> 'fail' (fallen)."""
    fall_tilt: float = 0.8
    """|roll| or |pitch| beyond this (rad) -> 'fail' (fallen)."""


def episode_outcome(
    cfg: EpisodeConfig, elapsed: float, base_pos, roll: float, pitch: float, cube_pos=None, goal_pos=None
) -> str | None:
    """The event that ends the episode now ('success', 'fail', 'reset'), or None to go on."""
    if base_pos[2] < cfg.fall_height or abs(roll) > cfg.fall_tilt or abs(pitch) > cfg.fall_tilt:
        return "fail"
    if cube_pos is not None and goal_pos is not None:
        if math.hypot(cube_pos[0] - goal_pos[0], cube_pos[1] - goal_pos[1]) < cfg.goal_radius:
            return "success"
    if cube_pos is not None and math.hypot(cube_pos[0], cube_pos[1]) > cfg.arena_radius:
        return "reset"
    if math.hypot(base_pos[0], base_pos[1]) > cfg.robot_radius:
        return "reset"
    if elapsed >= cfg.max_duration:
        return "reset"
    return None


def to_body_frame(point_world, base_pos, yaw: float) -> np.ndarray:
    """(x, y) of a world point in the robot's heading frame."""
    dx, dy = point_world[0] - base_pos[0], point_world[1] - base_pos[1]
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * dx + s * dy, -s * dx + c * dy])
