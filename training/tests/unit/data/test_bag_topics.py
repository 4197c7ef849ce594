"""fog_training.data.bag_topics: the namespace of a bag's contract topics (resolve_namespace), the
``--topic ROLE=NAME`` mapping (parse_topic_map), the full topic names of a bag (topic_names), the
topics an action/reward source needs (required_topics) and the checks on a bag's topics (check_topics)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fog_training.data.bag_reader import BagError
from fog_training.data.bag_topics import (
    BASE,
    CLOCK,
    CMD,
    CUBE,
    EVENT,
    EXPECTED_TYPES,
    GOAL,
    IMAGE,
    IMU,
    JCMD,
    JOINTS,
    TOPIC_ROLES,
    check_topics,
    parse_topic_map,
    required_topics,
    resolve_namespace,
    topic_names,
)

BAG = Path("/bags/run1")
IMG, JS, IMUT, TW = (
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/JointState",
    "sensor_msgs/msg/Imu",
    "geometry_msgs/msg/Twist",
)


def robot_bag(ns: str = "") -> dict[str, str]:
    """The topics of a bag that holds what --action cmd_vel --reward-source none needs."""
    return {f"{ns}/{IMAGE}": IMG, f"{ns}/{JOINTS}": JS, f"{ns}/{IMU}": IMUT, f"{ns}/{CMD}": TW}


# ---- resolve_namespace


@pytest.mark.parametrize(("given", "expected"), [("", ""), ("go2", "/go2"), ("/go2/", "/go2"), (" / ", "")])
def test_explicit_namespace_is_normalised_to_a_leading_slash(given, expected):
    assert resolve_namespace({}, given, BAG) == expected, f"--namespace {given!r} should give {expected!r}"


def test_auto_namespace_is_found_from_the_camera_topic():
    assert resolve_namespace(robot_bag("/go2"), "auto", BAG) == "/go2"
    assert resolve_namespace(robot_bag(), "auto", BAG) == ""
    assert resolve_namespace({f"/robot/a/{IMAGE}/compressed": "x"}, "auto", BAG) == "/robot/a"


def test_auto_namespace_without_a_camera_is_the_root():
    assert resolve_namespace({"/joint_states": JS}, "auto", BAG) == ""


def test_auto_namespace_with_two_cameras_names_both_and_the_bag():
    bag_topics = {f"/a/{IMAGE}": IMG, f"/b/{IMAGE}/compressed": "x"}
    with pytest.raises(BagError, match="several namespaces") as e:
        resolve_namespace(bag_topics, "auto", BAG)
    assert "['/a', '/b']" in str(e.value) and str(BAG) in str(e.value) and "--namespace" in str(e.value)
    assert e.value.topic == IMAGE


# ---- parse_topic_map


def test_topic_map_adds_a_leading_slash_and_strips_blanks():
    out = parse_topic_map(["camera=/front/rgb", " imu = imu_raw ", "events=ev"])
    assert out == {IMAGE: "/front/rgb", IMU: "/imu_raw", EVENT: "/ev"}


def test_every_role_can_be_mapped():
    out = parse_topic_map([f"{role}=/t{i}" for i, role in enumerate(TOPIC_ROLES)])
    assert sorted(out) == sorted(TOPIC_ROLES.values()), "each role maps its own contract topic"


def test_empty_topic_map_is_empty():
    assert parse_topic_map(()) == {}


@pytest.mark.parametrize("entry", ["camera", "camera=", "=/x", "lidar=/scan", "Camera=/x", "sim/cube_pose=/x"])
def test_bad_topic_map_entry_is_named_with_the_roles(entry):
    with pytest.raises(ValueError, match="expected ROLE=NAME") as e:
        parse_topic_map([entry])
    assert repr(entry) in str(e.value), "the bad entry is quoted"
    assert all(role in str(e.value) for role in TOPIC_ROLES), "the valid roles are listed"


def test_one_topic_mapped_to_two_roles_is_refused():
    with pytest.raises(ValueError, match="already mapped to another role") as e:
        parse_topic_map(["cmd_vel=/cmd", "joint_commands=cmd"])
    assert "'joint_commands=cmd'" in str(e.value) and "/cmd" in str(e.value)


# ---- topic_names


def test_topic_names_prefix_the_namespace_but_not_absolute_topics():
    ns, full = topic_names(robot_bag("/go2"), "auto", [], BAG)
    assert ns == "/go2"
    assert set(full) == set(EXPECTED_TYPES), "every contract topic has a full name"
    assert full[IMAGE] == f"/go2/{IMAGE}" and full[CUBE] == f"/go2/{CUBE}"
    assert full[CLOCK] == "/clock", "/clock is absolute: never namespaced"


def test_camera_recorded_only_compressed_is_read_from_compressed():
    bag_topics = {f"/{IMAGE}/compressed": "sensor_msgs/msg/CompressedImage"}
    _, full = topic_names(bag_topics, "auto", [], BAG)
    assert full[IMAGE] == f"/{IMAGE}/compressed"


def test_raw_camera_wins_over_compressed():
    bag_topics = {f"/{IMAGE}": IMG, f"/{IMAGE}/compressed": "sensor_msgs/msg/CompressedImage"}
    assert topic_names(bag_topics, "auto", [], BAG)[1][IMAGE] == f"/{IMAGE}"


def test_mapped_topics_replace_the_contract_names_and_ignore_the_namespace():
    bag_topics = {"/front/rgb": IMG, "/front/rgb/compressed": "x", f"/go2/{JOINTS}": JS}
    ns, full = topic_names(bag_topics, "go2", ["camera=/front/rgb"], BAG)
    assert ns == "/go2" and full[IMAGE] == "/front/rgb", "a mapped camera is not redirected to /compressed"
    assert full[JOINTS] == f"/go2/{JOINTS}"


def test_mapping_onto_another_contract_topic_is_refused_naming_it():
    with pytest.raises(BagError, match="another contract topic already has") as e:
        topic_names(robot_bag(), "auto", ["joint_commands=/joint_states"], BAG)
    assert e.value.topic == "/joint_states" and str(BAG) in str(e.value)


def test_bad_mapping_in_topic_names_raises_value_error():
    with pytest.raises(ValueError, match="'nope=/x'"):
        topic_names(robot_bag(), "auto", ["nope=/x"], BAG)


# ---- required_topics


@pytest.mark.parametrize(
    ("action", "reward", "expected"),
    [
        ("cmd_vel", "none", [IMAGE, JOINTS, IMU, CMD]),
        ("joints", "none", [IMAGE, JOINTS, IMU, JCMD]),
        ("cmd_vel", "sim", [IMAGE, JOINTS, IMU, CMD, CUBE, BASE]),
        ("cmd_vel", "sim-progress", [IMAGE, JOINTS, IMU, CMD, CUBE, BASE]),
        ("joints", "goal-progress", [IMAGE, JOINTS, IMU, JCMD, BASE, GOAL]),
        ("cmd_vel", "events", [IMAGE, JOINTS, IMU, CMD, EVENT]),
    ],
)
def test_required_topics_follow_action_and_reward_source(action, reward, expected):
    assert required_topics(action, reward) == expected


# ---- check_topics


def test_check_topics_returns_the_present_contract_topics():
    bag_topics = robot_bag() | {"/other": "std_msgs/msg/String"}
    _, full = topic_names(bag_topics, "auto", [], BAG)
    assert check_topics(bag_topics, full, "cmd_vel", "none", BAG) == {IMAGE, JOINTS, IMU, CMD}


def test_missing_required_topic_is_named_with_the_others_and_the_hint():
    bag_topics = {f"/{JOINTS}": JS}
    _, full = topic_names(bag_topics, "auto", [], BAG)
    with pytest.raises(BagError) as e:
        check_topics(bag_topics, full, "cmd_vel", "sim", BAG)
    msg = str(e.value)
    assert e.value.topic == f"/{IMAGE}", "the first missing required topic is the one named"
    assert "--action cmd_vel --reward-source sim" in msg
    assert f"also missing: /{IMU}, /{CMD}, /{CUBE}, /{BASE}" in msg
    assert "--topic ROLE=NAME" in msg and str(BAG) in msg


def test_single_missing_topic_has_no_also_missing():
    bag_topics = robot_bag()
    del bag_topics[f"/{IMU}"]
    _, full = topic_names(bag_topics, "auto", [], BAG)
    with pytest.raises(BagError, match="required topic is missing") as e:
        check_topics(bag_topics, full, "cmd_vel", "none", BAG)
    assert e.value.topic == f"/{IMU}" and "also missing" not in str(e.value)


def test_wrong_type_of_a_present_topic_is_named_with_the_expected_types():
    bag_topics = robot_bag() | {f"/{CMD}": "std_msgs/msg/String"}
    _, full = topic_names(bag_topics, "auto", [], BAG)
    with pytest.raises(BagError, match="has type std_msgs/msg/String") as e:
        check_topics(bag_topics, full, "cmd_vel", "none", BAG)
    assert e.value.topic == f"/{CMD}"
    assert "expected geometry_msgs/msg/Twist or geometry_msgs/msg/TwistStamped" in str(e.value)


def test_wrong_type_of_an_optional_topic_is_refused_too():
    bag_topics = robot_bag() | {CLOCK: "std_msgs/msg/Header"}
    _, full = topic_names(bag_topics, "auto", [], BAG)
    with pytest.raises(BagError, match="expected rosgraph_msgs/msg/Clock") as e:
        check_topics(bag_topics, full, "cmd_vel", "none", BAG)
    assert e.value.topic == CLOCK


def test_mapped_topic_satisfies_the_requirement():
    bag_topics = robot_bag()
    bag_topics["/front/rgb"] = bag_topics.pop(f"/{IMAGE}")
    _, full = topic_names(bag_topics, "auto", ["camera=front/rgb"], BAG)
    assert IMAGE in check_topics(bag_topics, full, "cmd_vel", "none", BAG)
