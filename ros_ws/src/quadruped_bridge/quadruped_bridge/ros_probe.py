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
import tempfile
import time
from collections import defaultdict

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data

_counter = itertools.count()
MAX_CLAIMED = 16
"""Domains one process keeps claimed; past that it hands out its own again, least recently used first."""
_claimed: dict[int, object] = {}  # domain -> its open lock file (the lock lasts as long as the process)
_lru: list[int] = []


def _claim(domain: int) -> bool:
    """Take this machine's lock on `domain` (a file lock: released when the process exits, even killed)."""
    try:
        import fcntl
    except ImportError:  # no file locks here: every domain counts as free
        return True
    lock_dir = os.environ.get("FOG_DOMAIN_LOCK_DIR") or os.path.join(tempfile.gettempdir(), "fog-ros-domains")
    os.makedirs(lock_dir, exist_ok=True)
    f = open(os.path.join(lock_dir, f"{domain}.lock"), "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _claimed[domain] = f
    return True


def private_domain_id() -> int:
    """A ROS_DOMAIN_ID for one test: one that no other process on this machine has claimed (range
    110-209, or the range FOG_TEST_DOMAINS="LO-HI" names, for a machine where other jobs use those
    domains), so test runs, benchmarks and demos started side by side never share a graph.

    Each call claims a new domain while this process holds fewer than MAX_CLAIMED; then, or when
    every domain in the range is claimed, it hands out the one it handed out least recently (its
    earlier user, in the same process, is done by then: tests run one stack at a time). Claims are
    file locks in FOG_DOMAIN_LOCK_DIR (default: <tmp>/fog-ros-domains), held until the process exits.
    """
    lo, hi = 110, 209
    if os.environ.get("FOG_TEST_DOMAINS"):
        lo, hi = (int(v) for v in os.environ["FOG_TEST_DOMAINS"].split("-"))
    n = hi - lo + 1
    start = (os.getpid() * 7 + next(_counter) * 13) % n
    if len(_claimed) < MAX_CLAIMED:
        for k in range(n):
            domain = lo + (start + k) % n
            if domain not in _claimed and _claim(domain):
                _lru.append(domain)
                return domain
    if _lru:
        domain = _lru.pop(0)
        _lru.append(domain)
        return domain
    return lo + start  # every domain claimed by others and none by us: share one, as before


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
        self.publisher(msg_type, topic, qos).publish(msg)

    def publisher(self, msg_type, topic: str, qos: QoSProfile | None = None):
        """This probe's publisher on `topic` (made on first use, then reused)."""
        if topic not in self._publishers:
            self._publishers[topic] = self.node.create_publisher(msg_type, topic, qos or QoSProfile(depth=1))
        return self._publishers[topic]

    def wait_for_subscriber(self, msg_type, topic: str, qos: QoSProfile | None = None, timeout: float = 10.0) -> bool:
        """Create the publisher of `topic` and spin until discovery has matched a subscriber to it
        (what is published before that is lost)."""
        pub = self.publisher(msg_type, topic, qos)
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
