"""The recorder over real DDS, in its own process: complete bags, episode split, kill safety."""

import signal
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES
from quadruped_bridge.bag_recovery import needs_recovery, recover
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import JointState
from std_msgs.msg import String

pytestmark = pytest.mark.integration
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
EVENT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def read_bag(path):
    """{topic: [deserialized messages in bag order]} and {topic: [log times]}."""
    msgs, times = {}, {}
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            msgs.setdefault(conn.topic, []).append(TYPESTORE.deserialize_cdr(raw, conn.msgtype))
            times.setdefault(conn.topic, []).append(t)
    return msgs, times


def bags_in(folder):
    """Bag directories in recording order (index suffix), episodes and between-episode bags."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name.rsplit("_", 1)[1],
    )


def recorder_reports(probe):
    return [d for d in probe.messages["/diagnostics"] if d.status[0].name == "quadruped_bridge: recorder"]


def recorder_ready(probe):
    return lambda: bool(recorder_reports(probe))


def test_live_simulator_bag_holds_every_published_message_in_order(tmp_path):
    domain = private_domain_id()
    out = tmp_path / "bags"
    # /diagnostics only: the simulator's wait_for_subscribers counts sensor-topic subscribers (the recorder)
    probe = RosProbe(domain, use_sim_time=False)
    probe.watch(DiagnosticArray, "/diagnostics")
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            rec = group.start(
                "recorder", node_command("quadruped_bridge.recorder_node", {"out_dir": str(out), "use_sim_time": True})
            )
            sim = group.start(
                "sim",
                node_command(
                    "quadruped_bridge.sim_node", {"real_time_factor": 2.0, "duration": 3.0, "wait_for_subscribers": 1}
                ),
            )
            assert probe.spin_until(lambda: not sim.alive(), 120), "awaited the simulator's exit after its 3 s"
            # The simulator exits only after its final report was acknowledged by every reliable
            # /diagnostics reader it matched (the recorder), or 5 s: exit 0 and the report in the
            # bag (below) mean what it published before was delivered too. (This probe is not
            # awaited: on a loaded machine the simulator had not discovered it before its 1.5 s run
            # ended.) The recorder then drains what DDS delivered when it is stopped.
            assert sim.popen.wait(timeout=30) == 0, sim.log()
            assert rec.stop() == 0, rec.log()
    finally:
        probe.close()
    (bag,) = bags_in(out)
    msgs, times = read_bag(bag)
    final = [d for d in msgs["/diagnostics"] if any(kv.key == "finished" for kv in d.status[0].values)]
    assert final, "the simulator's final report is not in the bag"
    published = {
        kv.key.split("/", 1)[1]: int(kv.value) for kv in final[-1].status[0].values if kv.key.startswith("published/")
    }
    assert published["joint_states"] >= 700 and published["camera/image_raw"] >= 85
    for topic, count in published.items():
        topic = "/" + topic  # the bag holds fully resolved names, as ros2 bag does
        assert len(msgs[topic]) == count, f"{topic}: {len(msgs[topic])} in the bag, {count} published"
        stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in msgs[topic]])
        assert np.all(np.diff(stamps) > 0), f"{topic} out of order or duplicated"
        assert np.all(np.diff(times[topic]) >= 0)
    # the description beside the bag
    desc = (bag / "robot.yaml").read_text()
    assert "FR_hip_joint" in desc and "width: 64" in desc


def test_episode_events_split_bags_and_sigkill_leaves_a_recoverable_bag(tmp_path):
    domain = private_domain_id()
    out = tmp_path / "bags"
    probe = RosProbe(domain, use_sim_time=False)
    probe.watch(DiagnosticArray, "/diagnostics")
    sent = []
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            rec = group.start(
                "recorder", node_command("quadruped_bridge.recorder_node", {"out_dir": str(out), "flush_period": 0.5})
            )
            assert probe.spin_until(recorder_ready(probe), timeout=30), f"awaited the recorder's report:\n{rec.log()}"
            pub = probe.node.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
            events = probe.node.create_publisher(String, "episode/event", EVENT_QOS)
            assert probe.spin_until(lambda: pub.get_subscription_count() and events.get_subscription_count(), 10), (
                "awaited the recorder's subscriptions to joint_states and episode/event")

            def event(name):
                """Publish an episode event and await the recorder acting on it: "start" opens an episode
                bag (its next report names it), "success" closes it (its log says so)."""
                n_reports, n_closed = len(recorder_reports(probe)), rec.log().count("closed episode_")
                events.publish(String(data=name))
                if name == "start":
                    def opened():
                        new = recorder_reports(probe)[n_reports:]
                        return bool(new) and new[-1].status[0].message.startswith("recording episode_")

                    assert probe.spin_until(opened, 10), "awaited a recorder report 'recording episode_...':\n" + (
                        diagnostics_text(recorder_reports(probe)[-1:]))
                else:
                    closed = lambda: rec.log().count("closed episode_") > n_closed  # noqa: E731
                    assert probe.spin_until(closed, 10), f"awaited 'closed episode_' in its log:\n{rec.log()}"

            def stream(seconds):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    seq = len(sent)
                    pub.publish(joint_state_msg(float(seq), JOINT_NAMES, np.full(12, float(seq))))
                    sent.append(seq)
                    probe.spin(0.01)  # the stream's publishing period (~100 Hz), not a wait

            event("start")
            stream(1.0)
            event("success")
            sent_before = len(sent)
            event("start")
            t_stream = time.monotonic()
            stream(2.0)
            n_before_kill = len(sent)
            rate = (n_before_kill - sent_before) / (time.monotonic() - t_stream)
            rec.signal(signal.SIGKILL)
            rec.popen.wait(timeout=10)
    finally:
        probe.close()

    # Episodes: the first bag closed on "success" (complete), the last one was open at the kill.
    # Sensor messages still in flight when "success" arrived land in a bag of their own between
    # the two (DDS orders messages per topic, not across topics): nothing is dropped.
    bags = bags_in(out)
    first, last = bags[0], bags[-1]
    assert 2 <= len(bags) <= 3, [b.name for b in bags]
    assert first.name.startswith("episode_") and last.name.startswith("episode_")
    assert all(b.name.startswith("between_") for b in bags[1:-1])
    msgs, _ = read_bag(first)
    assert [m.data for m in msgs["/episode/event"]] == ["start", "success"]
    seqs = []
    for bag in bags[:-1]:
        assert not needs_recovery(bag)
        seqs += [int(m.position[0]) for m in read_bag(bag)[0].get("/joint_states", [])]

    assert needs_recovery(last)
    with pytest.raises((ReaderError, FileNotFoundError)):  # no metadata.yaml, or no MCAP footer
        Reader(last).open()
    report = recover(last)
    assert report.needed and report.messages > 0
    msgs, _ = read_bag(last)
    assert [m.data for m in msgs["/episode/event"]] == ["start"]
    seqs += [int(m.position[0]) for m in msgs["/joint_states"]]
    # everything up to the last flush, in order, without gaps: at most ~flush_period (0.5 s) lost
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    lost = n_before_kill - 1 - seqs[-1]
    # flush_period 0.5 s, plus the time for the kill to land
    assert 0 <= lost <= rate * (0.5 + 0.3), f"{lost} messages lost after the last flush ({rate:.0f} msg/s)"
    assert not needs_recovery(last)


def test_disk_nearly_full_stops_cleanly_with_an_error(tmp_path):
    domain = private_domain_id()
    out = tmp_path / "bags"
    with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
        rec = group.start(
            "recorder", node_command("quadruped_bridge.recorder_node", {"out_dir": str(out), "min_free_mb": 1e12})
        )
        rec.popen.wait(timeout=30)
        assert rec.popen.returncode == 3
        assert "disk nearly full" in rec.log()
