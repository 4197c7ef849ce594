"""quadruped_bridge.ros_params on a real rclpy node (in this process, its own context and domain)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import rclpy
from quadruped_bridge.ros_params import declare_config
from quadruped_bridge.ros_probe import private_domain_id
from quadruped_bridge.safety import SafetyConfig
from rclpy.parameter import Parameter


@pytest.fixture
def make_node():
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=private_domain_id())
    nodes = []

    def make(overrides: dict):
        node = rclpy.create_node("params_under_test", context=ctx,
                                 parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.destroy_node()
    rclpy.shutdown(context=ctx)


@dataclass(frozen=True)
class Example:
    rate_hz: float = 50.0
    """Loop rate."""
    name: str = "x"
    """A name."""
    safety: SafetyConfig = field(default_factory=lambda: SafetyConfig(kp=30.0))
    """The safety group."""


def test_fields_become_parameters_and_a_group_nests_under_its_prefix(make_node):
    node = make_node({"rate_hz": 20.0, "safety.kp": 42.0, "safety.command_timeout": 0.05,
                      "safety.stand_pose": [0.0, 0.8, -1.6] * 4})
    cfg = declare_config(node, Example)
    assert cfg.rate_hz == 20.0 and cfg.name == "x"
    assert cfg.safety.kp == 42.0 and cfg.safety.command_timeout == 0.05
    assert cfg.safety.stand_pose == (0.0, 0.8, -1.6) * 4
    assert cfg.safety.state_timeout == SafetyConfig().state_timeout  # not given: the class default
    assert node.get_parameter("safety.kd").value == SafetyConfig().kd
    # the group's own defaults (kp 30 here) when nothing overrides them
    assert declare_config(make_node({}), Example).safety.kp == 30.0
    # each parameter carries its field's docstring
    desc = node.describe_parameter("safety.command_timeout").description
    assert "watchdog" in desc.lower(), desc


def test_a_wrong_type_fails_at_start_up_naming_the_parameter(make_node):
    from rclpy.exceptions import InvalidParameterTypeException

    with pytest.raises(InvalidParameterTypeException, match="safety.kp"):
        declare_config(make_node({"safety.kp": "high"}), Example)


def test_params_file_problems_names_unknown_and_mistyped_entries():
    from quadruped_bridge.ros_params import params_file_problems

    assert params_file_problems(Example, {"rate_hz": 5, "safety": {"kp": 40.0, "stand_pose": [0.0] * 12}}) == []
    assert params_file_problems(Example, {"safety.kd": 1.0}) == []
    assert params_file_problems(Example, {"kp": 40.0, "safety": {"kpp": 1.0, "kd": "x"}, "name": 3}) == [
        "kp: not a parameter of Example",  # the old flat name: ROS would ignore it silently
        "safety.kpp: not a parameter of SafetyConfig",
        "safety.kd: 'x' is not a float",
        "name: 3 is not a str",
    ]
    assert params_file_problems(Example, {"safety": 1.0}) == ["safety: a group (SafetyConfig): expected a map, got 1.0"]
