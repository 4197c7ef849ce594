"""Analytic kinematics of the Go2's 3-DoF legs in the base frame, vectorised over the 4 legs.

Each leg: hip abduction about the base x axis at the hip position, then a sideways offset
(THIGH_OFFSET_Y, +y on left legs, -y on right legs) to the thigh plane, thigh pitch about y, knee
(calf) pitch about y, and the foot centre at (FOOT_OFFSET_X, 0, -CALF_LENGTH) in the calf frame.
Signs match the MJCF and the real robot: +thigh swings the foot backwards, the calf angle is
negative (knee bends backwards), +abduction moves the foot towards +y.

Arrays are in Unitree leg order (FR, FL, RR, RL): joint angles shape (4, 3) or (12,), foot
positions (4, 3), Jacobians (4, 3, 3) with J[leg] = d foot[leg] / d q[leg].
"""

from __future__ import annotations

import numpy as np
from fog_contract.go2 import (
    CALF_LENGTH,
    FOOT_OFFSET_X,
    JOINT_LOWER,
    JOINT_UPPER,
    LEG_SIGN_Y,
    LEGS,
    THIGH_LENGTH,
    THIGH_OFFSET_Y,
    hip_position,
)

HIP_POSITIONS = np.stack([hip_position(leg) for leg in LEGS])
"""(4, 3) abduction-joint positions in the base frame."""

SIDE_SIGN = np.array([LEG_SIGN_Y[leg] for leg in LEGS])
"""(4,) +1 for left legs, -1 for right legs."""

# The foot sits slightly behind the calf axis: treat the calf as a straight link of length
# CALF_EFFECTIVE at a fixed angle offset, so the 2-link IK stays closed-form and exact.
CALF_EFFECTIVE = float(np.hypot(CALF_LENGTH, FOOT_OFFSET_X))
CALF_ANGLE_OFFSET = float(np.arctan2(-FOOT_OFFSET_X, CALF_LENGTH))

_LOWER = JOINT_LOWER.reshape(4, 3)
_UPPER = JOINT_UPPER.reshape(4, 3)


def _legs(q: np.ndarray) -> np.ndarray:
    return np.asarray(q, dtype=np.float64).reshape(4, 3)


