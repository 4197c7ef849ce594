"""What a backend's motor loop applies: per-joint PD targets plus feed-forward torque.

Every backend (simulator, real Go2) runs the same law at its own rate:

    tau = kp * (q_des - q) + kd * (dq_des - dq) + tau_ff,   clipped to the torque limits

A command from the locomotion controller arrives at 50 Hz while the motor loop runs at 500 Hz or
more; between commands the position target moves along the commanded joint velocity
(`extrapolate`), so a trot's targets are not a staircase. This is the same convention as
Unitree's LowCmd (q, dq, tau, kp, kd per motor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from fog_contract.go2 import NUM_JOINTS, TORQUE_LIMITS


def _zeros() -> np.ndarray:
    return np.zeros(NUM_JOINTS)


@dataclass
class MotorCommand:
    """Per-joint PD set-point in Unitree joint order (arrays of 12)."""

    q: np.ndarray = field(default_factory=_zeros)
    """Position targets (rad)."""
    dq: np.ndarray = field(default_factory=_zeros)
    """Velocity targets (rad/s); also used to move `q` between commands."""
    tau: np.ndarray = field(default_factory=_zeros)
    """Feed-forward torque (N m)."""
    kp: np.ndarray = field(default_factory=_zeros)
    """Position gains (N m/rad). Zero with zero kd and tau is 'zero torque'."""
    kd: np.ndarray = field(default_factory=_zeros)
    """Velocity gains (N m s/rad). kp = 0 with kd > 0 is 'damping'."""

    @staticmethod
    def zero_torque() -> MotorCommand:
        return MotorCommand()

    @staticmethod
    def damping(kd: float) -> MotorCommand:
        return MotorCommand(kd=np.full(NUM_JOINTS, float(kd)))

    def copy(self) -> MotorCommand:
        return MotorCommand(self.q.copy(), self.dq.copy(), self.tau.copy(), self.kp.copy(), self.kd.copy())


def extrapolate(cmd: MotorCommand, dt: float, max_dt: float = 0.05) -> MotorCommand:
    """The command `dt` seconds after it was issued: q moves along dq, for at most `max_dt`."""
    if dt <= 0.0 or not np.any(cmd.dq):
        return cmd
    out = cmd.copy()
    out.q = cmd.q + cmd.dq * min(dt, max_dt)
    return out


def pd_torque(cmd: MotorCommand, q: np.ndarray, dq: np.ndarray, limits: np.ndarray = TORQUE_LIMITS) -> np.ndarray:
    """The motor law above, clipped to the torque limits."""
    tau = cmd.kp * (cmd.q - q) + cmd.kd * (cmd.dq - dq) + cmd.tau
    return np.clip(tau, -limits, limits)
