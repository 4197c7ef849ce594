"""Record the robot's topics into rosbag2 MCAP bags, one bag per episode, losing nothing.

Subscriptions take raw CDR bytes (`raw=True`): nothing is deserialized on the hot path, the bytes
go straight into the bag (rosbags' MCAP writer), stamped with the receive time on the node's
clock (simulated time under use_sim_time).

Episodes: an `episode/event` "start" begins a new bag; "success", "fail" and "reset" are written
into the current bag and close it. Messages between episodes go into a bag of their own (opened
when the next message arrives), so nothing is dropped.

Losing nothing:
- SIGINT / SIGTERM: stop taking new data, drain what DDS already delivered, close the bag
  (footer, index, metadata.yaml);
- SIGKILL or power loss: chunks are flushed to disk every `flush_period` seconds, so the bag
  holds everything up to the last flush; `python -m quadruped_bridge.bag_recovery BAG` (or the
  recorder's next start in the same folder) turns it back into a complete bag;
- disk nearly full (< `min_free_mb`): close the bag cleanly, say so on /diagnostics and in the
  log, and exit with status 3.

In each bag folder: `robot.yaml` (robot, joint order, camera info, recorder config, start time).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract import topics
from fog_contract.go2 import JOINT_NAMES
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import String

from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.bag_recovery import needs_recovery, recover
from quadruped_bridge.episode_split import disk_problem, route
from quadruped_bridge.ros_params import declare_config

MESSAGE_CLASSES: dict[str, type] = {
    "sensor_msgs/msg/Image": Image,
    "sensor_msgs/msg/CameraInfo": CameraInfo,
    "sensor_msgs/msg/JointState": JointState,
    "sensor_msgs/msg/Imu": Imu,
    "geometry_msgs/msg/Twist": Twist,
    "geometry_msgs/msg/TwistStamped": TwistStamped,
    "geometry_msgs/msg/PoseStamped": PoseStamped,
    "std_msgs/msg/String": String,
    "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray,
}
# topic -> (type, rosbags type name, sensor-data QoS?), from the contract's topic table
CONTRACT_TOPICS: dict[str, tuple[type, str, bool]] = {
    n: (MESSAGE_CLASSES[t.type], t.type, t.sensor) for n, t in topics.CONTRACT.items()
}
SIM_TOPICS: dict[str, tuple[type, str, bool]] = {
    n: (MESSAGE_CLASSES[t.type], t.type, t.sensor) for n, t in topics.SIM_TOPICS.items()
}
DIAG_NAME = "quadruped_bridge: recorder"
LATCHED_TOPICS = (topics.SIM_GOAL_POSE,)
"""Transient-local topics: their last message is repeated at the start of every new bag, so that
each episode's bag is complete on its own (a goal published at reset, before "start", included)."""


@dataclass(frozen=True)
class RecorderConfig:
    out_dir: str = "bags"
    """Folder that receives one bag directory per episode."""
    prefix: str = "episode"
    """Episode bag names: <prefix>_<YYYYmmdd-HHMMSS>_<index>; data between episodes goes to between_*."""
    robot: str = "go2-sim"
    """Robot name written to robot.yaml and used by the dataset converter."""
    record_ground_truth: bool = True
    """Also record the simulator's sim/* ground-truth topics (benchmarks, rewards)."""
    split_episodes: bool = True
    """One bag per episode (split on episode/event); false = one bag for the session."""
    flush_period: float = 1.0
    """Seconds between forced chunk flushes to disk: at most this much is lost on SIGKILL."""
    min_free_mb: float = 200.0
    """Below this much free disk space the recorder closes the bag and exits with status 3."""
    drain_time: float = 0.3
    """Seconds spent taking already-delivered messages after SIGINT/SIGTERM."""


class DiskFullError(RuntimeError):
    pass


class BagSink:
    """The open bag of the current episode: raw CDR in, MCAP out, with periodic flushes."""

    def __init__(
        self, path: Path, topics: dict[str, tuple[type, str, bool]], typestore, resolved: dict[str, str] | None = None
    ):
        self.path = path
        self.writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        # connections carry the fully resolved name (/ns/camera/image_raw), as `ros2 bag record` does
        resolved = resolved or {}
        self.conns = {
            topic: self.writer.add_connection(resolved.get(topic, topic), name, typestore=typestore)
            for topic, (_, name, _) in topics.items()
        }
        self.count = 0
        self.per_topic = dict.fromkeys(topics, 0)

    def write(self, topic: str, t_ns: int, data: bytes) -> None:
        self.writer.write(self.conns[topic], t_ns, data)
        self.count += 1
        self.per_topic[topic] += 1

    def flush(self) -> None:
        """Close the pending chunk and push it to disk (rosbags only does so every 1 MiB)."""
        storage = self.writer.storage  # rosbags' McapWriter: chunk buffer + file object
        if storage.chunk.bio.tell():
            storage.close_chunk()
        storage.bio.flush()
        os.fsync(storage.bio.fileno())

    def close(self) -> None:
        self.writer.close()


class RecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__("recorder", **kwargs)
        self._net = network_policy.report(self)  # domain and discovery range: log and /diagnostics
        self.cfg = declare_config(self, RecorderConfig)
        self.out = Path(self.cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        for bag in sorted(p for p in self.out.iterdir() if p.is_dir()):
            if needs_recovery(bag):  # left by a recorder that was killed
                self.get_logger().warning(str(recover(bag)))
        self.topics = dict(CONTRACT_TOPICS)
        if self.cfg.record_ground_truth:
            self.topics.update(SIM_TOPICS)
        self.typestore = get_typestore(Stores.ROS2_KILTED)
        self.session = time.strftime("%Y%m%d-%H%M%S")
        self.sink: BagSink | None = None
        self.bags: list[Path] = []
        self.camera_info: dict | None = None
        self.error: str | None = None
        self.stopping = False
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.resolved: dict[str, str] = {}
        self.latched: dict[str, bytes] = {}
        for topic, (msg_type, _, sensor) in self.topics.items():
            # deep queues: a recorder starved of CPU for a moment catches up instead of dropping
            qos = QoSProfile(
                depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT if sensor else ReliabilityPolicy.RELIABLE
            )
            if topic in LATCHED_TOPICS:
                qos = QoSProfile(
                    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
                )
            sub = self.create_subscription(
                msg_type, topic, lambda data, topic=topic: self._on_message(topic, data), qos, raw=True
            )
            self.resolved[topic] = sub.topic_name
        self.create_timer(self.cfg.flush_period, self._housekeeping)
        self.get_logger().info(f"recording {len(self.topics)} topics into {self.out}/")

    # ------------------------------------------------------------------ data
    def _on_message(self, topic: str, data: bytes) -> None:
        if self.stopping or self.error:
            return
        if topic == "/diagnostics" and all(
            st.name == DIAG_NAME for st in deserialize_message(data, DiagnosticArray).status
        ):
            return  # our own status reports are not robot data
        t_ns = self.get_clock().now().nanoseconds
        event = deserialize_message(data, String).data if topic == "episode/event" else None
        where = route(event, self.sink is not None, self.cfg.split_episodes)  # quadruped_bridge.episode_split
        if where.close_before:
            self._close_bag()
        if where.open_kind:
            self._open_bag(where.open_kind)
        self.sink.write(topic, t_ns, data)
        if topic in LATCHED_TOPICS:
            self.latched[topic] = data
        if topic == "camera/camera_info" and self.camera_info is None:
            info = deserialize_message(data, CameraInfo)
            self.camera_info = {
                "width": int(info.width),
                "height": int(info.height),
                "k": [float(x) for x in info.k],
                "distortion_model": str(info.distortion_model),
                "d": [float(x) for x in info.d],
            }
            self._write_description(self.sink.path)
        if where.close_after:
            self._close_bag()

    def _open_bag(self, kind: str) -> None:
        prefix = self.cfg.prefix if kind == "episode" else "between"
        path = self.out / f"{prefix}_{self.session}_{len(self.bags):04d}"
        self.sink = BagSink(path, self.topics, self.typestore, self.resolved)
        self.bags.append(path)
        t_ns = self.get_clock().now().nanoseconds
        for topic, data in self.latched.items():
            self.sink.write(topic, t_ns, data)
        self._write_description(path)

    def _close_bag(self) -> None:
        if self.sink is None:
            return
        sink, self.sink = self.sink, None
        sink.close()
        self.get_logger().info(f"closed {sink.path.name}: {sink.count} messages")

    def _write_description(self, bag: Path) -> None:
        desc = {
            "robot": self.cfg.robot,
            "joint_names": list(JOINT_NAMES),
            "camera_info": self.camera_info,
            "recorder": asdict(self.cfg),
            "session": self.session,
            "use_sim_time": bool(self.get_parameter("use_sim_time").value),
            "ros_domain_id": int(os.environ.get("ROS_DOMAIN_ID", "0")),
        }
        # inside the bag folder: rosbag2 readers go by metadata.yaml and ignore other files
        tmp = bag / "robot.yaml.tmp"
        tmp.write_text(yaml.safe_dump(desc, sort_keys=False))
        tmp.replace(bag / "robot.yaml")

    # --------------------------------------------------------- housekeeping
    def _housekeeping(self) -> None:
        if self.sink is not None:
            self.sink.flush()
        problem = disk_problem(shutil.disk_usage(self.out).free / 2**20, self.cfg.min_free_mb, str(self.out))
        if problem and not self.error:
            self.error = problem
            self._close_bag()
            self.get_logger().error(self.error)
        level, message = (
            ("ERROR", self.error)
            if self.error
            else (
                "OK",
                f"recording {self.sink.path.name}: {self.sink.count} messages" if self.sink else "waiting for data",
            )
        )
        values = {"bags": str(len(self.bags)), "messages": str(self.sink.count if self.sink else 0), **self._net}
        self.pub_diag.publish(
            rm.diagnostics_msg(self.get_clock().now().nanoseconds * 1e-9, DIAG_NAME, level, message, values)
        )
        if self.error:
            raise DiskFullError(self.error)

    def finish(self) -> None:
        self.stopping = True
        self._close_bag()


def main(args=None) -> int:
    """Exits 0 on SIGINT or SIGTERM after draining and closing the bag (see quadruped_bridge.clean_exit);
    3 if the disk filled up."""
    stop = clean_exit.init(args)
    node = RecorderNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    status = 0
    try:
        clean_exit.spin_until(executor, stop)
        deadline = time.monotonic() + node.cfg.drain_time  # drain what DDS already delivered
        clean_exit.spin_until(executor, clean_exit.StopFlag(), done=lambda: time.monotonic() >= deadline, period=0.02)
    except DiskFullError:
        status = 3
    finally:
        node.finish()
        node.get_logger().info(f"recorded {len(node.bags)} bag(s) into {node.out}/")
        clean_exit.teardown([node], executor)
    return status


if __name__ == "__main__":
    sys.exit(main())
