"""`fog collect` end to end: recorder, simulator, locomotion and exploration driver, real bags."""

import json

import pytest
from fog_policy.collect import CollectConfig, collect
from quadruped_bridge.ros_probe import private_domain_id
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

pytestmark = pytest.mark.integration
TS = get_typestore(Stores.ROS2_KILTED)


def test_collect_writes_episode_bags_with_events_and_sensor_data(tmp_path):
    cfg = CollectConfig(
        minutes=0.25,
        out=str(tmp_path / "bags"),
        real_time_factor=2.0,
        episode_seconds=5.0,
        domain_id=private_domain_id(),
        seed=3,
    )
    summary = collect(cfg, progress=False)
    assert json.loads((tmp_path / "bags" / "collect_summary.json").read_text()) == summary
    assert summary["episode_bags"], summary
    # at least one complete episode: start ... end event, with the contract topics at their rates
    complete = 0
    for name in summary["episode_bags"]:
        with Reader(tmp_path / "bags" / name) as reader:
            counts = {c.topic: c.msgcount for c in reader.connections}
            events = [
                TS.deserialize_cdr(raw, c.msgtype).data
                for c, _, raw in reader.messages()
                if c.topic == "/episode/event"
            ]
            duration = (reader.end_time - reader.start_time) / 1e9
        assert events[0] == "start"
        if len(events) == 2 and events[1] in ("success", "fail", "reset"):
            complete += 1
            assert duration > 1.0
            assert counts["/joint_states"] >= 200 * duration * 0.9
            # camera frames are best effort (sensor QoS) and ~12 kB each: under load a few do not reach
            # the recorder (127 of 150 once, in a repeat run that took 614 s instead of ~440 s); the converter
            # reports such gaps. The bound still catches a camera at a wrong rate or a stalled recorder.
            assert counts["/camera/image_raw"] >= 30 * duration * 0.8, (counts, duration)
            assert counts["/cmd_vel"] >= 5 * duration * 0.8
    assert complete >= 1