def _sagittal(thigh: np.ndarray, calf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foot (x, z) in the thigh plane, relative to the thigh joint."""
    knee = calf + CALF_ANGLE_OFFSET
    x = -THIGH_LENGTH * np.sin(thigh) - CALF_EFFECTIVE * np.sin(thigh + knee)
    z = -THIGH_LENGTH * np.cos(thigh) - CALF_EFFECTIVE * np.cos(thigh + knee)
    return x, z


def foot_positions(q: np.ndarray) -> np.ndarray:
    """(4, 3) foot-centre positions in the base frame for joint angles `q` ((12,) or (4, 3))."""
    q = _legs(q)
    abd, thigh, calf = q[:, 0], q[:, 1], q[:, 2]
    x, z = _sagittal(thigh, calf)
    side = SIDE_SIGN * THIGH_OFFSET_Y
    ca, sa = np.cos(abd), np.sin(abd)
    rel = np.stack([x, side * ca - z * sa, side * sa + z * ca], axis=-1)
    return HIP_POSITIONS + rel


def foot_jacobians(q: np.ndarray) -> np.ndarray:
    """(4, 3, 3) Jacobians d foot / d (hip, thigh, calf) per leg, base frame."""
    q = _legs(q)
    abd, thigh, calf = q[:, 0], q[:, 1], q[:, 2]
    knee = calf + CALF_ANGLE_OFFSET
    _, z = _sagittal(thigh, calf)
    side = SIDE_SIGN * THIGH_OFFSET_Y
    ca, sa = np.cos(abd), np.sin(abd)
    dx_dt = -THIGH_LENGTH * np.cos(thigh) - CALF_EFFECTIVE * np.cos(thigh + knee)
    dz_dt = THIGH_LENGTH * np.sin(thigh) + CALF_EFFECTIVE * np.sin(thigh + knee)
    dx_dc = -CALF_EFFECTIVE * np.cos(thigh + knee)
    dz_dc = CALF_EFFECTIVE * np.sin(thigh + knee)
    jac = np.zeros((4, 3, 3))
    # d/d abduction: derivative of the x-rotation applied to (x, side, z).
    jac[:, 1, 0] = -side * sa - z * ca
    jac[:, 2, 0] = side * ca - z * sa
    # d/d thigh and d/d calf: sagittal derivatives rotated by the abduction.
    for col, (dx, dz) in ((1, (dx_dt, dz_dt)), (2, (dx_dc, dz_dc))):
        jac[:, 0, col] = dx
        jac[:, 1, col] = -dz * sa
        jac[:, 2, col] = dz * ca
    return jac


def _reach_limits() -> tuple[float, float]:
    """Shortest and longest thigh-joint-to-foot distance the calf range allows."""
    knee_lo = _LOWER[0, 2] + CALF_ANGLE_OFFSET
    knee_hi = _UPPER[0, 2] + CALF_ANGLE_OFFSET

    def dist(knee: float) -> float:
        return float(np.sqrt(THIGH_LENGTH**2 + CALF_EFFECTIVE**2 + 2 * THIGH_LENGTH * CALF_EFFECTIVE * np.cos(knee)))

    return dist(knee_lo), dist(knee_hi)


REACH_MIN, REACH_MAX = _reach_limits()
"""Thigh-joint-to-foot distance range (m) allowed by the calf joint limits."""


def inverse_kinematics(feet: np.ndarray) -> np.ndarray:
    """(4, 3) joint angles placing each foot centre at `feet` ((4, 3), base frame).

    Exact for reachable points (knee bent backwards, foot below the hip). Unreachable points are
    clamped: the foot distance from the thigh joint is limited to the calf's range, a point closer
    to the abduction axis than the thigh offset is pushed out to it, and the angles are clipped
    to the joint limits.
    """
    rel = np.asarray(feet, dtype=np.float64).reshape(4, 3) - HIP_POSITIONS
    px, py, pz = rel[:, 0], rel[:, 1], rel[:, 2]
    side = SIDE_SIGN * THIGH_OFFSET_Y
    # Abduction: (py, pz) = Rx(abd) (side, z_leg) with z_leg < 0 the leg's length in its plane.
    r_yz = np.maximum(np.hypot(py, pz), THIGH_OFFSET_Y + 1e-6)
    z_leg = -np.sqrt(r_yz**2 - THIGH_OFFSET_Y**2)
    abd = np.arctan2(pz, py) - np.arctan2(z_leg, side)
    abd = (abd + np.pi) % (2 * np.pi) - np.pi
    # Sagittal 2-link problem for (px, z_leg), distance clamped to the knee's range.
    dist = np.hypot(px, z_leg)
    scale = np.clip(dist, REACH_MIN, REACH_MAX) / np.maximum(dist, 1e-9)
    x_s, z_s = px * scale, z_leg * scale
    dist = np.hypot(x_s, z_s)
    cos_knee = (dist**2 - THIGH_LENGTH**2 - CALF_EFFECTIVE**2) / (2 * THIGH_LENGTH * CALF_EFFECTIVE)
    knee = -np.arccos(np.clip(cos_knee, -1.0, 1.0))
    # (-x, -z) = (A + iB) e^{i thigh} in complex form, A = L1 + L2 cos knee, B = L2 sin knee.
    a_term = THIGH_LENGTH + CALF_EFFECTIVE * np.cos(knee)
    b_term = CALF_EFFECTIVE * np.sin(knee)
    thigh = np.arctan2(-x_s, -z_s) - np.arctan2(b_term, a_term)
    calf = knee - CALF_ANGLE_OFFSET
    q = np.stack([abd, thigh, calf], axis=-1)
    return np.clip(q, _LOWER, _UPPER)


def joint_velocities(q: np.ndarray, foot_velocities: np.ndarray, damping: float = 1e-6) -> np.ndarray:
    """(4, 3) joint velocities giving the foot velocities ((4, 3), base frame) at `q`.

    Damped least squares, so a leg near full extension asks for large but finite joint speeds.
    """
    jac = foot_jacobians(q)
    jt = np.transpose(jac, (0, 2, 1))
    lhs = jt @ jac + damping * np.eye(3)
    rhs = jt @ np.asarray(foot_velocities, dtype=np.float64).reshape(4, 3, 1)
    return np.linalg.solve(lhs, rhs)[..., 0]
