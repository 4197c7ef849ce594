"""`fog dataset`: convert rosbag2 bags (robot or simulator) into a Zarr episode store.

Reads bags with `rosbags` (no ROS install needed), aligns the multi-rate topics onto the policy
clock inside each episode (split on ``episode/event``), takes as action the command in effect at
each tick, builds proprioceptive features, resizes images, computes rewards from the configured
source, and writes the store (docs/DATASET.md) plus a quality report in ``<out>.report/``.

A folder written by ``fog collect`` (it holds ``collect_summary.json``) stands for its episode
bags; any other folder that is not a bag itself stands for the bags directly inside it.

Exit status: 0 every bag converted (warnings, e.g. a salvaged bag, gaps or split episodes, go to
stderr and the report); 1 some bags failed (the store holds the others; the report and stderr
list the failures); 2 nothing converted, or a refused option or --out (nothing written or
deleted). Every failure a user can cause is one line on stderr, never a traceback.

Examples::

    fog dataset data/bags/*/ --out data/go2.zarr
    fog dataset run1 run2.mcap --out data/go2.zarr --rate 5 --image-size 64 --reward-source sim --goal 2.0 0.5
    fog dataset robot_bags/*/ --out data/real.zarr --reward-source events --namespace /go2
    fog dataset sim_bag --out data/joints.zarr --action joints --overwrite
    fog dataset data/bags --out data/go2.zarr          # a `fog collect` folder: its episode bags
    fog dataset robot.mcap --out data/r.zarr --topic camera=/front/image_raw/compressed --topic imu=/livox/imu
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro
from fog_contract import topics
from fog_contract.go2 import CMD_NAMES, JOINT_LOWER, JOINT_NAMES, JOINT_UPPER
from fog_contract.images import resize_rgb
from fog_contract.proprio import PROPRIO_NAMES, gravity_in_imu_frame

from fog_training.data import alignment as al
from fog_training.data.bag_reader import (
    BagError,
    BagSource,
    CorruptDataError,
    bag_files,
    file_sha256,
    header_stamp_ns,
)

# Relative topic names of the contract (fog_contract.topics); a namespace may prefix them.
IMAGE, INFO, JOINTS, IMU, CMD, JCMD, EVENT = (
    topics.IMAGE,
    topics.CAMERA_INFO,
    topics.JOINT_STATES,
    topics.IMU,
    topics.CMD_VEL,
    topics.JOINT_COMMANDS,
    topics.EPISODE_EVENT,
)
CUBE, BASE, GOAL = topics.SIM_CUBE_POSE, topics.SIM_BASE_POSE, topics.SIM_GOAL_POSE
CLOCK = topics.CLOCK  # absolute: never namespaced

TOPIC_ROLES = {
    "camera": IMAGE,
    "camera_info": INFO,
    "joint_states": JOINTS,
    "imu": IMU,
    "cmd_vel": CMD,
    "joint_commands": JCMD,
    "events": EVENT,
}
"""--topic ROLE=NAME: the roles whose topic name a bag may spell differently."""

COLLECT_SUMMARY = "collect_summary.json"  # what `fog collect` writes beside its bags

_EXPECTED_TYPES = {
    IMAGE: ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"),
    INFO: ("sensor_msgs/msg/CameraInfo",),
    JOINTS: ("sensor_msgs/msg/JointState",),
    IMU: ("sensor_msgs/msg/Imu",),
    CMD: ("geometry_msgs/msg/Twist", "geometry_msgs/msg/TwistStamped"),
    JCMD: ("sensor_msgs/msg/JointState",),
    EVENT: ("std_msgs/msg/String",),
    CUBE: ("geometry_msgs/msg/PoseStamped",),
    BASE: ("geometry_msgs/msg/PoseStamped",),
    GOAL: ("geometry_msgs/msg/PoseStamped",),
    CLOCK: ("rosgraph_msgs/msg/Clock",),
}


POSE_REWARDS = ("sim", "sim-progress")
"""Reward sources computed from the ground-truth poses (they need sim/cube_pose and sim/base_pose)."""


@dataclass
class BagToDatasetConfig:
    """Convert rosbag2 bags into a Zarr episode dataset (see docs/DATASET.md)."""

    bags: tyro.conf.Positional[list[Path]]
    """Bags: rosbag2 directories (MCAP or sqlite3) or single .mcap / .db3 files."""
    out: Path
    """Output store (a directory ending in .zarr); the quality report goes to <out>.report/."""
    rate: float = 5.0
    """Policy clock (Hz): one dataset step per tick."""
    image_size: int = 64
    """Stored image side: the camera frame is resized (cv2 INTER_AREA, no crop) to size x size."""
    reward_source: Literal["sim", "sim-progress", "goal-progress", "events", "proprio"] = "sim"
    """sim: push-cube reward from ground-truth poses; sim-progress: the change of that potential per
    second (the episode's unobservable offset cancels); goal-progress: the goal task's reward (progress
    towards the marker at sim/goal_pose, quadruped_bridge.tasks.GoalTask); events: +1 success / -1 fail
    on the ending step;
    proprio: stay upright and smooth (formulas in meta.reward_source and docs/DATASET.md)."""
    action: Literal["cmd_vel", "joints"] = "cmd_vel"
    """cmd_vel: (vx, vy, yaw rate) in effect at each tick; joints: the 12 joint position targets of joint_commands."""
    namespace: str = "auto"
    """Namespace prefixing the contract topics ('' for none); 'auto' finds the one namespace holding
    camera/image_raw."""
    goal: tuple[float, float] | None = None
    """Cube goal (x, y) in metres for --reward-source sim when the bag has no sim/goal_pose."""
    max_sensor_age: float = 0.1
    """Seconds: a tick whose latest image, joint state, IMU sample (or ground-truth pose) is older is
    dropped and the episode split there."""
    command_timeout: float = 0.5
    """Seconds: a velocity command older than this is no longer in effect (the robot's watchdog stops it): action 0."""
    min_episode_steps: int = 2
    """Pieces of episodes shorter than this (after dropping stale ticks) are left out."""
    camera_rate: float | None = None
    """Nominal camera rate (Hz), for counting dropped frames and gaps in the report; default: each
    bag's own rate (its median camera period)."""
    topic: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """ROLE=NAME (repeatable): read ROLE from topic NAME exactly as the bag spells it (the namespace
    does not apply). Roles: camera (sensor_msgs/Image or CompressedImage), camera_info, joint_states,
    imu, cmd_vel, joint_commands, events."""
    sim_robot_weight: float = 0.5
    """Weight of the robot-to-cube distance term of the sim reward."""
    sim_contact_radius: float = 0.35
    """Robot-to-cube distance (m, base origin to cube centre) below which the robot counts as touching the cube."""
    cmd_low: tuple[float, float, float] = (-1.0, -0.6, -1.5)
    """Lower bounds of (vx, vy, yaw rate) recorded in meta.action (for normalisation; values are not clipped)."""
    cmd_high: tuple[float, float, float] = (1.0, 0.6, 1.5)
    """Upper bounds of (vx, vy, yaw rate) recorded in meta.action."""
    overwrite: bool = False
    """Replace an existing store (and report) at --out: only a store `fog dataset` wrote, and never a
    path that holds an input bag."""
    report: bool = True
    """Write the quality report (markdown + PNG plots) to <out>.report/."""


# ---------------------------------------------------------------- message conversion (pure)


def projected_gravity(msg) -> np.ndarray:
    """Unit gravity in the IMU frame (fog_contract.proprio, as on the robot): from the orientation, or
    (an IMU that flags it absent: covariance[0] = -1) from the accelerometer."""
    o, a = msg.orientation, msg.linear_acceleration
    quat = (0.0, 0.0, 0.0, 0.0) if msg.orientation_covariance[0] == -1 else (o.w, o.x, o.y, o.z)
    return gravity_in_imu_frame(quat, (a.x, a.y, a.z))


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


# ---------------------------------------------------------------- one bag


@dataclass
class Stream:
    """One topic's timing: header stamps (sorted) and where each came from."""

    stamps: np.ndarray  # int64 ns, sorted
    ordinals: np.ndarray  # original message ordinal of each sorted stamp
    recv: np.ndarray  # receive times in the same (sorted) order

    @staticmethod
    def build(stamps: list[int], recv: list[int]) -> Stream:
        s = np.asarray(stamps, np.int64)
        order = np.argsort(s, kind="stable")
        return Stream(s[order], order.astype(np.int64), np.asarray(recv, np.int64)[order])


@dataclass
class BagResult:
    """Episodes and quality figures of one converted bag."""

    path: Path
    episodes: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    camera_info: dict[str, Any] | None = None
    streams: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    namespace: str = ""


def resolve_namespace(topics: dict[str, str], namespace: str, bag: Path) -> str:
    """The namespace prefix ('' or '/ns') under which the contract topics live in this bag."""
    if namespace != "auto":
        ns = namespace.strip().strip("/")
        return f"/{ns}" if ns else ""
    found = set()
    for suffix in ("/" + IMAGE, f"/{IMAGE}/compressed"):
        found |= {t[: -len(suffix)] for t in topics if t == suffix or t.endswith(suffix)}
    found = sorted(found)
    if len(found) > 1:
        raise BagError(bag, f"camera/image_raw appears under several namespaces {found}: pass --namespace", IMAGE)
    return found[0] if found else ""


def parse_topic_map(entries: tuple[str, ...] | list[str]) -> dict[str, str]:
    """--topic ROLE=NAME entries -> {relative contract topic: full name}; ValueError names a bad one."""
    out: dict[str, str] = {}
    for entry in entries:
        role, sep, name = (x.strip() for x in entry.partition("="))
        if not sep or not name or role not in TOPIC_ROLES:
            raise ValueError(f"--topic {entry!r}: expected ROLE=NAME with ROLE one of {', '.join(TOPIC_ROLES)}")
        name = name if name.startswith("/") else "/" + name
        if name in out.values():
            raise ValueError(f"--topic {entry!r}: {name} is already mapped to another role")
        out[TOPIC_ROLES[role]] = name
    return out


def topic_names(topics: dict[str, str], cfg: BagToDatasetConfig, bag: Path) -> tuple[str, dict[str, str]]:
    """The namespace and the full topic name of every relative contract topic in this bag: the
    namespace prefix, then ``--topic`` mappings; a camera only recorded compressed
    (``camera/image_raw/compressed``) is read from there."""
    ns = resolve_namespace(topics, cfg.namespace, bag)
    full = {rel: (rel if rel.startswith("/") else f"{ns}/{rel}") for rel in _EXPECTED_TYPES}
    mapped = parse_topic_map(cfg.topic)
    if IMAGE not in mapped and full[IMAGE] not in topics and f"{full[IMAGE]}/compressed" in topics:
        full[IMAGE] += "/compressed"
    full.update(mapped)
    names = list(full.values())
    taken = [t for t in names if names.count(t) > 1]
    if taken:
        raise BagError(bag, "--topic gives this topic a role that another contract topic already has", taken[0])
    return ns, full


def required_topics(cfg: BagToDatasetConfig) -> list[str]:
    req = [IMAGE, JOINTS, IMU, CMD if cfg.action == "cmd_vel" else JCMD]
    if cfg.reward_source in POSE_REWARDS:
        req += [CUBE, BASE]
    if cfg.reward_source == "goal-progress":
        req += [BASE, GOAL]
    if cfg.reward_source == "events":
        req += [EVENT]
    return req


def new_typestore():
    """The standard ROS 2 message types (Jazzy; the contract types are the same in Kilted)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def convert_bag(path: Path, cfg: BagToDatasetConfig, bag_index: int = 0, typestore=None, progress=None) -> BagResult:
    """Read one bag and return its episodes (arrays in the store's layout) and quality figures.

    A bag whose data turn out corrupt while reading is read again forward record by record (an
    MCAP), skipping the rest of each corrupt chunk; its problems say what was skipped."""
    typestore = typestore or new_typestore()
    try:
        return _convert_bag(path, cfg, bag_index, typestore, progress, None)
    except CorruptDataError as e:
        return _convert_bag(path, cfg, bag_index, typestore, progress, str(e).split(": ", 1)[-1])


def _convert_bag(path: Path, cfg, bag_index: int, typestore, progress, force_scan: str | None) -> BagResult:
    result = BagResult(Path(path))
    with BagSource(Path(path), force_scan=force_scan) as src:
        result.problems += src.problems
        ns, full = topic_names(src.topics, cfg, src.path)
        result.namespace = ns
        rel_of = {f: r for r, f in full.items()}
        present = {rel for rel, f in full.items() if f in src.topics}
        missing = [full[r] for r in required_topics(cfg) if r not in present]
        if missing:
            why = f"required topic is missing (needed for --action {cfg.action} --reward-source {cfg.reward_source})"
            if len(missing) > 1:
                why += f"; also missing: {', '.join(missing[1:])}"
            why += "; --topic ROLE=NAME reads a role from another topic"
            raise BagError(src.path, why, missing[0])
        for rel in present:
            if src.topics[full[rel]] not in _EXPECTED_TYPES[rel]:
                raise BagError(
                    src.path,
                    f"has type {src.topics[full[rel]]}, expected {' or '.join(_EXPECTED_TYPES[rel])}",
                    full[rel],
                )
        if INFO not in present:
            result.problems.append(f"no {full[INFO]}: meta.camera_info left empty")
        _register_unknown_types(typestore, src)

        # ---- pass 1: timing of everything; values of the low-rate topics ----
        stamps: dict[str, list[int]] = {r: [] for r in present}
        recv: dict[str, list[int]] = {r: [] for r in present}
        values: dict[str, list[Any]] = {r: [] for r in (CMD, JCMD, EVENT, CUBE, BASE, GOAL) if r in present}
        clock_recv: list[int] = []
        clock_val: list[int] = []
        cmd_stamped = CMD in present and src.topics[full[CMD]].endswith("TwistStamped")
        headerless = {EVENT} | ({CMD} if not cmd_stamped else set())
        jperm_cache: dict[tuple, np.ndarray] = {}
        n_msgs = 0
        for topic, t_recv, raw in src.messages([full[r] for r in present]):
            rel = rel_of[topic]
            n_msgs += 1
            try:
                if rel == CLOCK:
                    clock_recv.append(t_recv)
                    clock_val.append(header_stamp_ns(raw))  # Clock's one field is a Time, like a header
                    continue
                recv[rel].append(t_recv)
                stamps[rel].append(t_recv if rel in headerless else header_stamp_ns(raw))
                if rel == INFO and result.camera_info is None:
                    result.camera_info = _camera_info(typestore.deserialize_cdr(raw, src.topics[topic]))
                elif rel in values:
                    msg = typestore.deserialize_cdr(raw, src.topics[topic])
                    values[rel].append(_low_rate_value(rel, msg, jperm_cache, src.path, topic))
            except BagError:
                raise
            except Exception as e:
                raise BagError(
                    src.path, f"cannot decode message {len(stamps.get(rel, []))} ({type(e).__name__}: {e})", topic
                ) from e
        if progress is not None:
            progress.set_postfix_str(f"{src.path.name}: decoding")
        for rel in required_topics(cfg):
            if not stamps[rel]:
                raise BagError(src.path, "has no messages" + (" (truncated bag?)" if src.salvaged else ""), full[rel])

        # Headerless messages carry receive times on the recorder's clock; with /clock in the bag,
        # bring them onto the simulator clock of the header stamps.
        if clock_recv:
            order = np.argsort(clock_recv, kind="stable")
            cr, cv = np.asarray(clock_recv, np.int64)[order], np.asarray(clock_val, np.int64)[order]
            for rel in headerless & present:
                stamps[rel] = al.map_to_clock(np.asarray(stamps[rel], np.int64), cr, cv).tolist()
            offset_ms = float(np.median((cr - cv) / 1e6))
            if abs(offset_ms) > 1.0:
                result.problems.append(
                    f"recorder clock runs {offset_ms:.1f} ms from /clock: headerless topics mapped through /clock"
                )
        streams = {rel: Stream.build(stamps[rel], recv[rel]) for rel in present if rel != CLOCK}
        for rel, vals in values.items():
            values[rel] = [vals[i] for i in streams[rel].ordinals]  # sorted like the stamps
        result.streams = {rel: s.stamps for rel, s in streams.items()}
        if clock_recv:
            result.streams[CLOCK] = np.sort(np.asarray(clock_val, np.int64))
        # Report times count from the bag's start: its earliest stamp on the header clock.
        t0 = min(int(s[0]) for s in result.streams.values() if len(s))
        result.quality["t0_ns"] = t0
        # The camera's period comes from the data (its median interval) unless --camera-rate says.
        nominal = {CMD: 1e9 / cfg.rate} | ({IMAGE: 1e9 / cfg.camera_rate} if cfg.camera_rate else {})
        result.quality["topics"] = {
            rel: topic_quality(s.stamps, None if rel in headerless else s.recv, nominal.get(rel), t0)
            for rel, s in streams.items()
        }
        if clock_recv:
            result.quality["topics"][CLOCK] = topic_quality(result.streams[CLOCK], None, None, t0)
        cam_period = result.quality["topics"][IMAGE].get("nominal_period_ms", math.nan) * 1e6

        # ---- episodes and ticks ----
        poses = {"goal-progress": [BASE], **dict.fromkeys(POSE_REWARDS, [CUBE, BASE])}
        sensors = [IMAGE, JOINTS, IMU] + poses.get(cfg.reward_source, [])
        # The bag's usable time: from when every sensor has spoken to when the first one stops.
        bag_start = max(int(streams[r].stamps[0]) for r in sensors)
        bag_end = min(int(streams[r].stamps[-1]) for r in sensors)
        events: list[tuple[int, str]] = []
        unknown_events: list[str] = []
        if EVENT in present:
            for t, text in zip(streams[EVENT].stamps, values[EVENT], strict=True):
                if text in al.EVENTS:
                    events.append((int(t), text))
                else:
                    unknown_events.append(text)
        spans = al.episode_spans(events, bag_start, bag_end)
        if unknown_events:
            result.problems.append(f"ignored unknown episode/event texts: {sorted(set(unknown_events))}")

        max_age = int(cfg.max_sensor_age * 1e9)
        period = int(round(1e9 / cfg.rate))
        pieces = []  # (span index, span, ticks, selections)
        for si, span in enumerate(spans):
            ticks = al.policy_ticks(span.start_ns, span.end_ns, cfg.rate)
            sel = {r: al.latest_at_or_before(streams[r].stamps, ticks) for r in sensors}
            ok = np.ones(len(ticks), bool)
            for r in sensors:
                ok &= al.fresh(ticks, streams[r].stamps, sel[r], max_age)
            if cfg.action == "joints":
                sel[JCMD] = al.latest_at_or_before(streams[JCMD].stamps, ticks)
                ok &= al.fresh(ticks, streams[JCMD].stamps, sel[JCMD], int(cfg.command_timeout * 1e9))
            runs = al.contiguous_runs(ok, cfg.min_episode_steps)
            span_q = {
                "span": si,
                "start_s": (span.start_ns - t0) / 1e9,
                "duration_s": (span.end_ns - span.start_ns) / 1e9,
                "outcome": span.outcome,
                "ticks": int(len(ticks)),
                "valid_ticks": int(ok.sum()),
                "pieces": len(runs),
                "steps": int(sum(b - a for a, b in runs)),
            }
            span_q.update(_span_timing(streams, span, cam_period))
            result.quality.setdefault("episodes", []).append(span_q)
            for a, b in runs:
                pieces.append((si, span, ticks[a:b], {r: v[a:b] for r, v in sel.items()}, b == len(ticks)))

        # ---- pass 2: decode only the images / joint states / IMU samples that ticks use ----
        need: dict[str, set[int]] = {r: set() for r in (IMAGE, JOINTS, IMU)}
        for *_, sel, _ in pieces:
            for r in need:
                idx = sel[r]
                need[r].update(streams[r].ordinals[idx].tolist())
                if r == JOINTS:  # predecessor, for velocities when the message has none
                    need[r].update(streams[r].ordinals[np.maximum(idx - 1, 0)].tolist())
        decoded: dict[str, dict[int, Any]] = {r: {} for r in need}
        if pieces:
            counters = {r: 0 for r in need}
            for topic, _t, raw in src.messages([full[r] for r in need]):
                rel = rel_of[topic]
                k = counters[rel]
                counters[rel] += 1
                if k not in need[rel]:
                    continue
                if header_stamp_ns(raw) != stamps[rel][k]:
                    # Messages are matched to pass 1 by their order per topic: make sure it held.
                    raise BagError(src.path, f"message {k} differs from the first read (order changed)", topic)
                try:
                    msg = typestore.deserialize_cdr(raw, src.topics[topic])
                    if rel == IMAGE:
                        to_rgb = compressed_to_rgb if hasattr(msg, "format") else image_to_rgb
                        decoded[rel][k] = resize_rgb(to_rgb(msg, src.path, topic), cfg.image_size)
                    elif rel == JOINTS:
                        perm = _jperm(jperm_cache, list(msg.name), len(msg.position), src.path, topic)
                        pos = np.asarray(msg.position, np.float64)[perm]
                        vel = np.asarray(msg.velocity, np.float64)[perm] if len(msg.velocity) else None
                        decoded[rel][k] = (pos, vel)
                    else:
                        g = msg.angular_velocity
                        decoded[rel][k] = np.concatenate([projected_gravity(msg), [g.x, g.y, g.z]])
                except BagError:
                    raise
                except Exception as e:
                    raise BagError(src.path, f"cannot decode message {k} ({type(e).__name__}: {e})", topic) from e

    # ---- assemble episodes ----
    goal_fixed = None if cfg.goal is None else np.asarray(cfg.goal, np.float64)
    for si, span, ticks, sel, reaches_end in pieces:
        n = len(ticks)
        imgs = np.stack([decoded[IMAGE][int(streams[IMAGE].ordinals[i])] for i in sel[IMAGE]])
        q = np.zeros((n, 12))
        dq = np.zeros((n, 12))
        for j, i in enumerate(sel[JOINTS]):
            pos, vel = decoded[JOINTS][int(streams[JOINTS].ordinals[i])]
            q[j] = pos
            if vel is None and i > 0:  # finite difference with the previous joint state
                prev, _ = decoded[JOINTS][int(streams[JOINTS].ordinals[i - 1])]
                dt = (streams[JOINTS].stamps[i] - streams[JOINTS].stamps[i - 1]) / 1e9
                vel = (pos - prev) / dt if dt > 0 else np.zeros(12)
            dq[j] = vel if vel is not None else 0.0
        imu = np.stack([decoded[IMU][int(streams[IMU].ordinals[i])] for i in sel[IMU]])
        proprio = np.concatenate([q, dq, imu], axis=1)

        if cfg.action == "cmd_vel":
            action = command_in_effect(
                streams[CMD].stamps, np.asarray(values[CMD]).reshape(-1, 3), ticks, int(cfg.command_timeout * 1e9)
            )
        else:
            action = np.stack([values[JCMD][i] for i in sel[JCMD]])

        terminal = np.zeros(n, bool)
        success = np.zeros(n, bool)
        if span.terminal and reaches_end:
            terminal[-1] = True
            success[-1] = span.outcome == al.SUCCESS
        extra: dict[str, np.ndarray] = {
            "time": ticks / 1e9,
            "image_age": ((ticks - streams[IMAGE].stamps[sel[IMAGE]]) / 1e9).astype(np.float32),
            "success": success,
            "bag": np.full(n, bag_index, np.int32),
        }
        if cfg.reward_source in POSE_REWARDS:
            nxt = ticks + period
            base_now, cube_now = (
                _poses(values[BASE], streams[BASE].stamps, ticks),
                _poses(values[CUBE], streams[CUBE].stamps, ticks),
            )
            base_next, cube_next = (
                _poses(values[BASE], streams[BASE].stamps, nxt),
                _poses(values[CUBE], streams[CUBE].stamps, nxt),
            )
            goal = _goal(values.get(GOAL), streams.get(GOAL), ticks, goal_fixed, src.path, full[GOAL])
            reward = sim_reward(base_next, cube_next, goal, cfg.sim_robot_weight, cfg.sim_contact_radius)
            if cfg.reward_source == "sim-progress":
                before = sim_reward(base_now, cube_now, goal, cfg.sim_robot_weight, cfg.sim_contact_radius)
                reward = (reward - before) * cfg.rate
            extra["state"] = np.concatenate([base_now, cube_now, goal], axis=1).astype(np.float32)
        elif cfg.reward_source == "goal-progress":
            from quadruped_bridge.tasks import GoalTask

            base_now = _poses(values[BASE], streams[BASE].stamps, ticks)
            base_next = _poses(values[BASE], streams[BASE].stamps, ticks + period)
            goal = _goal(values.get(GOAL), streams.get(GOAL), ticks, goal_fixed, src.path, full[GOAL])
            reward = GoalTask().reward(base_now, base_next, goal, cfg.rate)
            extra["state"] = np.concatenate([base_now, goal], axis=1).astype(np.float32)
        elif cfg.reward_source == "events":
            reward = np.zeros(n)
            if terminal[-1]:
                reward[-1] = 1.0 if span.outcome == al.SUCCESS else -1.0
        else:
            reward = proprio_reward(proprio)
        result.episodes.append(
            {
                "image": imgs,
                "action": action,
                "proprio": proprio,
                "reward": reward,
                "is_terminal": terminal,
                "extra": extra,
                "span": si,
            }
        )
    result.quality["messages"] = n_msgs
    return result


def _register_unknown_types(typestore, src: BagSource) -> None:
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


def _jperm(cache: dict, names: list[str], count: int, bag: Path, topic: str) -> np.ndarray:
    key = (tuple(names), count)
    if key not in cache:
        cache[key] = joint_permutation(names, count, bag, topic)
    return cache[key]


def _low_rate_value(rel: str, msg, jperm_cache: dict, bag: Path, topic: str):
    if rel == CMD:
        tw = msg.twist if hasattr(msg, "twist") else msg
        return (tw.linear.x, tw.linear.y, tw.angular.z)
    if rel == EVENT:
        return msg.data.strip().lower()
    if rel == JCMD:
        return np.asarray(msg.position, np.float64)[_jperm(jperm_cache, list(msg.name), len(msg.position), bag, topic)]
    p = msg.pose
    return (p.position.x, p.position.y, yaw_of(p.orientation))


def _camera_info(msg) -> dict[str, Any]:
    return {
        "height": int(msg.height),
        "width": int(msg.width),
        "frame_id": msg.header.frame_id,
        "distortion_model": msg.distortion_model,
        "k": [float(v) for v in msg.k],
        "d": [float(v) for v in msg.d],
        "p": [float(v) for v in msg.p],
    }


def command_in_effect(cmd_stamps: np.ndarray, cmd_values: np.ndarray, ticks: np.ndarray, timeout_ns: int) -> np.ndarray:
    """The velocity command in effect at each tick: the latest at or before it, 0 if none or timed out."""
    idx = al.latest_at_or_before(cmd_stamps, ticks)
    ok = al.fresh(ticks, cmd_stamps, idx, timeout_ns)
    out = np.zeros((len(ticks), cmd_values.shape[1]))
    out[ok] = cmd_values[idx[ok]]
    return out


def _poses(values: list, stamps: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    idx = np.maximum(al.latest_at_or_before(stamps, ticks), 0)
    return np.asarray(values, np.float64)[idx]


def _goal(values, stream: Stream | None, ticks: np.ndarray, fixed, bag: Path, topic: str) -> np.ndarray:
    """Goal (x, y) per tick: latest sim/goal_pose at or before it (before the first one: the first),
    else the --goal option."""
    if values:
        idx = np.maximum(al.latest_at_or_before(stream.stamps, ticks), 0)
        return np.asarray(values, np.float64)[idx, :2]
    if fixed is None:
        raise BagError(bag, "no goal for --reward-source sim: the bag has no sim/goal_pose; pass --goal X Y", topic)
    return np.tile(fixed, (len(ticks), 1))


def sim_reward(
    base_next: np.ndarray, cube_next: np.ndarray, goal: np.ndarray, robot_weight: float, contact_radius: float
) -> np.ndarray:
    """Push-cube reward of each transition, on the state it leads to (poses at t + 1/rate):
    ``-|cube - goal| - w * max(|base - cube| - r, 0)`` (x, y in metres)."""
    d_goal = np.linalg.norm(cube_next[:, :2] - goal, axis=1)
    d_robot = np.linalg.norm(base_next[:, :2] - cube_next[:, :2], axis=1)
    return -d_goal - robot_weight * np.maximum(d_robot - contact_radius, 0.0)


def proprio_reward(proprio: np.ndarray) -> np.ndarray:
    """From proprioception only, on the next step's features (the last step uses its own):
    ``-|gravity_xy| - 0.01 * mean(joint_vel^2)`` (stay upright, move smoothly)."""
    nxt = np.concatenate([proprio[1:], proprio[-1:]], axis=0)
    tilt = np.linalg.norm(nxt[:, 24:26], axis=1)
    return -tilt - 0.01 * np.mean(nxt[:, 12:24] ** 2, axis=1)


def _span_timing(streams: dict[str, Stream], span: al.EpisodeSpan, cam_period_ns: float) -> dict[str, Any]:
    """Per-episode camera figures: dropped frames (against the camera's nominal period),
    camera-to-joint-state skew (nearest joint state)."""
    cam = streams[IMAGE].stamps
    cam = cam[(cam >= span.start_ns) & (cam <= span.end_ns)]
    js = streams[JOINTS].stamps
    dropped = al.dropped_frames(cam, cam_period_ns) if math.isfinite(cam_period_ns) else 0
    out: dict[str, Any] = {"frames": int(len(cam)), "dropped_frames": dropped}
    if len(cam) and len(js):
        i = np.clip(np.searchsorted(js, cam), 1, len(js) - 1)
        nearest = np.where(np.abs(js[i] - cam) < np.abs(js[i - 1] - cam), js[i], js[i - 1])
        skew = np.abs(cam - nearest) / 1e6
        out["skew_ms"] = {"mean": float(skew.mean()), "p95": float(np.percentile(skew, 95)), "max": float(skew.max())}
    return out


def topic_quality(
    stamps: np.ndarray, recv: np.ndarray | None, nominal_period_ns: float | None, t0_ns: int = 0
) -> dict[str, Any]:
    """Rate, gaps (> 2x nominal period; the median period when no nominal is known) and latency of
    one topic; gap times in seconds from ``t0_ns`` (the bag's start)."""
    n = len(stamps)
    q: dict[str, Any] = {"count": int(n)}
    if n < 2:
        return q
    med = al.median_period_ns(stamps)
    period = nominal_period_ns or med
    g = al.gaps(stamps, period)
    d = np.diff(stamps)
    q.update(
        rate_hz=float((n - 1) / ((stamps[-1] - stamps[0]) / 1e9)) if stamps[-1] > stamps[0] else float("nan"),
        median_period_ms=med / 1e6,
        nominal_period_ms=period / 1e6,
        gaps=int(len(g)),
        max_gap_ms=float(d.max() / 1e6),
        gap_times_s=[float((stamps[i] - t0_ns) / 1e9) for i in g[:20]],
    )
    if recv is not None:
        lat = (recv - stamps) / 1e6
        q.update(latency_ms_median=float(np.median(lat)), latency_ms_p95=float(np.percentile(lat, 95)))
    return q


WARN_TOPICS = (IMAGE, JOINTS, IMU)
"""Topics whose gaps are warnings (stderr and report): the sensors every tick needs."""


def bag_warnings(res: BagResult) -> list[str]:
    """What a converted bag's user should know: problems tolerated (salvaged, corrupt parts skipped,
    no camera_info, ...), gaps in the sensor streams, ticks dropped and episodes split."""
    out = list(res.problems)
    for rel in WARN_TOPICS:
        q = res.quality.get("topics", {}).get(rel, {})
        if q.get("gaps"):
            at = ", ".join(f"{t:.1f}" for t in q["gap_times_s"][:5]) + (", ..." if q["gaps"] > 5 else "")
            out.append(
                f"{rel}: {q['gaps']} gap(s) longer than 2x its period of {q['nominal_period_ms']:.1f} ms "
                f"(longest {q['max_gap_ms']:.0f} ms; starting at {at} s into the bag)"
            )
    for e in res.quality.get("episodes", []):
        dropped = e["ticks"] - e["valid_ticks"]
        if dropped:
            out.append(
                f"episode span {e['span']} ({e['start_s']:.1f} s into the bag): {dropped} of {e['ticks']} ticks "
                f"dropped (a sensor older than --max-sensor-age); kept as {e['pieces']} piece(s)"
            )
    return out


# ---------------------------------------------------------------- inputs and --out


class OutputError(ValueError):
    """--out cannot be used: it would replace something this tool did not write, or is unwritable."""


STORE_MARKER = "fog dataset"
"""A store this tool wrote has ``meta.created_by`` starting with this (written when the store is
created, so an interrupted conversion's store carries it too)."""

_REPORT_FILES = ("report.md",)
_REPORT_PLOT_PREFIXES = ("rates_bag", "gaps", "skew_and_drops")


def is_bag(path: Path) -> bool:
    """A bag file (.mcap/.db3) or a rosbag2 directory (metadata.yaml or storage files inside)."""
    if path.is_file():
        return path.suffix in (".mcap", ".db3")
    if path.is_dir():
        return (path / "metadata.yaml").exists() or any(
            p.suffix in (".mcap", ".db3") for p in path.iterdir() if p.is_file()
        )
    return False


def expand_inputs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The bags the arguments stand for, and notes on what was expanded or skipped.

    A `fog collect` folder (it holds collect_summary.json) stands for its episode bags; another
    folder that is no bag stands for the bags directly inside it; the summary and ``logs/`` of a
    collect folder (e.g. from ``DIR/*``) are skipped. Anything else is taken as given (a path that
    is no bag fails with a named error later)."""
    bags: list[Path] = []
    notes: list[str] = []
    for p in paths:
        parent_is_collect = (p.parent / COLLECT_SUMMARY).is_file()
        if p.name == COLLECT_SUMMARY and p.is_file() or (p.name == "logs" and p.is_dir() and parent_is_collect):
            notes.append(f"skipped {p}: written by `fog collect` beside its bags, not a bag")
            continue
        if p.is_dir() and not is_bag(p):
            summary = p / COLLECT_SUMMARY
            if summary.is_file():
                try:
                    info = json.loads(summary.read_text())
                    names = list(info["episode_bags"])
                    between = len(info.get("between_episode_bags", []))
                except (OSError, ValueError, KeyError, TypeError) as e:
                    raise ValueError(f"{summary}: not a readable fog collect summary ({type(e).__name__}: {e})") from e
                found = [p / n for n in names if (p / n).exists()]
                notes.append(
                    f"{p}: a `fog collect` folder: its {len(found)} episode bag(s)"
                    + (f" ({len(names) - len(found)} listed but absent)" if len(found) < len(names) else "")
                    + (f"; {between} between-episode bag(s) left out" if between else "")
                )
                bags += found
                continue
            inner = sorted(c for c in p.iterdir() if is_bag(c))
            if inner:
                notes.append(f"{p}: not a bag itself: its {len(inner)} bag(s)")
                bags += inner
                continue
        bags.append(p)
    unique: list[Path] = []
    seen: set[Path] = set()
    for b in bags:
        key = b.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(b)
    return unique, notes


def _written_by_us(store: Path) -> bool:
    try:
        attrs = json.loads((store / "zarr.json").read_text()).get("attributes", {})
        return str(attrs.get("meta", {}).get("created_by", "")).startswith(STORE_MARKER)
    except (OSError, ValueError, AttributeError):
        return False


def _is_our_report(report_dir: Path) -> bool:
    try:
        entries = list(report_dir.iterdir())
        head = (report_dir / "report.md").read_text()[:40]
    except OSError:
        return False
    return head.startswith("# Dataset quality report") and all(
        e.is_file() and (e.name in _REPORT_FILES or (e.suffix == ".png" and e.name.startswith(_REPORT_PLOT_PREFIXES)))
        for e in entries
    )


def check_output(cfg: BagToDatasetConfig, bags: list[Path]) -> Path:
    """Refuse an --out this run must not write or replace, before any work; returns the report folder.

    Never a path that is, holds or lies inside an input bag; with --overwrite only a store this
    tool wrote (and a report folder holding only its report); the folder it goes in must be
    writable (probed by making and removing a temporary folder there)."""
    out = cfg.out
    report_dir = Path(str(out) + ".report")
    o, r = out.resolve(), report_dir.resolve()
    for bag in bags:
        b = bag.resolve()
        for target, what in ((o, "--out"), (r, "the report folder")):
            if b == target or target in b.parents:
                raise OutputError(f"{what} {target} holds the input bag {bag}: refusing to write or replace it")
            if b in target.parents:
                raise OutputError(f"{what} {target} lies inside the input bag {bag}: choose a path outside it")
    for target, ours in ((out, _written_by_us), (report_dir, _is_our_report)):
        if not (target.exists() or target.is_symlink()):
            continue
        if not cfg.overwrite:
            raise FileExistsError(f"{target} already exists (pass --overwrite to replace it)")
        if target.is_symlink() or not ours(target):
            kind = "dataset store" if target == out else "quality report"
            raise OutputError(
                f"--overwrite refused: {target} is not a {kind} that fog dataset wrote; remove it yourself "
                "or choose another --out"
            )
    anc = o.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(f"cannot write --out {out}: {anc} is a file, not a folder")
    try:
        import tempfile

        os.rmdir(tempfile.mkdtemp(prefix=".fog-dataset-probe-", dir=anc))
    except OSError as e:
        raise OutputError(f"cannot write --out {out}: {anc} is not writable ({e.strerror or e})") from e
    return report_dir


# ---------------------------------------------------------------- many bags -> one store


@dataclass
class ConversionSummary:
    converted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    episodes: int = 0
    steps: int = 0
    seconds: float = 0.0
    report: Path | None = None


def convert(cfg: BagToDatasetConfig, argv: list[str] | None = None, progress: bool = True) -> ConversionSummary:
    """Convert ``cfg.bags`` into ``cfg.out``: good bags are written, bad ones listed.

    Raises (before any work) ValueError for a refused option, FileExistsError / OutputError for an
    --out it must not write; nothing is written or deleted then."""
    import shutil

    from tqdm import tqdm

    from fog_training.data.episode_store import EpisodeWriter
    from fog_training.data.quality_report import write_report

    t0 = time.perf_counter()
    if cfg.rate <= 0 or cfg.image_size < 8 or not cfg.bags:
        raise ValueError("need --rate > 0, --image-size >= 8 and at least one bag")
    if cfg.camera_rate is not None and cfg.camera_rate <= 0:
        raise ValueError(f"--camera-rate must be positive, got {cfg.camera_rate}")
    parse_topic_map(cfg.topic)  # a bad --topic is refused before any work
    summary = ConversionSummary()
    bags, summary.notes = expand_inputs([Path(b) for b in cfg.bags])
    if not bags:
        raise ValueError(f"no bag to convert in {', '.join(str(b) for b in cfg.bags)}")
    report_dir = check_output(cfg, bags)
    typestore = new_typestore()
    writer = None
    results: list[BagResult] = []
    sources: list[dict[str, Any]] = []
    action_dim = 3 if cfg.action == "cmd_vel" else 12
    bar = tqdm(total=len(bags), desc="fog dataset", unit="bag", disable=not progress)
    try:
        for bag in bags:
            bar.set_postfix_str(f"{Path(bag).name}: timing")
            try:
                res = convert_bag(Path(bag), cfg, bag_index=len(sources), typestore=typestore, progress=bar)
                if not res.episodes:
                    raise BagError(
                        bag, "no episode with at least --min-episode-steps valid ticks (stale or missing sensor data?)"
                    )
            except Exception as e:
                msg = str(e) if isinstance(e, BagError) else f"bag {bag}: {type(e).__name__}: {e}"
                summary.failed.append((str(bag), msg))
                bar.update(1)
                continue
            if writer is None:
                if cfg.out.exists():  # check_output made sure it is a store this tool wrote
                    shutil.rmtree(cfg.out)
                writer = EpisodeWriter(
                    cfg.out,
                    {"created_by": f"{STORE_MARKER} " + shlex.join(argv or [])},
                    image_shape=(cfg.image_size, cfg.image_size),
                    action_dim=action_dim,
                    proprio_dim=len(PROPRIO_NAMES),
                )
            for ep in res.episodes:
                writer.add_episode(
                    image=ep["image"],
                    action=ep["action"],
                    proprio=ep["proprio"],
                    reward=ep["reward"],
                    is_terminal=ep["is_terminal"],
                    extra=ep["extra"],
                )
                summary.steps += len(ep["reward"])
            summary.episodes += len(res.episodes)
            files = bag_files(Path(bag))
            sources.append(
                {
                    "path": str(bag),
                    "sha256": file_sha256(files),
                    "files": [p.name for p in files],
                    "namespace": res.namespace,
                    "problems": res.problems,
                }
            )
            summary.converted.append(str(bag))
            res.warnings = bag_warnings(res)
            summary.warnings += [(str(bag), w) for w in res.warnings]
            res.episodes = []  # written: free the images
            results.append(res)
            bar.update(1)
        if writer is not None:
            writer.meta.update(build_meta(cfg, results, sources, argv or []))
            writer.close()
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t0
    if cfg.report and summary.converted:  # nothing written: no report folder either (stderr says why)
        if report_dir.exists():  # check_output made sure it is a report this tool wrote
            shutil.rmtree(report_dir)
        summary.report = write_report(report_dir, cfg, results, summary)
    return summary


def build_meta(
    cfg: BagToDatasetConfig, results: list[BagResult], sources: list[dict], argv: list[str]
) -> dict[str, Any]:
    sim = any(CLOCK in r.streams or CUBE in r.streams for r in results)
    rates = {}
    for rel in (IMAGE, JOINTS, IMU, CMD, JCMD, CUBE, BASE):
        per_bag = [
            r.quality["topics"][rel]["rate_hz"]
            for r in results
            if "rate_hz" in r.quality.get("topics", {}).get(rel, {})
        ]
        if per_bag:
            rates[rel] = float(np.median(per_bag))
    if cfg.action == "cmd_vel":
        action = {
            "names": list(CMD_NAMES),
            "low": list(cfg.cmd_low),
            "high": list(cfg.cmd_high),
            "source": "cmd_vel (geometry_msgs/Twist linear.x, linear.y, angular.z): the latest command received at or "
            f"before the tick; 0 when none or older than {cfg.command_timeout} s",
        }
    else:
        action = {
            "names": list(JOINT_NAMES),
            "low": [float(v) for v in JOINT_LOWER],
            "high": [float(v) for v in JOINT_UPPER],
            "source": "joint_commands position targets (by name, Unitree order): the latest at or before the tick",
        }
    from quadruped_bridge.tasks import GoalTask

    goal = GoalTask()
    rewards = {
        "sim": f"sim: reward[t] = -|cube_xy - goal_xy| - {cfg.sim_robot_weight} "
        f"* max(|base_xy - cube_xy| - {cfg.sim_contact_radius}, 0) "
        "(metres) on the ground-truth poses (sim/cube_pose, sim/base_pose) at t + 1/rate; goal from sim/goal_pose "
        f"(latest at or before the tick) or --goal {cfg.goal}",
        "sim-progress": f"sim-progress: reward[t] = rate * (phi(t + 1/rate) - phi(t)), rate {cfg.rate:g} Hz, with "
        f"phi = -|cube_xy - goal_xy| - {cfg.sim_robot_weight} * max(|base_xy - cube_xy| - {cfg.sim_contact_radius}, 0) "
        "(metres) on the ground-truth poses (sim/cube_pose, sim/base_pose); goal from sim/goal_pose (latest at or "
        f"before the tick) or --goal {cfg.goal}. An episode's return telescopes to rate * (phi(end) - phi(start))",
        "goal-progress": "goal-progress: reward[t] = rate * (d(t) - d(t + 1/rate)) "
        f"+ {goal.success_bonus:g} if the step ends within {goal.success_radius:g} m of the marker (having started "
        f"outside), rate {cfg.rate:g} Hz, d = planar "
        "distance (m) from sim/base_pose to sim/goal_pose (the goal task, quadruped_bridge.tasks.GoalTask)",
        "events": "events: reward[t] = +1 on the last step of an episode ended by 'success', -1 by 'fail', else 0",
        "proprio": "proprio: reward[t] = -|gravity_xy| - 0.01 * mean(joint_vel^2) on the proprio features of "
        "step t+1 (the last step: its own)",
    }
    return {
        "source": "go2-sim" if sim else "go2",
        "policy_rate_hz": cfg.rate,
        "rates_hz": rates,
        "image": {
            "height": cfg.image_size,
            "width": cfg.image_size,
            "preprocess": "camera frame (rgb8/bgr8/rgba8/bgra8/mono8 -> RGB) -> cv2.resize to (size, size), "
            "INTER_AREA, no crop",
        },
        "action": action,
        "proprio": {
            "names": list(PROPRIO_NAMES),
            "description": "joint_pos/joint_vel: latest joint_states at or before the tick, by name in Unitree order "
            "(velocity by finite difference when the message has none); gravity: unit gravity vector in the IMU "
            "frame from imu/data orientation (from the accelerometer when there is none); "
            "gyro: imu/data angular velocity (rad/s)",
        },
        "joint_names": list(JOINT_NAMES),
        "camera_info": next((r.camera_info for r in results if r.camera_info), None),
        "reward_source": rewards[cfg.reward_source],
        "source_bags": sources,
        "extra": {
            "time": "tick time (s) on the bags' header-stamp clock",
            "image_age": "tick time minus the stamp of the frame used (s)",
            "success": "the transition ended the episode with a 'success' event (aligned with reward)",
            "bag": "index into meta.source_bags",
            "state": "sim only: [base_x, base_y, base_yaw, cube_x, cube_y, cube_yaw, goal_x, goal_y] at the tick "
            "(goal-progress: [base_x, base_y, base_yaw, goal_x, goal_y])",
        },
        "created_by": "fog dataset " + shlex.join(argv),
        "config": {
            k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k == "bags" else v)
            for k, v in dataclasses.asdict(cfg).items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = tyro.cli(BagToDatasetConfig, args=argv, prog="fog dataset", description=__doc__)
    try:
        summary = convert(cfg, argv)
    except (FileExistsError, ValueError) as e:  # refused options and --out (OutputError): nothing done
        print(f"fog dataset: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up while writing
        print(f"fog dataset: error: writing {cfg.out} failed: {e}", file=sys.stderr)
        return 2
    for note in summary.notes:
        print(f"fog dataset: {note}", file=sys.stderr)
    for bag, warning in summary.warnings:
        print(f"fog dataset: warning: bag {bag}: {warning}", file=sys.stderr)
    for _bag, err in summary.failed:
        print(f"fog dataset: FAILED {err}", file=sys.stderr)
    if not summary.converted:
        print(f"fog dataset: no bag converted; nothing written to {cfg.out}", file=sys.stderr)
        return 2
    print(
        f"wrote {cfg.out}: {summary.episodes} episodes, {summary.steps} steps from {len(summary.converted)} bag(s) "
        f"in {summary.seconds:.1f} s; {len(summary.failed)} failed, {len(summary.warnings)} warning(s)"
        + (f"; report {summary.report}/report.md" if summary.report else "")
    )
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
