"""Command-source lock: while armed, a command topic is taken from one publisher only.

The bridges (simulator and Go2) take joint_commands, and the locomotion node cmd_vel, from the
publisher they armed to (identified by its publisher GID, which rclpy hands to a subscription
callback that takes the message info) or, when `source` names a node, only from that node's
publishers. Any other publisher is rejected and named (node name and GID) on /diagnostics; a
second publisher that appears on the topic while armed is a safety event, whose action is
'reject' (its messages are dropped, the event is reported) or 'damping' (the bridge damps,
latched until its reset service). Disarming (the bridge's reset service, the locomotion node
stopping) lets the next command arm again.

`CommandSourceLock` is pure (GIDs as bytes, names from a callable), so its rules are unit-tested;
`GraphNames` maps GIDs to node names from a node's view of the ROS graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

ACTIONS = ("reject", "damping")
UNKNOWN = "unknown node"
GID_SIZE = 16
"""Bytes of a GID that identify the endpoint (rmw_fastrtps: 16; some rmw pad to 24)."""


def gid_of(info) -> bytes:
    """The publisher GID of a message info (rclpy MessageInfo dict) as bytes; b'' when absent."""
    gid = (info or {}).get("publisher_gid") if isinstance(info, dict) else None
    if not gid:
        return b""
    data = gid.get("data", b"") if isinstance(gid, dict) else gid
    return bytes(data)[:GID_SIZE]


def short_gid(gid: bytes) -> str:
    """The GID in hex: participant prefix (host, process, participant) '.' entity id."""
    return f"{gid[:12].hex()}.{gid[12:].hex()}" if gid else "unknown"


@dataclass
class Verdict:
    accepted: bool
    reason: str = ""


class CommandSourceLock:
    def __init__(
        self, topic: str, source: str = "", on_foreign: str = "reject", names: Callable[[bytes], str] | None = None
    ):
        if on_foreign not in ACTIONS:
            raise ValueError(f"foreign publisher action must be one of {ACTIONS}, got {on_foreign!r}")
        self.topic = topic
        self.source = source.strip()
        self.on_foreign = on_foreign
        self.names = names or (lambda gid: "?")
        self.owner: bytes | None = None
        self.owner_name = ""
        self.rejected = 0
        self.last_rejected = ""
        self._reported: set[bytes] = set()
        self._sightings: dict[bytes, int] = {}

    @property
    def armed(self) -> bool:
        return self.owner is not None

    def _matches_source(self, name: str) -> bool:
        """'locomotion' matches that node in any namespace; '/ns/locomotion' only that full name."""
        if not self.source:
            return True
        if self.source.startswith("/"):
            return name == self.source
        return name.rsplit("/", 1)[-1] == self.source

    def admit(self, gid: bytes) -> Verdict:
        """May a message from `gid` reach the safety layer now?"""
        if self.owner is not None:
            if gid == self.owner:
                return Verdict(True)
            return self._reject(gid, f"armed to {self.owner_name} ({short_gid(self.owner)})")
        if self.source:
            name = self.names(gid)
            if not self._matches_source(name):
                return self._reject(gid, f"only {self.source!r} may command", name)
        return Verdict(True)

    def _reject(self, gid: bytes, why: str, name: str | None = None) -> Verdict:
        name = name if name is not None else self.names(gid)
        self.rejected += 1
        self.last_rejected = f"{name} ({short_gid(gid)})"
        return Verdict(False, f"{self.topic} from foreign publisher {self.last_rejected} rejected: {why}")

    def arm(self, gid: bytes) -> str:
        """Lock to `gid` (the publisher whose command armed the robot); returns a message."""
        self.owner = gid
        self.owner_name = self.names(gid)
        self._reported = {gid}
        self._sightings = {}
        return f"{self.topic} locked to {self.owner_name} ({short_gid(gid)})"

    def disarm(self) -> None:
        self.owner = None
        self.owner_name = ""
        self._reported = set()
        self._sightings = {}

    def new_publishers(self, publishers: Iterable[tuple[bytes, str]]) -> list[str]:
        """Publishers on the topic other than the owner, each reported once while armed: the
        safety-event messages (empty when unarmed or nothing new)."""
        if self.owner is None:
            return []
        out = []
        for gid, name in publishers:
            if gid in self._reported:
                continue
            seen = self._sightings[gid] = self._sightings.get(gid, 0) + 1
            if name == UNKNOWN and seen < 8:
                continue  # the graph knows the endpoint before its node's name: report it once named
            self._reported.add(gid)
            out.append(
                f"second publisher on {self.topic} while armed: {name} ({short_gid(gid)}); "
                f"action {self.on_foreign} (armed to {self.owner_name})"
            )
        return out

    def status(self) -> dict[str, str]:
        return {
            f"{self.topic}/source": (
                f"{self.owner_name} ({short_gid(self.owner)})"
                if self.owner is not None
                else f"unarmed ({'only ' + self.source if self.source else 'first to arm'})"
            ),
            f"{self.topic}/foreign_rejected": str(self.rejected),
            **({f"{self.topic}/last_foreign": self.last_rejected} if self.last_rejected else {}),
        }


class GraphNames:
    """GID -> 'namespace/node' of the publishers on one topic, from `node`'s view of the graph
    (refreshed when a GID is not known yet)."""

    def __init__(self, node, topic: str):
        self.node = node
        self.topic = topic
        self._names: dict[bytes, str] = {}

    def publishers(self) -> list[tuple[bytes, str]]:
        try:
            resolved = self.node.resolve_topic_name(self.topic)
            infos = self.node.get_publishers_info_by_topic(resolved)
        except Exception:  # noqa: BLE001 - the graph may be gone while shutting down
            return []
        out = []
        for info in infos:
            gid = bytes(info.endpoint_gid)[:GID_SIZE]
            if "_UNKNOWN_" in info.node_name or "_UNKNOWN_" in info.node_namespace:
                out.append((gid, UNKNOWN))  # discovered, its node's name not yet: not cached
                continue
            name = f"{info.node_namespace.rstrip('/')}/{info.node_name}"
            self._names[gid] = name
            out.append((gid, name))
        return out

    def __call__(self, gid: bytes) -> str:
        if gid not in self._names:
            self.publishers()
        return self._names.get(gid, UNKNOWN)


class BridgeCommandGuard:
    """The lock as the bridges use it, in front of their safety layer (call under the bridge's lock).

    `submit` admits or rejects each joint_commands message by its publisher; the publisher whose
    command takes the safety layer to ACTIVE becomes the owner. `check_graph` reports a second
    publisher that appeared while armed (and damps, when so configured); `reset` (the bridge's
    reset service) disarms.
    """

    def __init__(self, node, safety, source: str = "", on_foreign: str = "reject", topic: str = "joint_commands"):
        from quadruped_bridge.safety import Mode

        self._active = Mode.ACTIVE
        self.safety = safety
        self.names = GraphNames(node, topic)
        self.lock = CommandSourceLock(topic, source, on_foreign, self.names)

    def submit(self, t: float, msg, info) -> bool:
        gid = gid_of(info)
        verdict = self.lock.admit(gid)
        if not verdict.accepted:
            self._foreign(t, verdict.reason)
            return False
        was_active = self.safety.mode is self._active
        check = self.safety.submit_command(t, msg.name, msg.position, msg.velocity, msg.effort)
        if not self.lock.armed and not was_active and self.safety.mode is self._active:
            self.safety.report(t, "OK", self.lock.arm(gid))
        return check.accepted

    def _foreign(self, t: float, message: str) -> None:
        self.safety.counters["foreign"] = self.safety.counters.get("foreign", 0) + 1
        if self.lock.on_foreign == "damping" and self.lock.armed:
            self.safety.fault(t, f"safety event: {message}")
        else:
            self.safety.report(t, "ERROR" if self.lock.armed else "WARN", message)

    def publishers(self) -> list[tuple[bytes, str]]:
        """The graph's publishers on the topic (query outside the bridge's lock)."""
        return self.names.publishers()

    def check_graph(self, t: float, publishers: list[tuple[bytes, str]]) -> None:
        for message in self.lock.new_publishers(publishers):
            self._foreign(t, message)

    def reset(self) -> None:
        self.lock.disarm()

    def status(self) -> dict[str, str]:
        return self.lock.status()
