"""The project's one network policy: which ROS domain and discovery range a node runs with.

Safe by default: unless the user chooses otherwise, every entry point (`fog deploy`, `fog collect`,
the launch files, every node's `main`, the Docker entrypoint) runs the ROS graph

  - on the project's ROS domain, PROJECT_DOMAIN_ID (42), never the ROS default 0 that every
    other ROS machine on the network uses (and that the Go2's own DDS traffic uses);
  - with discovery limited to this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).

The user chooses otherwise deliberately:

  - the domain: an explicit argument (`--domain-id`, `domain_id:=`), else ROS_DOMAIN_ID when it is
    set in the environment, else FOG_ROS_DOMAIN_ID (the project default, configurable), else 42;
  - the range: the `network` argument (`--network lan`, `network:=lan`: the subnet), else
    ROS_AUTOMATIC_DISCOVERY_RANGE when it is set, else LOCALHOST.

rcl reads both variables when a context is initialised, so `apply()` must run before rclpy.init
(quadruped_bridge.clean_exit.init does). Each node reports what it runs with: `report(node)` logs
it once and returns the values every node puts on /diagnostics.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass

PROJECT_DOMAIN_ID = 42
"""The ROS domain of the project's graph when nothing else is chosen (not 0, the ROS default)."""
DOMAIN_ENV = "FOG_ROS_DOMAIN_ID"
"""Environment variable that changes the project default domain (for a machine where 42 is taken)."""
NETWORKS = {"localhost": "LOCALHOST", "lan": "SUBNET"}
"""`network` argument -> ROS_AUTOMATIC_DISCOVERY_RANGE."""
RANGES = {"LOCALHOST", "SUBNET", "SYSTEM_DEFAULT", "OFF"}
MAX_DOMAIN_ID = 232


@dataclass(frozen=True)
class NetworkPolicy:
    domain_id: int
    """ROS_DOMAIN_ID of the graph."""
    discovery_range: str
    """ROS_AUTOMATIC_DISCOVERY_RANGE: LOCALHOST (default) or SUBNET (network lan)."""
    domain_from: str
    """Where the domain came from: argument, ROS_DOMAIN_ID, FOG_ROS_DOMAIN_ID or project default."""
    range_from: str
    """Where the range came from: argument, ROS_AUTOMATIC_DISCOVERY_RANGE or project default."""

    def describe(self) -> str:
        return (f"ROS domain {self.domain_id} ({self.domain_from}), discovery {self.discovery_range} "
                f"({self.range_from})")


def parse_domain(value, what: str) -> int:
    try:
        domain = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{what}: ROS domain id must be an integer, got {value!r}") from None
    if not 0 <= domain <= MAX_DOMAIN_ID:
        raise ValueError(f"{what}: ROS domain id must be in [0, {MAX_DOMAIN_ID}], got {domain}")
    return domain


def resolve(network: str | None = None, domain_id: int | str | None = None,
            env: MutableMapping[str, str] | None = None) -> NetworkPolicy:
    """The domain and range to run with (see the module docstring for the order of precedence)."""
    env = os.environ if env is None else env
    if domain_id not in (None, ""):
        domain, domain_from = parse_domain(domain_id, "domain_id argument"), "argument"
    elif env.get("ROS_DOMAIN_ID", "").strip():
        domain, domain_from = parse_domain(env["ROS_DOMAIN_ID"], "ROS_DOMAIN_ID"), "ROS_DOMAIN_ID"
    elif env.get(DOMAIN_ENV, "").strip():
        domain, domain_from = parse_domain(env[DOMAIN_ENV], DOMAIN_ENV), DOMAIN_ENV
    else:
        domain, domain_from = PROJECT_DOMAIN_ID, "project default"
    if network not in (None, ""):
        key = str(network).strip().lower()
        if key not in NETWORKS:
            raise ValueError(f"network {network!r}: expected one of {sorted(NETWORKS)}")
        rng, range_from = NETWORKS[key], f"network {key}"
    elif env.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").strip():
        rng = env["ROS_AUTOMATIC_DISCOVERY_RANGE"].strip().upper()
        if rng not in RANGES:
            raise ValueError(f"ROS_AUTOMATIC_DISCOVERY_RANGE={rng!r}: expected one of {sorted(RANGES)}")
        range_from = "ROS_AUTOMATIC_DISCOVERY_RANGE"
    else:
        rng, range_from = "LOCALHOST", "project default"
    return NetworkPolicy(domain, rng, domain_from, range_from)


def apply(policy: NetworkPolicy, env: MutableMapping[str, str] | None = None) -> NetworkPolicy:
    """Write the policy into the environment (this process's by default, before rclpy.init)."""
    env = os.environ if env is None else env
    env["ROS_DOMAIN_ID"] = str(policy.domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = policy.discovery_range
    env.pop("ROS_LOCALHOST_ONLY", None)  # the deprecated switch would fight the range
    return policy


def apply_defaults(env: MutableMapping[str, str] | None = None) -> NetworkPolicy:
    """Fill in what the user has not chosen (a node's main, before rclpy.init)."""
    return apply(resolve(env=env), env)


def security_state(env: MutableMapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("ROS_SECURITY_ENABLE", "").lower() != "true":
        return "off"
    return (f"{env.get('ROS_SECURITY_STRATEGY', 'Permissive')} "
            f"(keystore {env.get('ROS_SECURITY_KEYSTORE', '?')})")


def values(context=None, env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """What a node runs with, for /diagnostics: the context's domain and the effective range."""
    env = os.environ if env is None else env
    domain = context.get_domain_id() if context is not None else resolve(env=env).domain_id
    return {
        "ros_domain_id": str(domain),
        "discovery_range": env.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").strip().upper() or "SUBNET (ROS default)",
        "security": security_state(env),
    }


def report(node) -> dict[str, str]:
    """Log the node's domain, range and security once; return them for its /diagnostics."""
    vals = values(node.context)
    node.get_logger().info(
        f"network: ROS domain {vals['ros_domain_id']}, discovery range {vals['discovery_range']}, "
        f"security {vals['security']}")
    return vals


def launch_arguments():
    """The launch arguments of the policy (ros2 launch only: needs ROS 2's launch package)."""
    from launch.actions import DeclareLaunchArgument

    return [
        DeclareLaunchArgument("network", default_value="localhost",
                              description="discovery range: localhost, or lan (the subnet, deliberately)"),
        DeclareLaunchArgument("domain_id", default_value="",
                              description=f"ROS domain (default: ROS_DOMAIN_ID, else {DOMAIN_ENV}, else "
                                          f"{PROJECT_DOMAIN_ID})"),
    ]


def launch_environment(context) -> list:
    """SetEnvironmentVariable actions for every process the launch starts after them (ros2 launch)."""
    from launch.actions import LogInfo, SetEnvironmentVariable

    get = context.launch_configurations.get
    net = resolve(get("network") or None, get("domain_id") or None, dict(os.environ))
    return [SetEnvironmentVariable("ROS_DOMAIN_ID", str(net.domain_id)),
            SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", net.discovery_range),
            LogInfo(msg=f"network: {net.describe()}")]
