"""Unitree Go2: joint order, limits, kinematic and inertial figures; the cmd_vel command space.

One source of truth for every backend (simulator, real robot, bag replay), the locomotion
controller, the dataset converter and the exported policies. Figures are Unitree's published ones
(Unitree's URDF and MuJoCo Menagerie's `unitree_go2`); the joint order is
Unitree's SDK order:
legs FR, FL, RR, RL, each (hip, thigh, calf).
"""

from __future__ import annotations

import numpy as np

LEGS: tuple[str, ...] = ("FR", "FL", "RR", "RL")
"""Leg prefixes in Unitree SDK order."""

JOINT_KINDS: tuple[str, ...] = ("hip", "thigh", "calf")

JOINT_NAMES: tuple[str, ...] = tuple(f"{leg}_{kind}_joint" for leg in LEGS for kind in JOINT_KINDS)
"""The 12 joint names in Unitree order: FR_hip_joint, FR_thigh_joint, FR_calf_joint, FL_..."""

NUM_JOINTS = len(JOINT_NAMES)

# Leg geometry (metres). Signs per leg: x forward (+front), y left (+left).
LEG_SIGN_X = {"FR": 1.0, "FL": 1.0, "RR": -1.0, "RL": -1.0}
LEG_SIGN_Y = {"FR": -1.0, "FL": 1.0, "RR": -1.0, "RL": 1.0}
HIP_OFFSET_X = 0.1934
HIP_OFFSET_Y = 0.0465
THIGH_OFFSET_Y = 0.0955  # hip-abduction axis to thigh plane, sideways
THIGH_LENGTH = 0.213
CALF_LENGTH = 0.213
FOOT_RADIUS = 0.022
FOOT_OFFSET_X = -0.002  # the foot sphere's centre sits 2 mm behind the calf axis, in the calf frame

# Masses (kg) of the stock model; total 15.206 kg.
MASS_BASE = 6.921
MASS_HIP = 0.678
MASS_THIGH = 1.152
MASS_CALF = 0.241
TOTAL_MASS = MASS_BASE + 4 * (MASS_HIP + MASS_THIGH + MASS_CALF)

# Joint position limits (rad), per joint kind; the thigh differs front/rear.
HIP_LIMITS = (-1.0472, 1.0472)
FRONT_THIGH_LIMITS = (-1.5708, 3.4907)
REAR_THIGH_LIMITS = (-0.5236, 4.5379)
CALF_LIMITS = (-2.7227, -0.83776)

# Torque limits (N m).
HIP_TORQUE = 23.7
THIGH_TORQUE = 23.7
CALF_TORQUE = 45.43

# Joint velocity limit used by the safety layer (rad/s); Go2 motors reach ~30 rad/s.
JOINT_VELOCITY_LIMIT = 30.0

# Passive joint dynamics of the stock model.
JOINT_DAMPING = 2.0
JOINT_ARMATURE = 0.01
JOINT_FRICTIONLOSS = 0.2


def _per_joint(hip, thigh_front, thigh_rear, calf):
    out = []
    for leg in LEGS:
        front = LEG_SIGN_X[leg] > 0
        out.extend([hip, thigh_front if front else thigh_rear, calf])
    return np.array(out, dtype=np.float64)


JOINT_LOWER = _per_joint(HIP_LIMITS[0], FRONT_THIGH_LIMITS[0], REAR_THIGH_LIMITS[0], CALF_LIMITS[0])
JOINT_UPPER = _per_joint(HIP_LIMITS[1], FRONT_THIGH_LIMITS[1], REAR_THIGH_LIMITS[1], CALF_LIMITS[1])
TORQUE_LIMITS = _per_joint(HIP_TORQUE, THIGH_TORQUE, THIGH_TORQUE, CALF_TORQUE)

STAND_POSE = np.tile(np.array([0.0, 0.9, -1.8]), 4)
"""Default standing pose (rad) in Unitree order; base height about 0.27 m."""

LIE_POSE = np.tile(np.array([0.0, 1.36, -2.65]), 4)
"""Lying-down pose (rad), within limits: the pose the robot is in before a soft start."""

STAND_HEIGHT = 0.27

# The Go2 front camera: on the head, ~0.28 m ahead of the base origin, looking forward.
CAMERA_POS = (0.29, 0.0, 0.04)
CAMERA_FOVY_DEG = 80.0


def hip_position(leg: str) -> np.ndarray:
    """Position of a leg's abduction joint in the base frame."""
    return np.array([LEG_SIGN_X[leg] * HIP_OFFSET_X, LEG_SIGN_Y[leg] * HIP_OFFSET_Y, 0.0])


def leg_slice(leg: str) -> slice:
    """Indices of a leg's three joints in Unitree order."""
    i = LEGS.index(leg)
    return slice(3 * i, 3 * i + 3)


CMD_NAMES: tuple[str, ...] = ("vx", "vy", "yaw_rate")
"""The cmd_vel command a policy outputs: forward (m/s), left (m/s), yaw rate (rad/s)."""
CMD_LOW: tuple[float, ...] = (-0.3, -0.3, -1.0)
CMD_HIGH: tuple[float, ...] = (0.5, 0.3, 1.0)
"""Bounds of the cmd_vel policies (what the trot gait follows well)."""
