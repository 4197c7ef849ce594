"""The built-in trot: `cmd_vel` (vx, vy, yaw rate) -> joint targets, for a 50 Hz controller.

What a hand-written trot needs to actually walk in simulation and on the robot (levels L0-L4,
each measured in docs/BENCHMARKS.md's locomotion section), all of it here:

- L0: diagonal pairs (FR+RL, FL+RR) alternate stance and swing; foot trajectories in a level,
  yaw-aligned frame at the base origin; analytic IK to joint targets.
- L1: gravity feed-forward on the stance legs, `tau = J^T f` with f the foot's share of the body's
  weight pushing on the ground, expressed in the base frame.
- L2: desired joint velocities (`dq`, from the foot velocities through the Jacobian) so the motor
  loop's D term does not brake the stride and its `extrapolate` moves targets between our 50 Hz
  ticks; plus feed-forward cancelling the joints' viscous damping at those velocities.
- L3: foot targets rotated by the measured roll/pitch so the low side extends (a proportional
  levelling loop), and Raibert foot placement from the estimated velocity.
- L4: a clamped integral of the velocity (and yaw-rate) error added to the stride command.

Only what the robot measures is used: joint positions/velocities and the IMU (orientation, gyro).
The base velocity comes from legged odometry (`state_estimator.LegOdometry`).

Stance targets are continuous: each stance foot target starts where the swing ended (the
touch-down point) and moves from there; each swing starts where the stance target was at lift-off.
Commands are clipped to the supported envelope and rate-limited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from fog_contract.go2 import (
    FOOT_RADIUS,
    JOINT_DAMPING,
    LEGS,
    NUM_JOINTS,
    THIGH_OFFSET_Y,
    TOTAL_MASS,
)
from quadruped_bridge.motor_command import MotorCommand

from fog_policy.leg_kinematics import (
    HIP_POSITIONS,
    SIDE_SIGN,
    foot_jacobians,
    foot_positions,
    inverse_kinematics,
    joint_velocities,
)
from fog_policy.state_estimator import EstimatorConfig, LegOdometry

GRAVITY = 9.81

PHASE_OFFSETS = np.array([0.0, 0.5, 0.5, 0.0])
"""Gait phase offset per leg (FR, FL, RR, RL): diagonal pairs FR+RL and FL+RR."""


@dataclass(frozen=True)
class GaitConfig:
    """Trot settings. Defaults are tuned for the Go2 at a 50 Hz controller and a 500 Hz PD motor loop."""

    control_dt: float = 0.02
    """Nominal period (s) of `update` calls; used for the very first call only (later calls use the clock)."""
    stand_height: float = 0.28
    """Base origin height above flat ground (m) during the gait."""
    gait_frequency: float = 2.5
    """Full gait cycles per second (Hz)."""
    duty_factor: float = 0.5
    """Fraction of a cycle each foot is in stance (0.5: a trot, one diagonal pair at a time)."""
    swing_height: float = 0.07
    """Peak foot lift in swing (m)."""
    foot_offset_x: float = 0.0
    """Nominal foot x relative to its hip (m); + moves all feet forward."""
    foot_offset_y: float = 0.03
    """Nominal foot y outward of the thigh plane (m). A 3 cm wider stance is what made full-envelope
    combined commands, kp 40 / kd 1, 10 ms sensing delay and sideways pushes survivable at 50 Hz."""
    raibert_gain: tuple[float, float] = (0.15, 0.15)
    """Foot placement feedback (s) along (x, y): touch-down shifts by gain * (measured - commanded) velocity.

    With the wider stance below, 0.15 s survives 0.2 s pushes of 80 N sideways and 120 N fore/aft
    while walking at 0.3 m/s; 0.1 s fell under the 120 N backward push, 0.25 s doubles the ripple."""
    velocity_integral_gain: float = 3.0
    """Integral gain (1/s) on the velocity and yaw-rate error, added to the stride command."""
    velocity_integral_limit: tuple[float, float, float] = (0.3, 0.3, 0.8)
    """Clamp on the integral's contribution to (vx, vy, wz) of the stride (m/s, m/s, rad/s)."""
    levelling_gain: float = 1.0
    """Roll/pitch levelling: foot targets are rotated by gain * measured tilt (1: full correction)."""
    body_mass: float = TOTAL_MASS
    """Mass (kg) carried by the stance legs in the gravity feed-forward."""
    damping_compensation: float = JOINT_DAMPING
    """Viscous joint damping (N m s/rad) to cancel at the desired joint velocities."""
    vx_range: tuple[float, float] = (-0.3, 0.5)
    """Supported forward velocity command (m/s); commands outside are clipped."""
    vy_range: tuple[float, float] = (-0.3, 0.3)
    """Supported lateral velocity command (m/s); commands outside are clipped."""
    wz_range: tuple[float, float] = (-1.0, 1.0)
    """Supported yaw-rate command (rad/s); commands outside are clipped."""
    max_linear_accel: float = 1.0
    """Rate limit on the linear velocity command (m/s^2)."""
    max_yaw_accel: float = 2.0
    """Rate limit on the yaw-rate command (rad/s^2)."""
    stance_blend: float = 0.05
    """Fraction of a stance phase at its start and end where the leg is left out of odometry."""
    yaw_rate_filter_time_constant: float = 0.05
    """Low-pass time constant (s) on the gyro's yaw rate used by the yaw integral."""
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    """Legged-odometry settings."""
    recommended_kp: float = 50.0
    """Position gain (N m/rad) the bridge's motor loop should use with this gait."""
    recommended_kd: float = 2.0
    """Velocity gain (N m s/rad) the bridge's motor loop should use with this gait."""


