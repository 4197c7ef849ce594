"""The network policy and the command-source lock as pure functions (no DDS)."""

import pytest
from quadruped_bridge import network_policy as npol
from quadruped_bridge.command_source import UNKNOWN, CommandSourceLock
from quadruped_bridge.process_launch import ros_env


def test_no_ros_variables_means_project_domain_and_localhost():
    pol = npol.resolve(env={})
    assert (pol.domain_id, pol.discovery_range) == (npol.PROJECT_DOMAIN_ID, "LOCALHOST")
    assert npol.PROJECT_DOMAIN_ID != 0
    env = {"ROS_LOCALHOST_ONLY": "0"}
    npol.apply_defaults(env)
    assert env == {"ROS_DOMAIN_ID": "42", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def test_precedence_argument_then_environment_then_project_default():
    env = {"ROS_DOMAIN_ID": "7", npol.DOMAIN_ENV: "9", "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}
    assert npol.resolve("localhost", 5, env).domain_id == 5
    assert npol.resolve("localhost", None, env).discovery_range == "LOCALHOST"
    assert npol.resolve(None, None, env) == npol.NetworkPolicy(7, "SUBNET", "ROS_DOMAIN_ID",
                                                                 "ROS_AUTOMATIC_DISCOVERY_RANGE")
    assert npol.resolve(None, None, {npol.DOMAIN_ENV: "9"}).domain_id == 9
    assert npol.resolve("lan", None, {}).discovery_range == "SUBNET"
    for bad in (("wan", None), (None, 300), (None, "x")):
        with pytest.raises(ValueError):
            npol.resolve(*bad, env={})


def test_ros_env_is_localhost_unless_lan():
    assert ros_env(150)["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert ros_env(150, network="lan")["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    assert ros_env(150)["ROS_DOMAIN_ID"] == "150"


A, B, C = b"a" * 16, b"b" * 16, b"c" * 16
NAMES = {A: "/locomotion", B: "/intruder", C: "/ns/locomotion"}


def test_lock_takes_the_armed_publisher_only_until_disarmed():
    lock = CommandSourceLock("joint_commands", names=NAMES.get)
    assert lock.admit(A).accepted and lock.admit(B).accepted  # unarmed: anyone may arm
    lock.arm(A)
    assert lock.admit(A).accepted
    verdict = lock.admit(B)
    assert not verdict.accepted and "foreign publisher /intruder" in verdict.reason and "armed to /locomotion" in (
        verdict.reason)
    assert lock.status()["joint_commands/foreign_rejected"] == "1"
    lock.disarm()
    assert lock.admit(B).accepted


def test_configured_source_by_node_name_or_full_name():
    lock = CommandSourceLock("cmd_vel", "locomotion", names=NAMES.get)
    assert lock.admit(A).accepted and lock.admit(C).accepted and not lock.admit(B).accepted
    full = CommandSourceLock("cmd_vel", "/ns/locomotion", names=NAMES.get)
    assert full.admit(C).accepted and not full.admit(A).accepted
    with pytest.raises(ValueError):
        CommandSourceLock("cmd_vel", on_foreign="ignore")


def test_second_publisher_reported_once_and_only_while_armed():
    lock = CommandSourceLock("joint_commands", names=NAMES.get)
    assert lock.new_publishers([(A, "/locomotion"), (B, "/intruder")]) == []  # unarmed
    lock.arm(A)
    assert lock.new_publishers([(A, "/locomotion")]) == []
    first = lock.new_publishers([(A, "/locomotion"), (B, UNKNOWN)])
    assert first == []  # not named yet: wait for the node's name
    named = lock.new_publishers([(B, "/intruder")])
    assert len(named) == 1 and "second publisher on joint_commands while armed: /intruder" in named[0]
    assert lock.new_publishers([(B, "/intruder")]) == []
