"""Proprioceptive features by name, exactly as the dataset converter builds them.

A policy artifact lists the features it was trained on (`observation.proprio.names`); the policy
node builds that vector from joint_states and imu/data, the dataset converter from the same topics
in a bag. Names:

  joint_pos.<joint>, joint_vel.<joint>   joint position (rad), velocity (rad/s) by joint name
  gravity.x|y|z                          unit gravity vector in the IMU frame (from orientation)
  gyro.x|y|z                             IMU angular velocity (rad/s)

training/tests/unit/data/test_bag_messages.py checks that this and `fog dataset` agree on the same data.
"""

from __future__ import annotations

import numpy as np

from fog_contract.go2 import JOINT_NAMES

AXES = {"x": 0, "y": 1, "z": 2}

PROPRIO_NAMES: tuple[str, ...] = (
    tuple(f"joint_pos.{j}" for j in JOINT_NAMES)
    + tuple(f"joint_vel.{j}" for j in JOINT_NAMES)
    + ("gravity.x", "gravity.y", "gravity.z", "gyro.x", "gyro.y", "gyro.z")
)
"""The features `fog dataset` stores for the Go2, in this order."""


def gravity_in_imu_frame(quat_wxyz, accel=None) -> np.ndarray:
    """Unit gravity (0, 0, -1) of the world expressed in the IMU frame, from the orientation; for an
    IMU that gives none (zero quaternion), from the accelerometer (-accel / |accel|) when given."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    n = np.sqrt(w * w + x * x + y * y + z * z)
    if n < 1e-6:
        a = None if accel is None else np.asarray(accel, np.float64)
        if a is not None and np.linalg.norm(a) > 1e-6:
            return -a / np.linalg.norm(a)
        return np.array([0.0, 0.0, -1.0])
    w, x, y, z = w / n, x / n, y / n, z / n
    # third row of R^T (world -> IMU) times -1: R^T @ (0, 0, -1) = -(R[2, :])
    return -np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])


def check_names(names) -> None:
    """Raise ValueError naming the first feature this module cannot build."""
    for name in names:
        kind, _, key = name.partition(".")
        if kind in ("joint_pos", "joint_vel") and key:
            continue
        if kind in ("gravity", "gyro") and key in AXES:
            continue
        raise ValueError(
            f"unknown proprio feature {name!r} (known: joint_pos.<joint>, joint_vel.<joint>, gravity.x|y|z, gyro.x|y|z)"
        )


def proprio_vector(names, joint_index: dict[str, int], q, dq, quat_wxyz, gyro, accel=None) -> np.ndarray:
    """The features `names` from joint arrays (indexed by `joint_index[name]`) and the IMU."""
    g = gravity_in_imu_frame(quat_wxyz, accel)
    out = np.empty(len(names), dtype=np.float32)
    for i, name in enumerate(names):
        kind, _, key = name.partition(".")
        if kind == "joint_pos":
            out[i] = q[joint_index[key]]
        elif kind == "joint_vel":
            out[i] = dq[joint_index[key]]
        elif kind == "gravity":
            out[i] = g[AXES[key]]
        elif kind == "gyro":
            out[i] = gyro[AXES[key]]
        else:
            raise ValueError(f"unknown proprio feature {name!r}")
    return out


UPRIGHT_FORMULA = "-|gravity_xy| - 0.01 * mean(joint_vel^2)"


def upright_reward(proprio: np.ndarray) -> np.ndarray:
    """The proprio-only reward (`fog dataset --reward-source proprio`): stay upright, move smoothly,
    ``-|gravity_xy| - 0.01 * mean(joint_vel^2)`` on the NEXT step's PROPRIO_NAMES features (the last
    step uses its own). ``proprio``: [T, len(PROPRIO_NAMES)]."""
    v0 = PROPRIO_NAMES.index(f"joint_vel.{JOINT_NAMES[0]}")
    gx = PROPRIO_NAMES.index("gravity.x")
    nxt = np.concatenate([proprio[1:], proprio[-1:]], axis=0)
    tilt = np.linalg.norm(nxt[:, gx : gx + 2], axis=1)
    return -tilt - 0.01 * np.mean(nxt[:, v0 : v0 + len(JOINT_NAMES)] ** 2, axis=1)
