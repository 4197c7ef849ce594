"""Bag replay in its own process: deterministic, complete, with /clock and remapping."""

import pytest
from fog_contract.go2 import JOINT_NAMES
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe, private_domain_id
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import String

pytestmark = pytest.mark.integration
TS = get_typestore(Stores.ROS2_KILTED)
DEEP = QoSProfile(depth=2000, reliability=ReliabilityPolicy.RELIABLE)


def write_bag(path, n=300, period_ns=4_000_000, t0=5_000_000_000):
    """n JointState messages (position[0] = index) and an event every 100, known times."""
    JS, Str = TS.types["sensor_msgs/msg/JointState"], TS.types["std_msgs/msg/String"]
    Header, Time = TS.types["std_msgs/msg/Header"], TS.types["builtin_interfaces/msg/Time"]
    import numpy as np

    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        cj = w.add_connection("joint_states", "sensor_msgs/msg/JointState", typestore=TS)
        ce = w.add_connection("episode/event", "std_msgs/msg/String", typestore=TS)
        for i in range(n):
            t = t0 + i * period_ns
            stamp = Time(sec=t // 10**9, nanosec=t % 10**9)
            msg = JS(
                header=Header(stamp=stamp, frame_id=""),
                name=list(JOINT_NAMES),
                position=np.full(12, float(i)),
                velocity=np.zeros(12),
                effort=np.zeros(0),
            )
            w.write(cj, t, TS.serialize_cdr(msg, "sensor_msgs/msg/JointState"))
            if i % 100 == 0:
                w.write(ce, t, TS.serialize_cdr(Str(data=f"event {i}"), "std_msgs/msg/String"))


def replay_into_probe(tmp_path, bag, params, expect, topic="joint_states", clock_end=None):
    """Replay `bag` into a probe; await the replay's exit, then `expect` ({topic: count}) messages and,
    if given, a /clock at `clock_end` (the recording's last time)."""
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    probe.watch(JointState, topic, qos=DEEP)
    probe.watch(String, "episode/event", qos=DEEP)
    probe.watch(Clock, "/clock", qos=DEEP)
    try:
        with ProcessGroup(tmp_path / f"logs{domain}", ros_env(domain)) as group:
            proc = group.start(
                "replay",
                node_command(
                    "quadruped_bridge.replay_node",
                    {"bag": str(bag), "wait_for_subscribers": 1, "start_delay": 0.3, **params},
                ),
            )
            assert probe.spin_until(lambda: proc.popen.poll() is not None, timeout=60), "replay did not finish"
            assert proc.popen.returncode == 0, proc.log()
            def arrived():
                clock = probe.messages["/clock"]
                last = clock[-1].clock.sec + clock[-1].clock.nanosec * 1e-9 if clock else None
                return all(len(probe.messages[t]) >= n for t, n in expect.items()) and (
                    clock_end is None or (last is not None and abs(last - clock_end) < 1e-6))

            assert probe.spin_until(arrived, 30), (
                f"awaited {expect} and /clock at {clock_end} from the finished replay; got "
                f"{ {t: len(probe.messages[t]) for t in (*expect, '/clock')} }")
        return (
            [m.position[0] for m in probe.messages[topic]],
            [m.data for m in probe.messages["episode/event"]],
            [c.clock.sec + c.clock.nanosec * 1e-9 for c in probe.messages["/clock"]],
        )
    finally:
        probe.close()


def test_replay_twice_gives_identical_sequences_and_the_recorded_clock(tmp_path):
    bag = tmp_path / "bag"
    write_bag(bag)
    expect = {"joint_states": 300, "episode/event": 3}
    first = replay_into_probe(tmp_path, bag, {"rate": 4.0}, expect, clock_end=5.0 + 299 * 0.004)
    second = replay_into_probe(tmp_path, bag, {"rate": 4.0}, expect, clock_end=5.0 + 299 * 0.004)
    assert first[0] == second[0] == [float(i) for i in range(300)]
    assert first[1] == second[1] == ["event 0", "event 100", "event 200"]
    clock = first[2]
    assert clock[0] == pytest.approx(5.0) and clock[-1] == pytest.approx(5.0 + 299 * 0.004)
    assert all(b >= a for a, b in zip(clock, clock[1:]))


def test_remap_and_missing_topic_error(tmp_path):
    bag = tmp_path / "bag"
    write_bag(bag, n=50)
    seq, _, _ = replay_into_probe(
        tmp_path, bag, {"rate": 0.0, "remap": ["joint_states:=robot2/joint_states"]}, {"robot2/joint_states": 50},
        topic="robot2/joint_states"
    )
    assert seq == [float(i) for i in range(50)]
    domain = private_domain_id()
    with ProcessGroup(tmp_path / "logs_missing", ros_env(domain)) as group:
        proc = group.start(
            "replay", node_command("quadruped_bridge.replay_node", {"bag": str(bag), "topics": ["camera/image_raw"]})
        )
        assert proc.popen.wait(timeout=30) == 2
        assert "topics ['camera/image_raw'] are not in the bag" in proc.log()


def write_bag_with_commands(path, n=100, period_ns=10_000_000, t0=5_000_000_000):
    """joint_states, and the commands a robot run records: /joint_commands and /cmd_vel."""
    import numpy as np

    JS, Twist = TS.types["sensor_msgs/msg/JointState"], TS.types["geometry_msgs/msg/Twist"]
    Vec, Header, Time = TS.types["geometry_msgs/msg/Vector3"], TS.types["std_msgs/msg/Header"], TS.types[
        "builtin_interfaces/msg/Time"]
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        cj = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=TS)
        cc = w.add_connection("/joint_commands", "sensor_msgs/msg/JointState", typestore=TS)
        cv = w.add_connection("/cmd_vel", "geometry_msgs/msg/Twist", typestore=TS)
        for i in range(n):
            t = t0 + i * period_ns
            js = JS(header=Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id=""), name=list(JOINT_NAMES),
                    position=np.full(12, float(i)), velocity=np.zeros(12), effort=np.zeros(0))
            w.write(cj, t, TS.serialize_cdr(js, "sensor_msgs/msg/JointState"))
            w.write(cc, t, TS.serialize_cdr(js, "sensor_msgs/msg/JointState"))
            tw = Twist(linear=Vec(x=float(i), y=0.0, z=0.0), angular=Vec(x=0.0, y=0.0, z=0.0))
            w.write(cv, t, TS.serialize_cdr(tw, "geometry_msgs/msg/Twist"))


