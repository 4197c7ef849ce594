"""Conversions between numpy data and the contract's standard ROS messages.

Every backend (simulator, Go2, bag replay) and the deploy nodes build and read messages through
these functions, so encodings, frames and joint order are the same everywhere. No rclpy node
here: only message classes, so this is unit-testable without DDS.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, TwistStamped
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState

CAMERA_FRAME = "camera_optical_frame"
BASE_FRAME = "base_link"
WORLD_FRAME = "world"

DIAG_LEVEL = {
    "OK": DiagnosticStatus.OK,
    "WARN": DiagnosticStatus.WARN,
    "ERROR": DiagnosticStatus.ERROR,
    "STALE": DiagnosticStatus.STALE,
}


def to_stamp(t: float) -> Time:
    sec = math.floor(t)
    nanosec = int(round((t - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=int(sec), nanosec=nanosec)


def from_stamp(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def clock_msg(t: float) -> Clock:
    return Clock(clock=to_stamp(t))


def joint_state_msg(t: float, names, q, dq=None, tau=None) -> JointState:
    msg = JointState()
    msg.header.stamp = to_stamp(t)
    msg.name = list(names)
    msg.position = np.asarray(q, dtype=np.float64).tolist()
    if dq is not None:
        msg.velocity = np.asarray(dq, dtype=np.float64).tolist()
    if tau is not None:
        msg.effort = np.asarray(tau, dtype=np.float64).tolist()
    return msg


def imu_msg(t: float, quat_wxyz, gyro, accel, frame_id: str = "imu_link") -> Imu:
    msg = Imu()
    msg.header.stamp = to_stamp(t)
    msg.header.frame_id = frame_id
    w, x, y, z = (float(v) for v in quat_wxyz)
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = w, x, y, z
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = (float(v) for v in gyro)
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = (float(v) for v in accel)
    return msg


def imu_arrays(msg: Imu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(quaternion w,x,y,z; gyro; accel) of an Imu message."""
    o, g, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    return np.array([o.w, o.x, o.y, o.z]), np.array([g.x, g.y, g.z]), np.array([a.x, a.y, a.z])


def image_msg(t: float, rgb: np.ndarray, frame_id: str = CAMERA_FRAME) -> Image:
    """An rgb8 Image from a uint8 (H, W, 3) array."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"image must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    msg = Image()
    msg.header.stamp = to_stamp(t)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg


def image_array(msg: Image) -> np.ndarray:
    """uint8 (H, W, 3) RGB from an rgb8 or bgr8 Image; other encodings are refused by name."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"image encoding {msg.encoding!r} not supported (expected rgb8 or bgr8)")
    buf = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, (bytes, bytearray)) else msg.data, np.uint8)
    if msg.step < msg.width * 3 or buf.size != msg.step * msg.height:
        raise ValueError(f"image data has {buf.size} bytes, expected step {msg.step} x height {msg.height}")
    rgb = buf.reshape(msg.height, msg.step)[:, : msg.width * 3].reshape(msg.height, msg.width, 3)
    return rgb[..., ::-1].copy() if msg.encoding == "bgr8" else rgb


def camera_info_msg(
    t: float, width: int, height: int, fx: float, fy: float, cx: float, cy: float, frame_id: str = CAMERA_FRAME
) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = to_stamp(t)
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def pose_msg(t: float, pos, quat_wxyz, frame_id: str = WORLD_FRAME) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp = to_stamp(t)
    msg.header.frame_id = frame_id
    p, o = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = (float(v) for v in pos)
    o.w, o.x, o.y, o.z = (float(v) for v in quat_wxyz)
    return msg


def twist_msg(t: float, lin, ang, frame_id: str = BASE_FRAME) -> TwistStamped:
    msg = TwistStamped()
    msg.header.stamp = to_stamp(t)
    msg.header.frame_id = frame_id
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in lin)
    msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = (float(v) for v in ang)
    return msg


def diagnostics_msg(
    t: float, name: str, level: str, message: str, values: dict[str, str], hardware_id: str = ""
) -> DiagnosticArray:
    arr = DiagnosticArray()
    arr.header.stamp = to_stamp(t)
    status = DiagnosticStatus()
    status.level = DIAG_LEVEL[level]
    status.name = name
    status.message = message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=str(k), value=str(v)) for k, v in values.items()]
    arr.status = [status]
    return arr
