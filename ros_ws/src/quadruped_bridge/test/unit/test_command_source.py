"""quadruped_bridge.command_source: the command-source lock, GIDs, graph names and the bridges' guard
(pure: GIDs as bytes, a stand-in for the node's graph queries, the real safety layer)."""

from types import SimpleNamespace

import numpy as np
import pytest
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
from quadruped_bridge.command_source import (
    UNKNOWN,
    BridgeCommandGuard,
    CommandSourceLock,
    GraphNames,
    gid_of,
    short_gid,
)
from quadruped_bridge.safety import Mode, SafetyConfig, SafetyLayer

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


def test_gid_of_message_info_and_short_gid():
    raw = bytes(range(24))  # some rmw pad the GID to 24 bytes: 16 identify the endpoint
    assert gid_of({"publisher_gid": {"data": raw}}) == raw[:16]
    assert gid_of({"publisher_gid": raw}) == raw[:16]
    assert gid_of({}) == b"" and gid_of(None) == b"" and gid_of("not a dict") == b""
    assert short_gid(raw[:16]) == raw[:12].hex() + "." + raw[12:16].hex()
    assert short_gid(b"") == "unknown"


def test_status_says_owner_or_who_may_arm():
    lock = CommandSourceLock("cmd_vel", "locomotion", names=NAMES.get)
    assert lock.status() == {"cmd_vel/source": "unarmed (only locomotion)", "cmd_vel/foreign_rejected": "0"}
    assert not lock.admit(B).accepted
    lock.arm(C)
    status = lock.status()
    assert status["cmd_vel/source"] == f"/ns/locomotion ({short_gid(C)})"
    assert status["cmd_vel/last_foreign"] == f"/intruder ({short_gid(B)})"
    assert CommandSourceLock("x").status()["x/source"] == "unarmed (first to arm)"


class FakeGraph:
    """A node's graph queries: the publishers on a topic, as rclpy's TopicEndpointInfo would list them."""

    def __init__(self, endpoints):
        self.endpoints = endpoints  # [(gid, namespace, node name)]
        self.queries = 0

    def resolve_topic_name(self, topic):
        return "/" + topic

    def get_publishers_info_by_topic(self, topic):
        self.queries += 1
        assert topic == "/joint_commands"
        return [SimpleNamespace(endpoint_gid=list(g) + [0] * 8, node_namespace=ns, node_name=n)
                for g, ns, n in self.endpoints]


def test_graph_names_by_gid_unknown_until_named():
    graph = FakeGraph([(A, "/", "locomotion"), (C, "/ns", "locomotion"), (B, "/", "_NODE_NAME_UNKNOWN_")])
    names = GraphNames(graph, "joint_commands")
    assert names.publishers() == [(A, "/locomotion"), (C, "/ns/locomotion"), (B, UNKNOWN)]
    assert names(A) == "/locomotion"
    n = graph.queries
    assert names(C) == "/ns/locomotion" and graph.queries == n  # known: no new query
    assert names(B) == UNKNOWN and graph.queries == n + 1  # not named yet: asked again, not cached
    graph.endpoints[2] = (B, "/", "intruder")
    assert names(B) == "/intruder"

    class Gone:
        def resolve_topic_name(self, topic):
            raise RuntimeError("context shut down")

    assert GraphNames(Gone(), "joint_commands").publishers() == []


def standing(config=SafetyConfig(soft_start_duration=0.5)) -> SafetyLayer:
    layer = SafetyLayer(config)
    for k in range(60):
        layer.update_state(0.01 * k, STAND_POSE, np.zeros(12), 0.0, 0.0)
        layer.motor_command(0.01 * k)
    assert layer.mode is Mode.STAND
    return layer


def command():
    return SimpleNamespace(name=JOINT_NAMES, position=STAND_POSE, velocity=[], effort=[])


def info(gid):
    return {"publisher_gid": {"data": gid}}


def test_guard_arms_to_the_publisher_that_activates_and_rejects_others():
    safety = standing()
    guard = BridgeCommandGuard(FakeGraph([(A, "/", "locomotion"), (B, "/", "intruder")]), safety)
    assert guard.submit(0.6, command(), info(A))
    assert safety.mode is Mode.ACTIVE and guard.lock.owner == A
    assert any("joint_commands locked to /locomotion" in e.message for e in safety.drain_events())
    assert not guard.submit(0.61, command(), info(B))
    assert safety.counters["foreign"] == 1 and safety.mode is Mode.ACTIVE  # 'reject': reported, no damping
    (event,) = safety.drain_events()
    assert event.level == "ERROR" and "foreign publisher /intruder" in event.message
    guard.check_graph(0.62, guard.publishers())  # the intruder seen on the graph: reported once
    assert safety.counters["foreign"] == 2
    guard.check_graph(0.63, guard.publishers())
    assert safety.counters["foreign"] == 2
    guard.reset()
    assert guard.status()["joint_commands/source"].startswith("unarmed")


def test_guard_damps_on_a_foreign_publisher_when_so_configured():
    safety = standing()
    guard = BridgeCommandGuard(FakeGraph([(A, "/", "locomotion"), (B, "/", "intruder")]), safety,
                               on_foreign="damping")
    assert guard.submit(0.6, command(), info(A)) and guard.lock.owner == A
    assert not guard.submit(0.61, command(), info(B))
    assert safety.mode is Mode.DAMPING and "latched until reset" in safety.mode_reason
    with pytest.raises(ValueError, match="must be one of"):
        BridgeCommandGuard(FakeGraph([]), safety, on_foreign="ignore")
