"""Which topic of a bag plays which role of the contract (fog_contract.topics), and its type.

A bag names the contract topics relative to a namespace ('' or '/go2'), or under other names that
``--topic ROLE=NAME`` maps; a camera recorded only compressed is read from
``camera/image_raw/compressed``. Pure: no bag is opened here.
"""

from __future__ import annotations

from pathlib import Path

from fog_contract import topics

from fog_training.data.bag_reader import BagError

# Relative topic names of the contract; a namespace may prefix them.
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

EXPECTED_TYPES = {
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
"""The message types each contract topic may have in a bag."""

POSE_REWARDS = ("sim", "sim-progress")
"""Reward sources computed from the ground-truth poses (they need sim/cube_pose and sim/base_pose)."""


def resolve_namespace(bag_topics: dict[str, str], namespace: str, bag: Path) -> str:
    """The namespace prefix ('' or '/ns') under which the contract topics live in this bag."""
    if namespace != "auto":
        ns = namespace.strip().strip("/")
        return f"/{ns}" if ns else ""
    found = set()
    for suffix in ("/" + IMAGE, f"/{IMAGE}/compressed"):
        found |= {t[: -len(suffix)] for t in bag_topics if t == suffix or t.endswith(suffix)}
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


def topic_names(
    bag_topics: dict[str, str], namespace: str, topic_map: tuple[str, ...] | list[str], bag: Path
) -> tuple[str, dict[str, str]]:
    """The namespace and the full topic name of every relative contract topic in this bag: the
    namespace prefix, then ``--topic`` mappings; a camera only recorded compressed
    (``camera/image_raw/compressed``) is read from there."""
    ns = resolve_namespace(bag_topics, namespace, bag)
    full = {rel: (rel if rel.startswith("/") else f"{ns}/{rel}") for rel in EXPECTED_TYPES}
    mapped = parse_topic_map(topic_map)
    if IMAGE not in mapped and full[IMAGE] not in bag_topics and f"{full[IMAGE]}/compressed" in bag_topics:
        full[IMAGE] += "/compressed"
    full.update(mapped)
    names = list(full.values())
    taken = [t for t in names if names.count(t) > 1]
    if taken:
        raise BagError(bag, "--topic gives this topic a role that another contract topic already has", taken[0])
    return ns, full


def required_topics(action: str, reward_source: str) -> list[str]:
    """The relative topics a bag must hold for this action and reward source."""
    req = [IMAGE, JOINTS, IMU, CMD if action == "cmd_vel" else JCMD]
    if reward_source in POSE_REWARDS:
        req += [CUBE, BASE]
    if reward_source == "goal-progress":
        req += [BASE, GOAL]
    if reward_source == "events":
        req += [EVENT]
    return req


def check_topics(
    bag_topics: dict[str, str], full: dict[str, str], action: str, reward_source: str, bag: Path
) -> set[str]:
    """The relative contract topics present in the bag; BagError naming the first required one
    missing, or a present one of the wrong type."""
    present = {rel for rel, f in full.items() if f in bag_topics}
    missing = [full[r] for r in required_topics(action, reward_source) if r not in present]
    if missing:
        why = f"required topic is missing (needed for --action {action} --reward-source {reward_source})"
        if len(missing) > 1:
            why += f"; also missing: {', '.join(missing[1:])}"
        why += "; --topic ROLE=NAME reads a role from another topic"
        raise BagError(bag, why, missing[0])
    for rel in present:
        if bag_topics[full[rel]] not in EXPECTED_TYPES[rel]:
            expected = " or ".join(EXPECTED_TYPES[rel])
            raise BagError(bag, f"has type {bag_topics[full[rel]]}, expected {expected}", full[rel])
    return present
