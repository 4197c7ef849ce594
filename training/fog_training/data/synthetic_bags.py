"""Synthetic rosbag2 bags at contract rates with known content, for tests and benchmarks.

Every message encodes its own index, so a test can say exactly which sample the converter must
pick at each tick: frame k of the camera is ``synthetic_frame(k, hw)``, joint state k has
``position[j] = j + 1e-4 k`` (Unitree order j), and so on (see the ``*_value`` helpers). Header
stamps get uniform jitter; receive times are the stamp plus a small latency. With
``clock_offset_s`` the recorder's clock (receive times) runs that far ahead of the simulator's
(header stamps and ``/clock``), as in a bag recorded without ``use_sim_time``.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fog_contract.go2 import JOINT_NAMES
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

# the converter's short names for the contract's topics (fog_contract.topics)
from fog_training.data.bag_topics import BASE, CLOCK, CMD, CUBE, EVENT, GOAL, IMAGE, IMU, INFO, JCMD, JOINTS  # noqa: F401

UNITREE_JOINTS: tuple[str, ...] = JOINT_NAMES



def synthetic_frame(k: int, hw: tuple[int, int]) -> np.ndarray:
    """Camera frame k: a gradient that shifts with k, k itself in the blue channel."""
    h, w = hw
    y, x = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (4 * x + 3 * k) % 256
    img[..., 1] = (4 * y + k // 3) % 256
    img[..., 2] = k % 256
    return img


def joint_value(k: int) -> np.ndarray:
    """Positions of joint state k in Unitree order (velocities are their negatives)."""
    return np.arange(12) + 1e-4 * k


def imu_roll(k: int) -> float:
    """IMU sample k's orientation: a roll of this many radians (pitch and yaw 0)."""
    return 0.001 * k


def imu_gyro(k: int) -> np.ndarray:
    return np.array([1e-4 * k, 0.5, -0.5])


def cmd_value(m: int) -> np.ndarray:
    """cmd_vel m: (linear.x, linear.y, angular.z)."""
    return np.array([0.1 * (m % 10), -0.05 * (m % 7), 0.01 * m])


def jcmd_value(m: int) -> np.ndarray:
    return 0.1 * np.arange(12) + 1e-3 * m


def base_value(k: int) -> tuple[float, float, float]:
    """sim/base_pose k: x, y, yaw."""
    return 0.01 * k, 0.0, 0.002 * k


def cube_value(k: int) -> tuple[float, float, float]:
    return 1.0 + 0.005 * k, 0.2, 0.0


@dataclass
class SyntheticBag:
    """What was written: per relative topic, header stamps (or intended send times for headerless
    types) and receive times, in ns on the simulator's clock (receive times on the recorder's)."""

    path: Path
    stamps: dict[str, np.ndarray] = field(default_factory=dict)
    recv: dict[str, np.ndarray] = field(default_factory=dict)
    joint_names_published: list[str] = field(default_factory=list)
    image_indices: np.ndarray | None = None
    """Camera frame index of each published image (frames in camera_drop are missing)."""


