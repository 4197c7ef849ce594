"""quadruped_bridge.network_policy as pure functions (no DDS): domain and discovery range, and their
use by process_launch.ros_env."""

import pytest
from quadruped_bridge import network_policy as npol
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
