"""Decoding a bag's messages into the dataset's values (pure functions of one message each).

Images (sensor_msgs/Image in rgb8, bgr8, rgba8, bgra8 or mono8, or CompressedImage in jpeg/png) to
RGB; JointState arrays to Unitree order by joint name; IMU samples to the contract's gravity + gyro
features; commands, events and poses to plain tuples. Errors name the bag and the topic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from fog_contract.go2 import JOINT_NAMES
from fog_contract.proprio import gravity_in_imu_frame

from fog_training.data.bag_reader import BagError, BagSource
from fog_training.data.bag_topics import CMD, EVENT, JCMD


def new_typestore():
    """The standard ROS 2 message types (Jazzy; the contract types are the same in Kilted)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def register_unknown_types(typestore, src: BagSource) -> None:
    """Types a bag carries that the Jazzy store lacks are registered from the bag's own definitions."""
    from rosbags.typesys import get_types_from_idl, get_types_from_msg

    add = {}
    for msgtype, (text, fmt) in src.msgdefs.items():
        if msgtype not in typestore.types and text:
            try:
                add.update(get_types_from_msg(text, msgtype) if fmt == "msg" else get_types_from_idl(text))
            except Exception:
                pass  # only matters if that topic is used; decoding then fails with a named error
    if add:
        typestore.register(add)


def projected_gravity(msg) -> np.ndarray:
    """Unit gravity in the IMU frame (fog_contract.proprio, as on the robot): from the orientation, or
    (an IMU that flags it absent: covariance[0] = -1) from the accelerometer."""
    o, a = msg.orientation, msg.linear_acceleration
    quat = (0.0, 0.0, 0.0, 0.0) if msg.orientation_covariance[0] == -1 else (o.w, o.x, o.y, o.z)
    return gravity_in_imu_frame(quat, (a.x, a.y, a.z))


def imu_features(msg) -> np.ndarray:
    """The IMU's part of the proprio features: projected gravity (3), then the gyro (3, rad/s)."""
    g = msg.angular_velocity
    return np.concatenate([projected_gravity(msg), [g.x, g.y, g.z]])


def yaw_of(q) -> float:
    return math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))


def image_to_rgb(msg, bag: Path, topic: str) -> np.ndarray:
    """sensor_msgs/Image -> uint8 [H, W, 3] RGB (rgb8, bgr8, rgba8, bgra8, mono8; row padding handled)."""
    enc = msg.encoding.lower()
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "8uc1": 1, "8uc3": 3}.get(enc)
    if channels is None:
        raise BagError(bag, f"unsupported image encoding {msg.encoding!r} (rgb8, bgr8, rgba8, bgra8, mono8)", topic)
    h, w = int(msg.height), int(msg.width)
    data = np.asarray(msg.data, np.uint8)
    if data.size < h * msg.step or msg.step < w * channels:
        raise BagError(bag, f"image data of {data.size} bytes does not fit {h}x{w} {enc} with step {msg.step}", topic)
    img = data[: h * msg.step].reshape(h, msg.step)[:, : w * channels].reshape(h, w, channels)
    if channels == 1:
        return np.repeat(img, 3, axis=2)
    if enc.startswith("bgr"):
        img = img[..., 2::-1]
    return np.ascontiguousarray(img[..., :3])


def compressed_to_rgb(msg, bag: Path, topic: str) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg or png, as image_transport's compressed plugin writes it)
    -> uint8 [H, W, 3] RGB. The decoder gives BGR, the order image_transport compresses colour in;
    a format that says ``compressed rgb8`` holds RGB already."""
    import cv2

    fmt = msg.format.lower()
    if "compresseddepth" in fmt:
        raise BagError(bag, f"compressedDepth images are not camera frames (format {msg.format!r})", topic)
    img = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise BagError(bag, f"cannot decode CompressedImage (format {msg.format!r}; jpeg or png expected)", topic)
    return np.ascontiguousarray(img if "compressed rgb" in fmt else img[..., ::-1])


def any_image_to_rgb(msg, bag: Path, topic: str) -> np.ndarray:
    """Image or CompressedImage -> uint8 [H, W, 3] RGB."""
    return compressed_to_rgb(msg, bag, topic) if hasattr(msg, "format") else image_to_rgb(msg, bag, topic)


def joint_permutation(names: list[str], count: int, bag: Path, topic: str) -> np.ndarray:
    """Index array taking a JointState's arrays to Unitree order, matched by name.

    A message without names but with exactly 12 values is taken to be in Unitree order already.
    """
    if not names:
        if count == len(JOINT_NAMES):
            return np.arange(count)
        raise BagError(bag, f"JointState without names has {count} values, expected 12", topic)
    where = {n: i for i, n in enumerate(names)}
    missing = [n for n in JOINT_NAMES if n not in where]
    if missing:
        raise BagError(bag, f"JointState lacks joints {missing} (has {list(names)})", topic)
    return np.array([where[n] for n in JOINT_NAMES])


class JointOrder:
    """joint_permutation, computed once per distinct (names, count) of a bag's JointStates."""

    def __init__(self, bag: Path) -> None:
        self.bag = bag
        self._cache: dict[tuple, np.ndarray] = {}

    def positions(self, msg, topic: str) -> np.ndarray:
        """The message's positions in Unitree order."""
        return np.asarray(msg.position, np.float64)[self.permutation(msg, topic)]

    def state(self, msg, topic: str) -> tuple[np.ndarray, np.ndarray | None]:
        """(positions, velocities or None when the message has none), in Unitree order."""
        perm = self.permutation(msg, topic)
        vel = np.asarray(msg.velocity, np.float64)[perm] if len(msg.velocity) else None
        return np.asarray(msg.position, np.float64)[perm], vel

    def permutation(self, msg, topic: str) -> np.ndarray:
        key = (tuple(msg.name), len(msg.position))
        if key not in self._cache:
            self._cache[key] = joint_permutation(list(msg.name), len(msg.position), self.bag, topic)
        return self._cache[key]


def low_rate_value(rel: str, msg, joints: JointOrder, topic: str):
    """The value a low-rate topic's message contributes: (vx, vy, wz) of a command, an event's text,
    joint targets in Unitree order, or a pose's (x, y, yaw)."""
    if rel == CMD:
        tw = msg.twist if hasattr(msg, "twist") else msg
        return (tw.linear.x, tw.linear.y, tw.angular.z)
    if rel == EVENT:
        return msg.data.strip().lower()
    if rel == JCMD:
        return joints.positions(msg, topic)
    p = msg.pose
    return (p.position.x, p.position.y, yaw_of(p.orientation))


def camera_info(msg) -> dict[str, Any]:
    """sensor_msgs/CameraInfo -> the store's meta.camera_info."""
    return {
        "height": int(msg.height),
        "width": int(msg.width),
        "frame_id": msg.header.frame_id,
        "distortion_model": msg.distortion_model,
        "k": [float(v) for v in msg.k],
        "d": [float(v) for v in msg.d],
        "p": [float(v) for v in msg.p],
    }
