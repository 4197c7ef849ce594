"""The Unitree Go2 low-level interface (`rt/lowcmd`, `rt/lowstate`) as pure functions.

The Go2 bridge and the fake Go2 both go through this module, so the wire format is defined once:

    lowstate_arrays(LowState_)            -> Go2LowState (our joint order, numpy arrays)
    fill_lowcmd(LowCmd_, MotorCommand)    -> LowCmd_ fields, then stamp_crc(cmd)
    lowcmd_arrays(LowCmd_)                -> MotorCommand (what the motors were told)
    fill_lowstate(LowState_, ...)         -> what a (fake) robot reports

Joint order: our JOINT_NAMES (FR, FL, RR, RL x hip, thigh, calf) are matched to Unitree's motor
indices by name through Unitree's own table (`UNITREE_LEG_ID`, as in the SDK's
`unitree_go2_const.LegID`: "FR_0" is the front-right hip, "_1" the thigh, "_2" the calf), never by
position. The two orders happen to agree; the mapping is still checked joint by joint.

Motor fields follow Unitree's examples: every command carries head 0xFE 0xEF, level_flag 0xFF
(low level), motor mode 0x01 (servo); a motor without a position loop (kp = 0) gets the "stop"
position PosStopF and one without a velocity loop (kd = 0) the "stop" velocity VelStopF, which is
how the SDK's examples initialise a LowCmd_. So zero torque is kp = kd = tau = 0 and damping is
kp = 0, kd > 0, dq = 0. The CRC is the SDK's (`unitree_sdk2py.utils.crc.CRC`), on every command.

Needs only numpy and the SDK's IDL types (no rclpy), so everything here is unit-tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from fog_contract.go2 import JOINT_KINDS, JOINT_NAMES, LEGS, NUM_JOINTS

from quadruped_bridge.motor_command import MotorCommand

if TYPE_CHECKING:  # the SDK is imported lazily: the pure mapping works without it
    from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

UNITREE_LEG_ID: dict[str, int] = {
    "FR_0": 0, "FR_1": 1, "FR_2": 2,
    "FL_0": 3, "FL_1": 4, "FL_2": 5,
    "RR_0": 6, "RR_1": 7, "RR_2": 8,
    "RL_0": 9, "RL_1": 10, "RL_2": 11,
}
"""Unitree's motor index per motor name (the SDK's unitree_go2_const.LegID): leg, then 0 hip, 1 thigh, 2 calf."""

UNITREE_KIND_SUFFIX = {"hip": 0, "thigh": 1, "calf": 2}
NUM_MOTOR_SLOTS = 20
"""LowCmd_/LowState_ carry 20 motor slots; the Go2 uses the first 12."""
HEAD = (0xFE, 0xEF)
LEVEL_LOWLEVEL = 0xFF
MOTOR_MODE_SERVO = 0x01
POS_STOP_F = 2.146e9
"""Position target that disables the motor's position loop (Unitree's PosStopF)."""
VEL_STOP_F = 16000.0
"""Velocity target that disables the motor's velocity loop (Unitree's VelStopF)."""
DEFAULT_ROBOT_DOMAIN = 0
"""The DDS domain the real Go2 talks on."""


def unitree_motor_name(joint_name: str) -> str:
    """'FR_hip_joint' -> 'FR_0' (Unitree's motor name); refuses names that are not Go2 joints."""
    parts = joint_name.split("_")
    if len(parts) != 3 or parts[0] not in LEGS or parts[1] not in JOINT_KINDS or parts[2] != "joint":
        raise ValueError(f"{joint_name!r} is not a Go2 joint name (expected e.g. 'FR_hip_joint')")
    return f"{parts[0]}_{UNITREE_KIND_SUFFIX[parts[1]]}"


def motor_indices(joint_names=JOINT_NAMES, leg_id: dict[str, int] = UNITREE_LEG_ID) -> np.ndarray:
    """Unitree motor index of each joint, matched by name; checks the map is one-to-one onto 0..11."""
    idx = np.array([leg_id[unitree_motor_name(n)] for n in joint_names], dtype=np.int64)
    if len(idx) != NUM_JOINTS or sorted(idx.tolist()) != list(range(NUM_JOINTS)):
        raise ValueError(f"joint -> motor map is not one-to-one onto 0..{NUM_JOINTS - 1}: {idx.tolist()}")
    return idx


MOTOR_INDEX = motor_indices()
"""MOTOR_INDEX[j] is the Unitree motor index of JOINT_NAMES[j]."""


def check_dds_domain(domain_id: int, real_robot: bool) -> None:
    """Refuse the robot's domain unless the operator said this is the real robot (and vice versa)."""
    if not 0 <= domain_id <= 232:
        raise ValueError(f"DDS domain id must be in [0, 232], got {domain_id}")
    if domain_id == DEFAULT_ROBOT_DOMAIN and not real_robot:
        raise ValueError(
            "refusing to start on DDS domain 0, the real Go2's domain: set real_robot:=true when this is "
            "the real robot, or use a private dds_domain_id for a fake or simulated one")


def quat_to_roll_pitch(quat_wxyz) -> tuple[float, float]:
    """Roll and pitch (rad, z-y-x convention) of a unit quaternion (w, x, y, z)."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if n == 0.0 or not math.isfinite(n):
        return math.nan, math.nan
    w, x, y, z = w / n, x / n, y / n, z / n
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    return roll, pitch


# ----------------------------------------------------------------------------------- state
@dataclass
class Go2LowState:
    """One LowState_ in our joint order."""

    q: np.ndarray
    """Joint positions (rad), (12,)."""
    dq: np.ndarray
    """Joint velocities (rad/s), (12,)."""
    tau: np.ndarray
    """Estimated joint torques (N m), (12,)."""
    temperature: np.ndarray
    """Motor temperatures (deg C), (12,)."""
    imu_quat: np.ndarray
    """IMU orientation (w, x, y, z)."""
    gyro: np.ndarray
    """IMU angular velocity (rad/s)."""
    accel: np.ndarray
    """IMU specific force (m/s^2)."""
    foot_force: np.ndarray
    """Foot contact sensors (raw), legs FR, FL, RR, RL."""
    tick: int
    """The robot's millisecond tick."""
    power_v: float
    """Battery voltage (V)."""

    @property
    def roll_pitch(self) -> tuple[float, float]:
        return quat_to_roll_pitch(self.imu_quat)


def lowstate_arrays(msg: LowState_, idx: np.ndarray = MOTOR_INDEX) -> Go2LowState:
    motors = [msg.motor_state[int(i)] for i in idx]
    imu = msg.imu_state
    return Go2LowState(
        q=np.array([m.q for m in motors], dtype=np.float64),
        dq=np.array([m.dq for m in motors], dtype=np.float64),
        tau=np.array([m.tau_est for m in motors], dtype=np.float64),
        temperature=np.array([m.temperature for m in motors], dtype=np.float64),
        imu_quat=np.array(imu.quaternion, dtype=np.float64),
        gyro=np.array(imu.gyroscope, dtype=np.float64),
        accel=np.array(imu.accelerometer, dtype=np.float64),
        foot_force=np.array(msg.foot_force, dtype=np.float64),
        tick=int(msg.tick),
        power_v=float(msg.power_v),
    )


def new_lowstate() -> LowState_:
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowState_

    msg = unitree_go_msg_dds__LowState_()
    msg.head = list(HEAD)
    msg.level_flag = LEVEL_LOWLEVEL
    return msg


def fill_lowstate(msg: LowState_, q, dq, tau, imu_quat, gyro, accel, tick: int,
                  idx: np.ndarray = MOTOR_INDEX) -> LowState_:
    """Write joint arrays (our order) and IMU readings into a LowState_ (what the robot reports)."""
    rpy = (*quat_to_roll_pitch(imu_quat), 0.0)
    for j, i in enumerate(idx):
        m = msg.motor_state[int(i)]
        m.mode = MOTOR_MODE_SERVO
        m.q, m.dq, m.tau_est = float(q[j]), float(dq[j]), float(tau[j])
        m.q_raw, m.dq_raw = m.q, m.dq
        m.temperature = 30
    imu = msg.imu_state
    imu.quaternion = [float(v) for v in imu_quat]
    imu.gyroscope = [float(v) for v in gyro]
    imu.accelerometer = [float(v) for v in accel]
    imu.rpy = [float(v) for v in rpy]
    msg.tick = int(tick) & 0xFFFFFFFF
    return msg


# --------------------------------------------------------------------------------- command
def new_lowcmd() -> LowCmd_:
    """A LowCmd_ with Unitree's safe initial values: low level, servo mode, no loops, no torque."""
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_

    cmd = unitree_go_msg_dds__LowCmd_()
    cmd.head = list(HEAD)
    cmd.level_flag = LEVEL_LOWLEVEL
    cmd.gpio = 0
    for m in cmd.motor_cmd:
        m.mode = MOTOR_MODE_SERVO
        m.q, m.dq, m.tau, m.kp, m.kd = POS_STOP_F, VEL_STOP_F, 0.0, 0.0, 0.0
    return cmd


def fill_lowcmd(cmd: LowCmd_, motor: MotorCommand, idx: np.ndarray = MOTOR_INDEX) -> LowCmd_:
    """Write a MotorCommand (our joint order) into the 12 Go2 motor slots; the CRC is not set here."""
    q, dq, tau, kp, kd = motor.q, motor.dq, motor.tau, motor.kp, motor.kd
    for j, i in enumerate(idx):
        m = cmd.motor_cmd[int(i)]
        m.mode = MOTOR_MODE_SERVO
        kp_j, kd_j = float(kp[j]), float(kd[j])
        m.kp, m.kd, m.tau = kp_j, kd_j, float(tau[j])
        m.q = float(q[j]) if kp_j != 0.0 else POS_STOP_F
        m.dq = float(dq[j]) if kd_j != 0.0 else VEL_STOP_F
    return cmd


class LowCmdPacker:
    """fill_lowcmd + stamp_crc for a 500 Hz loop: arrays in, the LowCmd_ with its CRC out.

    The motor fields are written from lists (float32-rounded, as they go on the wire) and the CRC
    comes from precomputed tables (quadruped_bridge.go2_crc), folding in only the 12 motors'
    fields: the same CRC as the SDK's, at a fraction of its cost. Every other field of the message
    must stay as new_lowcmd() left it (the template of the CRC).
    """

    def __init__(self, cmd: LowCmd_ | None = None, idx: np.ndarray = MOTOR_INDEX):
        from quadruped_bridge.go2_crc import LowCmdCrc

        self.cmd = cmd if cmd is not None else new_lowcmd()
        self.order = np.argsort(idx)  # joint of motor slot 0, 1, ... 11
        self.crc = LowCmdCrc(self.cmd, slots=range(NUM_JOINTS))
        self.motors = [self.cmd.motor_cmd[s] for s in range(NUM_JOINTS)]

    def pack(self, motor: MotorCommand) -> LowCmd_:
        o = self.order
        kp, kd = motor.kp[o], motor.kd[o]
        fields = np.stack([np.where(kp != 0.0, motor.q[o], POS_STOP_F), np.where(kd != 0.0, motor.dq[o], VEL_STOP_F),
                           motor.tau[o], kp, kd]).astype(np.float32)
        for m, q, dq, tau, kp_j, kd_j in zip(self.motors, *fields.astype(np.float64).tolist()):
            m.mode = MOTOR_MODE_SERVO
            m.q, m.dq, m.tau, m.kp, m.kd = q, dq, tau, kp_j, kd_j
        self.cmd.crc = self.crc.crc(*fields)
        return self.cmd


def lowstate_crc_valid(msg: LowState_) -> bool:
    """The SDK's CRC check of a LowState_, through the precomputed tables (one struct pack)."""
    from quadruped_bridge.go2_crc import lowstate_crc

    return int(msg.crc) == lowstate_crc(msg)


def lowcmd_arrays(cmd: LowCmd_, idx: np.ndarray = MOTOR_INDEX) -> MotorCommand:
    """The MotorCommand (our joint order) a LowCmd_ asks of the 12 motors.

    A "stop" target (PosStopF / VelStopF) becomes 0: it only appears with a zero gain, where the
    target does not enter the motor law.
    """
    motors = [cmd.motor_cmd[int(i)] for i in idx]
    q = np.array([m.q for m in motors], dtype=np.float64)
    dq = np.array([m.dq for m in motors], dtype=np.float64)
    q[np.abs(q) >= POS_STOP_F * 0.999] = 0.0
    dq[np.abs(dq) >= VEL_STOP_F * 0.999] = 0.0
    return MotorCommand(
        q=q, dq=dq,
        tau=np.array([m.tau for m in motors], dtype=np.float64),
        kp=np.array([m.kp for m in motors], dtype=np.float64),
        kd=np.array([m.kd for m in motors], dtype=np.float64),
    )


# ------------------------------------------------------------------------------------- CRC
_crc = None


def _crc_helper():
    global _crc
    if _crc is None:
        from unitree_sdk2py.utils.crc import CRC

        _crc = CRC()
    return _crc


def compute_crc(msg) -> int:
    """The SDK's CRC32 of a LowCmd_ or LowState_ (over every field but the CRC itself)."""
    return int(_crc_helper().Crc(msg))


def stamp_crc(msg):
    msg.crc = compute_crc(msg)
    return msg


def crc_valid(msg) -> bool:
    return int(msg.crc) == compute_crc(msg)
