"""The task demo's closed loop (simulator, locomotion, policy node: separate processes) and the
bundled policy artifacts.

The demo runs here with an untrained exported policy and with the reference command sources: the
tests check the demo's bookkeeping against what the simulator published, and that the scripted
ground-truth controller reaches the marker (the task is solvable over ROS); learned-policy success
is measured in benchmarks/task_success.py. The bundled artifacts are checked in
training/tests/unit/test_bundled_artifacts.py (their parity check is the exporter's).
"""

import json

import numpy as np
import pytest
from fog_policy.task_demo import run_task
from quadruped_bridge.ros_probe import private_domain_id

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("policy", ["artifact", "random"])
def test_pushcube_demo_episodes_and_outputs(tmp_path, policy, untrained_artifact):
    if policy == "artifact":
        policy = str(untrained_artifact)
    out = tmp_path / "demo"
    r = run_task(out, task="pushcube", policy=policy, episodes=2, episode_seconds=4.0, seed=5, real_time_factor=2.0,
                 video=policy != "random", domain_id=private_domain_id())  # fmt: skip
    assert [e["episode"] for e in r.episodes] == [0, 1]
    assert [e["scene_seed"] for e in r.episodes] == [6, 7]
    # two scenes: different start distances, each a real measurement from sim/cube_pose and sim/goal_pose
    starts = [e["start_distance_m"] for e in r.episodes]
    assert starts[0] != starts[1] and all(0.3 < s < 2.0 for s in starts)
    trace = np.load(out / "trace.npz")
    for e in r.episodes:
        t, d = trace[f"distance_{e['episode']}"]
        assert len(t) > 50 and d[-1] == pytest.approx(e["final_distance_m"])
        assert e["success"] == bool((d < 0.15).any()) and e["min_distance_m"] == pytest.approx(d.min())
    # commands at the policy's 5 Hz inside the episodes (simulated time)
    assert r.command_rate_hz == pytest.approx(5.0, rel=0.1), r.command_rate_hz
    assert r.falls == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success_rate"] == r.success_rate and len(summary["episodes"]) == 2
    assert (out / "pushcube.png").stat().st_size > 10_000
    assert (out / "demo.mp4").exists() == (policy != "random")


def test_goal_scripted_controller_reaches_the_marker_over_ros(tmp_path):
    """The goal task is solvable through the deployed topics: the ground-truth controller, publishing
    cmd_vel at 5 Hz to the locomotion node, reaches the marker and the episode ends there."""
    out = tmp_path / "goal"
    r = run_task(out, task="goal", policy="scripted", episodes=2, episode_seconds=30.0, seed=3, real_time_factor=3.0,
                 video=False, domain_id=private_domain_id())  # fmt: skip
    assert r.task == "goal" and r.falls == 0
    for e in r.episodes:
        # the scene's 1.5-3 m, measured from the first base pose after the reset: the lying robot's
        # base sits a few cm off the origin it is placed at
        assert 1.5 - 0.05 <= e["start_distance_m"] <= 3.0 + 0.05, e
        assert e["success"], f"scripted controller did not reach the marker: {e}"
        assert e["final_distance_m"] < 0.35 + 0.05 and e["time_to_success_s"] < 25.0, e
    assert (out / "goal.png").stat().st_size > 10_000