def test_replay_commands_nothing(tmp_path):
    """A bag with recorded commands: sensors replayed live, commands only under replay/, and no
    publisher (so no message) on /joint_commands or /cmd_vel; a remap onto a command topic is refused."""
    from geometry_msgs.msg import Twist

    bag = tmp_path / "bag"
    write_bag_with_commands(bag)
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    for topic, kind in (("/joint_states", JointState), ("/joint_commands", JointState), ("/cmd_vel", Twist),
                        ("replay/joint_commands", JointState), ("replay/cmd_vel", Twist)):
        probe.watch(kind, topic, qos=DEEP)
    live_publishers = []
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            proc = group.start("replay", node_command("quadruped_bridge.replay_node", {
                "bag": str(bag), "rate": 0.0, "wait_for_subscribers": 1, "start_delay": 0.3}))

            def finished():
                live_publishers.append(probe.node.count_publishers("/joint_commands")
                                       + probe.node.count_publishers("/cmd_vel"))
                return proc.popen.poll() is not None

            assert probe.spin_until(finished, timeout=60), "replay did not finish"
            arrived = lambda: all(len(probe.messages[t]) >= 100 for t in  # noqa: E731
                                  ("/joint_states", "replay/cmd_vel", "replay/joint_commands"))
            assert probe.spin_until(arrived, timeout=30), "awaited 100 messages on each replayed topic: " + str(
                {t: len(v) for t, v in probe.messages.items()})
            assert proc.popen.returncode == 0, proc.log()
            # the sensors and the recorded commands (for comparison) arrived ...
            assert len(probe.messages["/joint_states"]) == 100
            assert [m.linear.x for m in probe.messages["replay/cmd_vel"]] == [float(i) for i in range(100)]
            assert len(probe.messages["replay/joint_commands"]) == 100
            # ... and nothing reached the live command topics, nor was anything ever there to send it
            assert probe.messages["/joint_commands"] == [] and probe.messages["/cmd_vel"] == []
            assert max(live_publishers) == 0
            refused = group.start("refused", node_command("quadruped_bridge.replay_node", {
                "bag": str(bag), "remap": ["/joint_states:=/joint_commands"]}))
            assert refused.popen.wait(timeout=30) == 2
            assert "a replay never publishes on a command topic" in refused.log()
    finally:
        probe.close()
