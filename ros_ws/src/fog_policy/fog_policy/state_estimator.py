"""Legged odometry: the base's velocity from stance-leg kinematics, joint encoders and the gyro.

A foot in stance does not move in the world, so in the base frame it moves at
`-(v_base + omega x p_foot)`. Its base-frame velocity is also `J(q) dq`, hence per stance leg

    v_base = -J(q) dq - omega x p_foot   (+ the rolling of the ball foot, see `update`)

averaged over the legs the gait schedule says are in stance (weighted, so legs that are just
touching down or lifting off count less), then low-pass filtered: a single 50 Hz sample is noisy
(impacts, slip), the gait controller needs the step-averaged velocity. Uses only what the real
robot measures: joint positions/velocities and the IMU's angular velocity. Never the simulator's
ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fog_contract.go2 import FOOT_RADIUS

from fog_policy.leg_kinematics import foot_jacobians, foot_positions

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class EstimatorConfig:
    """Settings of the legged-odometry velocity estimator."""

    filter_time_constant: float = 0.06
    """First-order low-pass time constant (s) on the velocity estimate; about a quarter of a stance phase."""
    min_stance_weight: float = 0.2
    """Legs whose stance weight is below this are ignored (touch-down and lift-off are unreliable)."""


class LegOdometry:
    """Base linear velocity (base frame) from stance legs; see the module docstring."""

    def __init__(self, config: EstimatorConfig | None = None) -> None:
        self.config = config or EstimatorConfig()
        self.velocity = np.zeros(3)
        """Filtered base linear velocity, base frame (m/s)."""
        self.raw_velocity = np.zeros(3)
        """Last unfiltered stance-leg average, base frame (m/s)."""

    def reset(self) -> None:
        self.velocity = np.zeros(3)
        self.raw_velocity = np.zeros(3)

    def update(
        self,
        q: np.ndarray,
        dq: np.ndarray,
        gyro: np.ndarray,
        stance_weights: np.ndarray,
        dt: float,
        up: np.ndarray = UP,
    ) -> np.ndarray:
        """Fold in one sample; returns the filtered base-frame velocity.

        q, dq: (12,) joint state in Unitree order; gyro: (3,) base-frame angular velocity;
        stance_weights: (4,) in [0, 1] per leg (FR, FL, RR, RL); dt: time since the last update (s);
        up: the world's vertical in the base frame (from the IMU), for the rolling-foot correction.
        """
        weights = np.where(np.asarray(stance_weights) >= self.config.min_stance_weight, stance_weights, 0.0)
        if weights.sum() <= 0.0 or dt <= 0.0:
            return self.velocity
        legs_q = np.asarray(q, dtype=np.float64).reshape(4, 3)
        legs_dq = np.asarray(dq, dtype=np.float64).reshape(4, 3)
        gyro = np.asarray(gyro, dtype=np.float64)
        feet = foot_positions(legs_q)
        foot_vel = np.einsum("lij,lj->li", foot_jacobians(legs_q), legs_dq)
        per_leg = -foot_vel - np.cross(gyro, feet)
        # The foot is a ball that rolls: its centre moves at w_calf x (r * up) over a still contact
        # point. Ignoring this underestimates the speed by about FOOT_RADIUS / leg length (~8 %).
        abd = legs_q[:, 0]
        calf_axis = np.stack([np.zeros(4), np.cos(abd), np.sin(abd)], axis=-1)
        calf_rate = gyro + legs_dq[:, :1] * np.array([1.0, 0.0, 0.0]) + (legs_dq[:, 1:2] + legs_dq[:, 2:3]) * calf_axis
        per_leg = per_leg + np.cross(calf_rate, FOOT_RADIUS * np.asarray(up, dtype=np.float64))
        self.raw_velocity = (weights[:, None] * per_leg).sum(axis=0) / weights.sum()
        alpha = dt / (self.config.filter_time_constant + dt)
        self.velocity = self.velocity + alpha * (self.raw_velocity - self.velocity)
        return self.velocity
