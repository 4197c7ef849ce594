"""An in-process observer node and private DDS domains, for integration tests and the demo.

Tests start the real nodes as separate processes (`process_launch.ProcessGroup`) on a private
ROS_DOMAIN_ID with discovery limited to localhost, and observe them through a `RosProbe`: an
rclpy node in the test process, in its own context on the same domain, that records what the
nodes publish and can publish and call services itself.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import defaultdict

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data

_counter = itertools.count()


def private_domain_id() -> int:
    """A ROS_DOMAIN_ID for one test: distinct per process and per call (range 110-209, or the range
    FOG_TEST_DOMAINS="LO-HI" names, for a machine where other jobs use those domains)."""
    lo, hi = 110, 209
    if os.environ.get("FOG_TEST_DOMAINS"):
        lo, hi = (int(v) for v in os.environ["FOG_TEST_DOMAINS"].split("-"))
    return lo + (os.getpid() * 7 + next(_counter) * 13) % (hi - lo + 1)


class RosProbe:
    """An observer node: `watch` topics (messages kept in order), publish, call services."""

    def __init__(self, domain_id: int, use_sim_time: bool = True, name: str = "test_probe"):
        # localhost discovery unless the user chose a range (rcl reads it at init)
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        overrides = [Parameter("use_sim_time", value=use_sim_time)]
        self.node = rclpy.create_node(name, context=self.context, parameter_overrides=overrides)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.messages: dict[str, list] = defaultdict(list)
        self.wall_times: dict[str, list[float]] = defaultdict(list)
        self._publishers = {}

    def watch(self, msg_type, topic: str, sensor: bool = False, qos: QoSProfile | None = None) -> list:
        def cb(msg, topic=topic):
            self.messages[topic].append(msg)
            self.wall_times[topic].append(time.monotonic())

        qos = qos or (qos_profile_sensor_data if sensor else QoSProfile(depth=50))
        self.node.create_subscription(msg_type, topic, cb, qos)
        return self.messages[topic]

    def publish(self, msg_type, topic: str, msg, qos: QoSProfile | None = None) -> None:
        self._publisher(msg_type, topic, qos).publish(msg)

    def _publisher(self, msg_type, topic: str, qos: QoSProfile | None = None):
        if topic not in self._publishers:
            self._publishers[topic] = self.node.create_publisher(msg_type, topic, qos or QoSProfile(depth=1))
        return self._publishers[topic]

    def wait_for_subscriber(self, msg_type, topic: str, qos: QoSProfile | None = None, timeout: float = 10.0) -> bool:
        """Create the publisher of `topic` and spin until discovery has matched a subscriber to it
        (what is published before that is lost)."""
        pub = self._publisher(msg_type, topic, qos)
        return self.spin_until(lambda: pub.get_subscription_count() > 0, timeout)

    def spin(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.01)

    def spin_until(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return bool(predicate())

    def now(self) -> float:
        """The probe's ROS time (simulated time when use_sim_time)."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def spin_sim(self, seconds: float, timeout: float, every=None, until=None) -> bool:
        """Spin until `seconds` of simulated time pass or `until()` is true (calling `every()` each spin);
        False when `timeout` wall seconds pass first."""
        start = self.now()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.now() - start >= seconds or (until is not None and until()):
                return True
            if every is not None:
                every()
            self.executor.spin_once(timeout_sec=0.01)
        return False

    def call(self, srv_type, name: str, request=None, timeout: float = 10.0):
        client = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"service {name} not available after {timeout} s")
        future = client.call_async(request or srv_type.Request())
        self.executor.spin_until_future_complete(future, timeout_sec=timeout)
        if not future.done():
            raise TimeoutError(f"service {name} did not answer within {timeout} s")
        return future.result()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def stamp_seconds(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def roll_pitch_yaw(q) -> tuple[float, float, float]:
    """(roll, pitch, yaw) of a geometry_msgs Quaternion."""
    w, x, y, z = q.w, q.x, q.y, q.z
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return roll, pitch, yaw


def diagnostics_text(arrays) -> str:
    """All messages and values of a list of DiagnosticArray, as one searchable string."""
    parts = []
    for arr in arrays:
        for st in arr.status:
            parts.append(f"{st.name}: {st.message}")
            parts.extend(f"{kv.key}={kv.value}" for kv in st.values)
    return "\n".join(parts)