def _stamp(types, ns: int):
    return types["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _header(types, ns: int, frame: str = "base"):
    return types["std_msgs/msg/Header"](stamp=_stamp(types, ns), frame_id=frame)


def _quat_roll(r: float):
    return (math.sin(r / 2), 0.0, 0.0, math.cos(r / 2))


def _quat_yaw(yaw: float):
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


@dataclass
class _BagBuilder:
    """The messages of a bag being made, with what their timing shares: the random generator (drawn
    from in the order the topics are added), the start time and the recorder's clock offset."""

    out: SyntheticBag
    rng: np.random.Generator
    typestore: Any
    t0: int
    """Start, ns on the simulator's clock."""
    offset: int
    """Recorder's clock minus the simulator's, ns."""
    duration_s: float
    jitter_s: float
    latency_s: float
    omit: Sequence[str]
    records: list[tuple[int, str, object, str]] = field(default_factory=list)
    """(recv, topic, msg, msgtype)"""

    @property
    def types(self):
        """The typestore's message classes by name."""
        return self.typestore.types

    def times(self, rate: float, jittered: bool) -> np.ndarray:
        """Send times at ``rate`` over the duration, each with uniform jitter (or none)."""
        n = int(math.floor(self.duration_s * rate)) + 1
        jit = min(self.jitter_s, 0.3 / rate) if jittered else 0.0
        return self.t0 + np.round(np.arange(n) * 1e9 / rate + self.rng.uniform(-jit, jit, n) * 1e9).astype(np.int64)

    def add(self, topic: str, msgtype: str, stamps: np.ndarray, make, headerless: bool = False) -> None:
        """Record ``topic``'s stamps and receive times; queue ``make(i, stamp)`` for each unless omitted."""
        recv = (
            stamps
            + self.offset
            + (0 if headerless else int(self.latency_s * 1e9))
            + (0 if headerless else self.rng.integers(0, 500_000, len(stamps)))
        )
        self.out.stamps[topic], self.out.recv[topic] = stamps, np.asarray(recv, np.int64)
        if topic in self.omit:
            return
        for i, (s, r) in enumerate(zip(stamps, recv, strict=True)):
            self.records.append((int(r), topic, make(i, int(s)), msgtype))


def _add_camera(
    b: _BagBuilder, camera_hz: float, image_hw: tuple[int, int], camera_drop: Sequence[int], image_format: str
) -> None:
    """camera/image_raw (or its compressed form) and camera/camera_info, without the dropped frames."""
    T = b.types
    cam = b.times(camera_hz, True)
    keep = np.setdiff1d(np.arange(len(cam)), np.asarray(camera_drop, int))
    b.out.image_indices = keep
    h, w = image_hw

    def image(i: int, s: int):
        k = int(keep[i])
        rgb = synthetic_frame(k, image_hw)
        if image_format in ("png", "jpeg"):
            import cv2

            ok, buf = cv2.imencode("." + image_format.replace("jpeg", "jpg"), rgb[..., ::-1])
            assert ok
            return T["sensor_msgs/msg/CompressedImage"](
                header=_header(T, s, "camera"), format=f"bgr8; {image_format} compressed bgr8", data=buf.reshape(-1)
            )
        return T["sensor_msgs/msg/Image"](
            header=_header(T, s, "camera"),
            height=h,
            width=w,
            encoding=image_format,
            is_bigendian=0,
            step=w * 3,
            data=(rgb[..., ::-1] if image_format == "bgr8" else rgb).reshape(-1),
        )

    def info(i: int, s: int):
        return T["sensor_msgs/msg/CameraInfo"](
            header=_header(T, s, "camera"),
            height=h,
            width=w,
            distortion_model="plumb_bob",
            d=np.zeros(5),
            k=np.array([50.0, 0, w / 2, 0, 50.0, h / 2, 0, 0, 1]),
            r=np.eye(3).reshape(-1),
            p=np.zeros(12),
            binning_x=0,
            binning_y=0,
            roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
        )

    compressed = image_format in ("png", "jpeg")
    b.add(IMAGE, "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image", cam[keep], image)
    b.add(INFO, "sensor_msgs/msg/CameraInfo", cam[keep], info)


def _add_proprio(b: _BagBuilder, joint_hz: float, imu_hz: float, perm: np.ndarray) -> None:
    """joint_states (joints published in the order ``perm``) and imu/data."""
    T = b.types

    def joint(i: int, s: int):
        q = joint_value(i)[perm]
        return T["sensor_msgs/msg/JointState"](
            header=_header(T, s), name=b.out.joint_names_published, position=q, velocity=-q, effort=np.zeros(12)
        )

    b.add(JOINTS, "sensor_msgs/msg/JointState", b.times(joint_hz, True), joint)

    def imu(i: int, s: int):
        x, y, z, qw = _quat_roll(imu_roll(i))
        g = imu_gyro(i)
        V = T["geometry_msgs/msg/Vector3"]
        return T["sensor_msgs/msg/Imu"](
            header=_header(T, s, "imu"),
            orientation=T["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=qw),
            orientation_covariance=np.zeros(9),
            angular_velocity=V(x=g[0], y=g[1], z=g[2]),
            angular_velocity_covariance=np.zeros(9),
            linear_acceleration=V(x=0.0, y=0.0, z=9.81),
            linear_acceleration_covariance=np.zeros(9),
        )

    b.add(IMU, "sensor_msgs/msg/Imu", b.times(imu_hz, True), imu)


def _add_commands(b: _BagBuilder, cmd_hz: float, jcmd_hz: float, events: Sequence[tuple[float, str]]) -> None:
    """cmd_vel, the joint commands and the episode events."""
    T = b.types

    def cmd(i: int, s: int):
        v = cmd_value(i)
        V = T["geometry_msgs/msg/Vector3"]
        return T["geometry_msgs/msg/Twist"](linear=V(x=v[0], y=v[1], z=0.0), angular=V(x=0.0, y=0.0, z=v[2]))

    b.add(CMD, "geometry_msgs/msg/Twist", b.times(cmd_hz, True), cmd, headerless=True)

    def jcmd(i: int, s: int):
        return T["sensor_msgs/msg/JointState"](
            header=_header(T, s),
            name=list(UNITREE_JOINTS),
            position=jcmd_value(i),
            velocity=np.zeros(0),
            effort=np.zeros(0),
        )

    b.add(JCMD, "sensor_msgs/msg/JointState", b.times(jcmd_hz, True), jcmd)

    ev_times = np.array([b.t0 + int(round(t * 1e9)) for t, _ in events], np.int64)
    b.add(
        EVENT,
        "std_msgs/msg/String",
        ev_times,
        lambda i, s: T["std_msgs/msg/String"](data=events[i][1]),
        headerless=True,
    )


def _add_sim(b: _BagBuilder, pose_hz: float, clock_hz: float, goal: tuple[float, float] | None) -> None:
    """The simulator's ground truth: base and cube poses, the latched goal (if any) and /clock."""
    T = b.types

    def pose(fn):
        def make(i: int, s: int):
            x, y, yaw = fn(i)
            qx, qy, qz, qw = _quat_yaw(yaw)
            P = T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=x, y=y, z=0.0),
                orientation=T["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw),
            )
            return T["geometry_msgs/msg/PoseStamped"](header=_header(T, s, "world"), pose=P)

        return make

    pose_t = b.times(pose_hz, False)
    b.add(BASE, "geometry_msgs/msg/PoseStamped", pose_t, pose(base_value))
    b.add(CUBE, "geometry_msgs/msg/PoseStamped", pose_t, pose(cube_value))
    if goal is not None:
        goal_pose = pose(lambda i: (goal[0], goal[1], 0.0))
        b.add(GOAL, "geometry_msgs/msg/PoseStamped", np.array([b.t0], np.int64), goal_pose)
    clock_t = b.times(clock_hz, False)
    b.add(
        CLOCK,
        "rosgraph_msgs/msg/Clock",
        clock_t,
        lambda i, s: T["rosgraph_msgs/msg/Clock"](clock=_stamp(T, s)),
        headerless=True,
    )


def _write_records(b: _BagBuilder, path: Path, storage: str, full_name, kill_at_s: float | None) -> None:
    """Write the queued messages in receive-time order under ``full_name(topic)``; with ``kill_at_s``,
    copy the bag as a recorder killed then would leave it."""
    b.records.sort(key=lambda r: r[0])
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns = {}
        for _, topic, _, msgtype in b.records:
            if topic not in conns:
                conns[topic] = writer.add_connection(full_name(topic), msgtype, typestore=b.typestore)
        killed = False
        for recv, topic, msg, msgtype in b.records:
            if kill_at_s is not None and not killed and recv - b.offset >= b.t0 + kill_at_s * 1e9:
                writer.storage.close_chunk()  # what the recorder's periodic flush does
                writer.storage.bio.flush()
                shutil.copytree(path, path.with_name(path.name + "_killed"))
                killed = True
            writer.write(conns[topic], recv, b.typestore.serialize_cdr(msg, msgtype))


def write_synthetic_bag(
    path: str | Path,
    *,
    duration_s: float = 4.0,
    camera_hz: float = 30.0,
    joint_hz: float = 500.0,
    imu_hz: float = 500.0,
    cmd_hz: float = 5.0,
    jcmd_hz: float = 50.0,
    pose_hz: float = 50.0,
    clock_hz: float = 100.0,
    image_hw: tuple[int, int] = (48, 64),
    jitter_s: float = 0.003,
    latency_s: float = 0.001,
    events: Sequence[tuple[float, str]] = (),
    sim: bool = True,
    goal: tuple[float, float] | None = (2.0, 0.5),
    namespace: str = "",
    storage: str = "mcap",
    omit: Sequence[str] = (),
    camera_drop: Sequence[int] = (),
    shuffle_joint_names: bool = True,
    clock_offset_s: float = 0.0,
    t0_s: float = 1000.0,
    seed: int = 0,
    kill_at_s: float | None = None,
    image_format: str = "rgb8",
    rename: Mapping[str, str] | None = None,
) -> SyntheticBag:
    """Write a bag of ``duration_s`` seconds of robot data at the given rates (see the module doc).

    ``events`` are ``(seconds from start, text)`` on ``episode/event``. ``omit`` lists relative
    topics not to write. ``sim`` adds ground truth poses (and ``/clock``); ``goal`` adds one
    latched ``sim/goal_pose`` at the start. ``kill_at_s``: also leave, in ``<path>_killed``, what a
    recorder killed at that time would leave (chunks flushed so far, as a periodic flush does; no
    summary, footer or metadata.yaml).

    ``image_format``: "rgb8" or "bgr8" (sensor_msgs/Image), or "png" / "jpeg" (a
    sensor_msgs/CompressedImage of the BGR frame on ``camera/image_raw/compressed``, as
    image_transport's compressed plugin writes it). ``rename`` maps relative topics to the full
    names written instead (the namespace then does not apply to them).
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    typestore = get_typestore(Stores.ROS2_JAZZY)
    t0 = int(round(t0_s * 1e9))
    offset = int(round(clock_offset_s * 1e9))
    ns_prefix = "/" + namespace.strip("/") if namespace.strip("/") else ""
    out = SyntheticBag(path)
    names = list(UNITREE_JOINTS)
    perm = rng.permutation(12) if shuffle_joint_names else np.arange(12)
    out.joint_names_published = [names[i] for i in perm]
    b = _BagBuilder(
        out,
        rng,
        typestore,
        t0=t0,
        offset=offset,
        duration_s=duration_s,
        jitter_s=jitter_s,
        latency_s=latency_s,
        omit=omit,
    )
    # the topics are added in this order: it is the order of the random draws
    _add_camera(b, camera_hz, image_hw, camera_drop, image_format)
    _add_proprio(b, joint_hz, imu_hz, perm)
    _add_commands(b, cmd_hz, jcmd_hz, events)
    if sim:
        _add_sim(b, pose_hz, clock_hz, goal)
    compressed = image_format in ("png", "jpeg")

    def full_name(topic: str) -> str:
        full = topic if topic.startswith("/") else f"{ns_prefix}/{topic}"
        full += "/compressed" if topic == IMAGE and compressed else ""
        return (rename or {}).get(topic, full)

    _write_records(b, path, storage, full_name, kill_at_s)
    return out
