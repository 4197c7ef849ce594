"""Replay a rosbag2 bag onto its topics, deterministically, with /clock: the robot from a recording.

Unlike `ros2 bag play` (not installable from PyPI), this runs wherever rclpy runs and is
deterministic: messages go out one at a time in the bag's order (receive time, then file order),
as the CDR bytes that were recorded, paced by `rate` x their recorded timing. `/clock` follows
the recorded time, so nodes with use_sim_time see the recording's clock.

Replay commands nothing: recorded command topics (`command_topics`: joint_commands, cmd_vel, in
any namespace) are never published on their own names; they go to `command_namespace`
(replay/joint_commands, replay/cmd_vel) for comparison, or nowhere when it is empty, and a remap
onto a command topic is refused. Only sensor topics (and /clock) reach the live graph.

Parameters (see ReplayConfig): bag, rate (0 = as fast as subscribers allow), loop, topics
(subset), remap ("from:=to" pairs), wait_for_subscribers (start only when every replayed topic
has that many subscribers), command_topics, command_namespace.

    python -m quadruped_bridge.replay_node --ros-args -p bag:=bags/episode_0001 -p rate:=1.0
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract import topics as contract
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader
from rosgraph_msgs.msg import Clock

from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.ros_params import declare_config


@dataclass(frozen=True)
class ReplayConfig:
    bag: str = ""
    """Bag directory to replay (required)."""
    rate: float = 1.0
    """Playback speed as a multiple of the recorded timing; 0 = as fast as possible."""
    loop: bool = False
    """Start again from the beginning at the end (the clock keeps increasing)."""
    topics: tuple[str, ...] = ("",)
    """Topics to replay (recorded names); empty = all."""
    remap: tuple[str, ...] = ("",)
    """'from:=to' topic renames applied when publishing."""
    publish_clock: bool = True
    """Publish /clock with the recorded time (for use_sim_time consumers)."""
    clock_rate_hz: float = 200.0
    """/clock updates per recorded second between messages."""
    latched_topics: tuple[str, ...] = (contract.SIM_GOAL_POSE,)
    """Topics published transient-local (late subscribers get the last message)."""
    wait_for_subscribers: int = 0
    """Start only when every replayed topic has at least this many subscribers."""
    start_delay: float = 0.0
    """Wall seconds to wait after subscribers are matched before the first message."""
    command_topics: tuple[str, ...] = contract.COMMAND_TOPICS
    """Names of command topics (last path element, or a full name): never replayed onto the live graph."""
    command_namespace: str = "replay"
    """Recorded commands are published under this namespace (replay/joint_commands) for comparison;
    empty = not published at all."""


def is_command_topic(topic: str, command_topics) -> bool:
    name = topic.strip("/")
    wanted = {t.strip("/") for t in command_topics if t.strip("/")}
    return name in wanted or name.rsplit("/", 1)[-1] in wanted


def output_topic(topic: str, remaps: dict[str, str], cfg: ReplayConfig) -> str | None:
    """Where a recorded topic is published: its name (or remap); a command topic only under the
    command namespace (None: not at all)."""
    if is_command_topic(topic, cfg.command_topics):
        ns = cfg.command_namespace.strip("/")
        return f"{ns}/{topic.strip('/')}" if ns else None
    out = remaps.get(topic, topic)
    if is_command_topic(out, cfg.command_topics):
        raise ValueError(f"remap {topic}:={out}: a replay never publishes on a command topic")
    return out


def message_class(msgtype: str):
    """'sensor_msgs/msg/Image' -> sensor_msgs.msg.Image."""
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def parse_remaps(pairs) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if not pair:
            continue
        if ":=" not in pair:
            raise ValueError(f"remap {pair!r}: expected 'from:=to'")
        src, dst = pair.split(":=", 1)
        out[src.strip()] = dst.strip()
    return out


class ReplayNode(Node):
    def __init__(self, **kwargs):
        super().__init__("bag_replay", **kwargs)
        self.cfg = declare_config(self, ReplayConfig)
        if not self.cfg.bag:
            raise ValueError("parameter 'bag' is required: the bag directory to replay")
        bag = Path(self.cfg.bag)
        if not (bag / "metadata.yaml").exists():
            raise FileNotFoundError(
                f"{bag}: not a complete rosbag2 bag (no metadata.yaml); "
                f"a killed recording can be fixed with python -m quadruped_bridge.bag_recovery {bag}"
            )
        self.reader = Reader(bag)
        self.reader.open()
        wanted = {t for t in self.cfg.topics if t}
        recorded = {c.topic for c in self.reader.connections}
        missing = wanted - recorded
        if missing:
            raise ValueError(f"{bag}: topics {sorted(missing)} are not in the bag (it has {sorted(recorded)})")
        self.remaps = parse_remaps(self.cfg.remap)
        self.connections = [c for c in self.reader.connections if not wanted or c.topic in wanted]
        self.topic_publishers = {}
        self.outputs: dict[str, str] = {}
        for c in self.connections:
            out = output_topic(c.topic, self.remaps, self.cfg)
            self.outputs[c.topic] = out or "(not replayed: command topic)"
            if out is None:
                continue
            latched = c.topic in self.cfg.latched_topics
            qos = QoSProfile(
                depth=100,
                reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
            )
            self.topic_publishers[c.id] = self.create_publisher(message_class(c.msgtype), out, qos)
        self.connections = [c for c in self.connections if c.id in self.topic_publishers]
        self.pub_clock = self.create_publisher(Clock, "/clock", QoSProfile(depth=1)) if self.cfg.publish_clock else None
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self._net = network_policy.report(self)
        self._last_diag = -1.0
        self.published = 0
        self._stop_requested = False  # a plain flag: stop() may be called from a signal handler
        self.get_logger().info(
            f"replaying {bag} ({self.reader.message_count} messages, "
            f"{len(self.connections)} topics) at rate {self.cfg.rate or 'max'}; commands: "
            + ", ".join(f"{k} -> {v}" for k, v in self.outputs.items() if is_command_topic(k, self.cfg.command_topics))
        )

    def publish_diagnostics(self, t: float, force: bool = False) -> None:
        """Once a second (wall): what is replayed, and the network the node runs on."""
        wall = time.monotonic()
        if not force and wall - self._last_diag < 1.0:
            return
        self._last_diag = wall
        values = {"bag": str(self.cfg.bag), "published": str(self.published), **self._net}
        values.update({f"topic {k}": v for k, v in self.outputs.items()})
        self.pub_diag.publish(rm.diagnostics_msg(t, "quadruped_bridge: bag_replay", "OK", "replaying", values))

    def stop(self) -> None:
        """Ask wait_for_subscribers() and play_once() to return (any thread, or a signal handler)."""
        self._stop_requested = True

    def running(self) -> bool:
        return not self._stop_requested and rclpy.ok(context=self.context)

    def _awaited(self):
        """The publishers whose subscribers are awaited: not the replay/ command copies (for comparison)."""
        return [p for c in self.connections if not is_command_topic(c.topic, self.cfg.command_topics)
                for p in [self.topic_publishers[c.id]]]

    def wait_for_subscribers(self) -> None:
        need = self.cfg.wait_for_subscribers
        while (
            need > 0
            and self.running()
            and min((p.get_subscription_count() for p in self._awaited()), default=need) < need
        ):
            time.sleep(0.02)
        deadline = time.monotonic() + self.cfg.start_delay
        while self.running() and time.monotonic() < deadline:
            time.sleep(min(0.02, max(deadline - time.monotonic(), 0.0)))

    def play_once(self, time_offset_ns: int) -> int:
        """Publish the bag once, recorded times shifted by `time_offset_ns`; returns the last time."""
        rate = self.cfg.rate
        clock_step = int(1e9 / self.cfg.clock_rate_hz) if self.cfg.clock_rate_hz > 0 else 0
        wall0 = time.monotonic()
        t_first = None
        last_clock = None
        t = time_offset_ns
        for conn, t_bag, raw in self.reader.messages(connections=self.connections):
            if not self.running():
                break
            t = t_bag + time_offset_ns
            if t_first is None:
                t_first = t
            if rate > 0:
                # the clock advances in steps while we wait for the next message's time
                while True:
                    due = wall0 + (t - t_first) / 1e9 / rate
                    now = time.monotonic()
                    if self.pub_clock and clock_step and last_clock is not None and last_clock + clock_step < t:
                        step_t = last_clock + clock_step
                        step_due = wall0 + (step_t - t_first) / 1e9 / rate
                        if step_due < due:
                            if step_due > now:
                                time.sleep(step_due - now)
                            self.pub_clock.publish(rm.clock_msg(step_t / 1e9))
                            last_clock = step_t
                            continue
                    if due > now:
                        time.sleep(due - now)
                    break
            if self.pub_clock and (last_clock is None or t > last_clock):
                self.pub_clock.publish(rm.clock_msg(t / 1e9))
                last_clock = t
            self.topic_publishers[conn.id].publish(bytes(raw))
            self.published += 1
            self.publish_diagnostics(t / 1e9)
        return t


def main(args=None) -> int:
    """Exits 0 at the end of the bag, on SIGINT or SIGTERM (see quadruped_bridge.clean_exit); 2 on a bad bag."""
    stop = clean_exit.init(args)
    try:
        node = ReplayNode()
    except (ValueError, FileNotFoundError) as e:
        print(f"bag_replay: {e}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    stop.on_set(node.stop)
    try:
        node.wait_for_subscribers()
        offset = 0
        duration = node.reader.end_time - node.reader.start_time
        while node.running():
            last = node.play_once(offset)
            if not node.cfg.loop:
                break
            offset = last - node.reader.start_time + max(duration // 1000, 1_000_000)  # clock never goes back
        node.get_logger().info(f"replay {'finished' if node.running() else 'stopped'}: {node.published} messages")
        deadline = time.monotonic() + 0.2  # let reliable QoS deliver the tail
        while node.running() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        node.stop()
        clean_exit.teardown([node])
        node.reader.close()  # a file: after ROS is down
    return 0


if __name__ == "__main__":
    sys.exit(main())
