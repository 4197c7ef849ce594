"""fog_contract.topics: the topic table, its types, QoS kinds and rates."""

import dataclasses

import pytest
from fog_contract import topics


def test_topic_table():
    assert set(topics.COMMAND_TOPICS) == {"cmd_vel", "joint_commands"}
    assert topics.CONTRACT[topics.IMAGE].type == "sensor_msgs/msg/Image" and topics.CONTRACT[topics.IMAGE].sensor
    assert not topics.CONTRACT[topics.JOINT_COMMANDS].sensor, "commands are reliable"
    assert topics.CLOCK.startswith("/") and topics.DIAGNOSTICS.startswith("/")
    assert not set(topics.CONTRACT) & set(topics.SIM_TOPICS)


def test_each_entry_is_keyed_by_its_own_name_with_a_ros_interface_type():
    for table in (topics.CONTRACT, topics.SIM_TOPICS):
        for name, topic in table.items():
            assert topic.name == name
            pkg, kind, msg = topic.type.split("/")
            assert kind == "msg" and pkg.endswith("_msgs") and msg[0].isupper(), topic
            assert topic.rate_hz is None or topic.rate_hz > 0, topic
    assert all(t.startswith("sim/") for t in topics.SIM_TOPICS)


def test_names_are_relative_except_clock_and_diagnostics():
    absolute = {n for n in (*topics.CONTRACT, *topics.SIM_TOPICS) if n.startswith("/")}
    assert absolute == {topics.DIAGNOSTICS}
    assert topics.CLOCK not in topics.CONTRACT, "/clock is the simulator's, not recorded"


def test_rates_match_the_controllers_and_commands_are_contract_topics():
    assert topics.CONTRACT[topics.JOINT_COMMANDS].rate_hz == topics.LOCOMOTION_RATE_HZ
    assert topics.CONTRACT[topics.CMD_VEL].rate_hz == topics.POLICY_RATE_HZ
    assert topics.CONTRACT[topics.EPISODE_EVENT].rate_hz is None, "episode events come on events"
    assert set(topics.COMMAND_TOPICS) <= set(topics.CONTRACT)
    sensors = {n for n, t in topics.CONTRACT.items() if t.sensor}
    assert sensors == {topics.IMAGE, topics.CAMERA_INFO, topics.JOINT_STATES, topics.IMU}
    assert topics.COMMAND_QUEUE_DEPTH >= 2 * topics.LOCOMOTION_RATE_HZ


def test_topic_is_frozen():
    t = topics.CONTRACT[topics.IMU]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.rate_hz = 1.0  # type: ignore[misc]
    assert t == topics.Topic(topics.IMU, "sensor_msgs/msg/Imu", 200.0, True)