@dataclass(frozen=True)
class JointTarget:
    """The controller's output in Unitree joint order, for the bridge's PD motor law."""

    q: np.ndarray
    """Position targets (rad), (12,)."""
    dq: np.ndarray
    """Velocity targets (rad/s), (12,)."""
    tau_ff: np.ndarray
    """Feed-forward torque (N m), (12,)."""


def motor_command(target: JointTarget, kp: float, kd: float) -> MotorCommand:
    """The MotorCommand a bridge with gains (kp, kd) applies for `target`."""
    return MotorCommand(
        q=target.q.copy(),
        dq=target.dq.copy(),
        tau=target.tau_ff.copy(),
        kp=np.full(NUM_JOINTS, float(kp)),
        kd=np.full(NUM_JOINTS, float(kd)),
    )


def _rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def roll_pitch(quat_wxyz: np.ndarray) -> tuple[float, float]:
    """Roll and pitch (rad, z-y-x convention) of an orientation quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(quat_wxyz, dtype=np.float64) / np.linalg.norm(quat_wxyz)
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    return roll, pitch


def tilt_matrix(roll: float, pitch: float) -> np.ndarray:
    """Rotation from the base frame to the level, yaw-aligned frame: R_y(pitch) R_x(roll)."""
    return _rot_y(pitch) @ _rot_x(roll)


def nominal_feet(config: GaitConfig) -> np.ndarray:
    """(4, 3) neutral foot centres in the level frame: under the thigh plane at the gait height."""
    feet = HIP_POSITIONS.copy()
    feet[:, 0] += config.foot_offset_x
    feet[:, 1] += SIDE_SIGN * (THIGH_OFFSET_Y + config.foot_offset_y)
    feet[:, 2] = -(config.stand_height - FOOT_RADIUS)
    return feet


class TrotGait:
    """Trot controller; call `update` at the control rate (50 Hz). See the module docstring."""

    def __init__(self, config: GaitConfig | None = None) -> None:
        self.config = config or GaitConfig()
        self.odometry = LegOdometry(self.config.estimator)
        self._nominal = nominal_feet(self.config)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next `update` starts the gait from the feet's measured positions."""
        self.odometry.reset()
        self._t0: float | None = None
        self._last_t: float | None = None
        self._cmd = np.zeros(3)
        self._integral = np.zeros(3)
        self._yaw_rate = 0.0
        self._in_stance = np.ones(4, dtype=bool)
        self._phase_start = np.zeros(4)
        self._feet = self._nominal.copy()  # current foot targets, level frame
        self._liftoff = self._nominal.copy()
        self._touchdown = self._nominal.copy()

    # ------------------------------------------------------------------ diagnostics

    @property
    def command(self) -> np.ndarray:
        """The clipped, rate-limited command (vx, vy, wz) in use."""
        return self._cmd.copy()

    @property
    def velocity_estimate(self) -> np.ndarray:
        """Legged-odometry base velocity, base frame (m/s)."""
        return self.odometry.velocity.copy()

    @property
    def integral(self) -> np.ndarray:
        """Current integral contribution to the stride (vx, vy, wz)."""
        return self._integral.copy()

    # ------------------------------------------------------------------ helpers

    def clip_command(self, cmd_vel: tuple[float, float, float] | np.ndarray) -> np.ndarray:
        """`cmd_vel` clipped to the supported envelope (non-finite values read as 0)."""
        cfg = self.config
        cmd = np.nan_to_num(np.asarray(cmd_vel, dtype=np.float64).reshape(3), nan=0.0, posinf=0.0, neginf=0.0)
        lo = np.array([cfg.vx_range[0], cfg.vy_range[0], cfg.wz_range[0]])
        hi = np.array([cfg.vx_range[1], cfg.vy_range[1], cfg.wz_range[1]])
        return np.clip(cmd, lo, hi)

    def _stance_velocity(self, foot: np.ndarray, stride: np.ndarray) -> np.ndarray:
        """Velocity of a stance foot in the level frame when the base moves with `stride`."""
        vx, vy, wz = stride
        # Foot fixed in the world: it moves at -(v + w x p) relative to the base.
        return np.array([-(vx - wz * foot[1]), -(vy + wz * foot[0]), 0.0])

    def _touchdown_target(self, leg: int, stride: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        cfg = self.config
        stance_time = cfg.duty_factor / cfg.gait_frequency
        nominal = self._nominal[leg]
        # Land half a stance ahead of the neutral point, so stance is centred on it (Raibert),
        # plus feedback on the velocity error.
        ahead = -self._stance_velocity(nominal, stride) * stance_time / 2.0
        feedback = np.asarray(cfg.raibert_gain) * (velocity - self._cmd[:2])
        target = nominal.copy()
        target[:2] += ahead[:2] + feedback
        return target

    # ------------------------------------------------------------------ the controller

    def update(
        self,
        t: float,
        q: np.ndarray,
        dq: np.ndarray,
        imu_quat_wxyz: np.ndarray,
        gyro: np.ndarray,
        cmd_vel: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
    ) -> JointTarget:
        """One control tick at time `t` (s) from the measured joint state and IMU.

        q, dq: (12,) Unitree order; imu_quat_wxyz: base orientation; gyro: base-frame angular
        velocity (rad/s); cmd_vel: (vx, vy, wz) body-frame command, clipped and rate-limited here.
        """
        cfg = self.config
        q = np.asarray(q, dtype=np.float64).reshape(NUM_JOINTS)
        dq = np.asarray(dq, dtype=np.float64).reshape(NUM_JOINTS)
        gyro = np.asarray(gyro, dtype=np.float64).reshape(3)
        roll, pitch = roll_pitch(imu_quat_wxyz)
        tilt = tilt_matrix(roll, pitch)

        first_tick = self._t0 is None
        if first_tick:
            # Start the gait from where the feet are now (level frame), so the first targets hold.
            self._t0 = t
            self._feet = (tilt @ foot_positions(q).T).T
            self._phase_start[:] = t
            dt = cfg.control_dt
        else:
            dt = float(np.clip(t - self._last_t, 1e-4, 0.1))
        self._last_t = t

        # Command shaping: clip to the envelope, then rate-limit.
        target_cmd = self.clip_command(cmd_vel)
        step = np.array([cfg.max_linear_accel, cfg.max_linear_accel, cfg.max_yaw_accel]) * dt
        self._cmd = self._cmd + np.clip(target_cmd - self._cmd, -step, step)

        # Gait schedule.
        phase = ((t - self._t0) * cfg.gait_frequency + PHASE_OFFSETS) % 1.0
        stance = phase < cfg.duty_factor
        stance_progress = np.where(stance, phase / cfg.duty_factor, 0.0)
        if first_tick:
            # First tick: every leg begins its scheduled phase at the measured foot position.
            self._in_stance = stance.copy()
            self._liftoff = self._feet.copy()
            self._touchdown = self._feet.copy()
        odometry_weight = (
            stance & (stance_progress >= cfg.stance_blend) & (stance_progress <= 1.0 - cfg.stance_blend)
        ).astype(np.float64)

        # State estimate: legged odometry and gyro, both turned into the level frame.
        velocity_body = self.odometry.update(q, dq, gyro, odometry_weight, dt, up=tilt[2])
        velocity = (tilt @ velocity_body)[:2]
        alpha = dt / (cfg.yaw_rate_filter_time_constant + dt)
        self._yaw_rate += alpha * ((tilt @ gyro)[2] - self._yaw_rate)

        # L4: clamped integral of the tracking error, added to the stride command.
        error = self._cmd - np.array([velocity[0], velocity[1], self._yaw_rate])
        limit = np.asarray(cfg.velocity_integral_limit)
        self._integral = np.clip(self._integral + cfg.velocity_integral_gain * error * dt, -limit, limit)
        stride = self._cmd + self._integral

        feet_vel = self._advance_feet(t, dt, phase, stance, stride, velocity)
        return self._joint_targets(q, roll, pitch, tilt, stance, feet_vel)

    def _joint_targets(
        self, q: np.ndarray, roll: float, pitch: float, tilt: np.ndarray, stance: np.ndarray, feet_vel: np.ndarray
    ) -> JointTarget:
        """Joint targets for the current level-frame foot targets: levelling, IK and the feed-forward torques."""
        cfg = self.config
        # L3: rotate the level-frame targets by the measured tilt so the low side extends.
        correction = tilt_matrix(cfg.levelling_gain * roll, cfg.levelling_gain * pitch)
        feet_body = (correction @ self._feet.T).T
        feet_vel_body = (correction @ feet_vel.T).T
        q_des = inverse_kinematics(feet_body)
        dq_des = joint_velocities(q_des, feet_vel_body)

        # L1: stance legs push the body's weight (direction of gravity in the base frame).
        n_stance = max(int(stance.sum()), 1)
        push = tilt.T @ np.array([0.0, 0.0, -cfg.body_mass * GRAVITY / n_stance])
        jac = foot_jacobians(q)
        tau_ff = np.where(stance[:, None], np.einsum("lij,i->lj", jac, push), 0.0)
        # L2: cancel the joints' viscous damping at the desired velocities.
        tau_ff = tau_ff + cfg.damping_compensation * dq_des
        return JointTarget(
            q=q_des.reshape(NUM_JOINTS), dq=dq_des.reshape(NUM_JOINTS), tau_ff=tau_ff.reshape(NUM_JOINTS)
        )

    def _advance_feet(
        self, t: float, dt: float, phase: np.ndarray, stance: np.ndarray, stride: np.ndarray, velocity: np.ndarray
    ) -> np.ndarray:
        """Move each leg's foot target to time `t`; returns the targets' level-frame velocities (4, 3)."""
        cfg = self.config
        period = 1.0 / cfg.gait_frequency
        swing_time = (1.0 - cfg.duty_factor) * period
        feet_vel = np.zeros((4, 3))
        for leg in range(len(LEGS)):
            # Time since the current phase (stance or swing) began.
            since = phase[leg] * period if stance[leg] else (phase[leg] - cfg.duty_factor) * period
            changed = stance[leg] != self._in_stance[leg]
            if changed:
                boundary = t - since
                if stance[leg]:
                    # Touch-down: stance continues from the swing's end point.
                    self._feet[leg] = self._touchdown[leg]
                    in_stance_time = since
                else:
                    # Lift-off: finish the stance up to the boundary, then swing from there.
                    before = max(boundary - (t - dt), 0.0)
                    self._feet[leg] += self._stance_velocity(self._feet[leg], stride) * before
                    self._liftoff[leg] = self._feet[leg].copy()
                self._in_stance[leg] = stance[leg]
                self._phase_start[leg] = boundary
            elif stance[leg]:
                in_stance_time = dt
            if stance[leg]:
                vel = self._stance_velocity(self._feet[leg], stride)
                self._feet[leg] += vel * in_stance_time
                # Height: back to the gait height, in case the start pose differed.
                self._feet[leg, 2] += 0.5 * (self._nominal[leg, 2] - self._feet[leg, 2])
                feet_vel[leg] = vel
            else:
                self._touchdown[leg] = self._touchdown_target(leg, stride, velocity)
                s = min(since / swing_time, 1.0)
                start, end = self._liftoff[leg], self._touchdown[leg]
                # Cycloid: zero velocity at lift-off and touch-down, smooth in between.
                shape = s - math.sin(2 * math.pi * s) / (2 * math.pi)
                shape_rate = (1.0 - math.cos(2 * math.pi * s)) / swing_time
                lift = 0.5 * (1.0 - math.cos(2 * math.pi * s))
                lift_rate = math.pi * math.sin(2 * math.pi * s) / swing_time
                self._feet[leg, :2] = start[:2] + (end[:2] - start[:2]) * shape
                self._feet[leg, 2] = start[2] + (end[2] - start[2]) * shape + cfg.swing_height * lift
                feet_vel[leg, :2] = (end[:2] - start[:2]) * shape_rate
                feet_vel[leg, 2] = (end[2] - start[2]) * shape_rate + cfg.swing_height * lift_rate
        return feet_vel
