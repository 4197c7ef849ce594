"""`fog collect` (fog_policy.collect) end to end: recorder, simulator, locomotion and exploration driver,
real bags; and its clean exits (issue 16): on SIGINT, on SIGTERM and at the end of `--minutes`."""

import json
import signal

import pytest
from fog_policy.collect import CollectConfig, collect
from quadruped_bridge.process_launch import ManagedProcess, ProcessGroup, ros_env, wait_for
from quadruped_bridge.ros_probe import private_domain_id
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

pytestmark = pytest.mark.integration
TS = get_typestore(Stores.ROS2_KILTED)
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


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


def wait_file(path, text: str, proc: ManagedProcess, timeout: float = 90.0) -> None:
    """Wait for `text` in the log file a node started by `proc` writes."""
    seen = lambda: path.exists() and text in path.read_text(errors="replace")  # noqa: E731
    wait_for(lambda: seen() or not proc.alive(), timeout, interval=0.05)
    assert seen() or proc.alive(), f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()[-3000:]}"
    assert seen(), f"no {text!r} in {path} within {timeout:.0f} s"


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "minutes"])
def test_fog_collect_exits_0(how, tmp_path, fog, exit_problems, bad_output):
    """`fog collect`: a signal ends the collection early (bags closed, summary written); so does --minutes."""
    out = tmp_path / "bags"
    minutes = "0.03" if how == "minutes" else "10"
    domain = private_domain_id()
    with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
        proc = group.start(
            "collect",
            fog(
                "collect",
                "--minutes",
                minutes,
                "--out",
                str(out),
                "--real-time-factor",
                "2",
                "--camera-size",
                "32",
                "--domain-id",
                str(domain),
            ),
        )
        if how in SIGNALS:  # once the recorder records and the simulator runs
            wait_file(out / "logs" / "recorder.log", "recording", proc)
            wait_file(out / "logs" / "sim.log", "simulated Go2 ready", proc)
            proc.signal(SIGNALS[how])
        problems = exit_problems([proc], timeout=60)
        assert not problems, "\n\n".join(problems)
    node_logs = {p.stem: p.read_text() for p in (out / "logs").glob("*.log")}
    assert set(node_logs) == {"recorder", "sim", "locomotion", "exploration"}
    dirty = {name: [b for b in bad_output if b in log] for name, log in node_logs.items()}
    assert not any(dirty.values()), dirty
    assert '"interrupted": ' + ("true" if how in SIGNALS else "false") in proc.log()
