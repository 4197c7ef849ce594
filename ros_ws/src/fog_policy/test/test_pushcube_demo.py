"""The push-cube demo's closed loop (simulator, locomotion, policy node: separate processes) and the
bundled policy artifact.

The demo runs here with an untrained exported policy and with random commands (the reference of
the success benchmark): the test checks the demo's bookkeeping against what the simulator
published, not task success (measured in benchmarks/pushcube_success.py).
"""

import json

import numpy as np
import pytest
from fog_policy.policy_artifact import check_compatible, load_meta
from fog_policy.pushcube_demo import bundled_artifact, run_pushcube
from fog_training.export import validate_artifact
from fog_training.untrained_artifact import make_untrained_artifact
from quadruped_bridge.go2_description import JOINT_NAMES
from quadruped_bridge.ros_probe import private_domain_id

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("policy", ["artifact", "random"])
def test_pushcube_demo_episodes_and_outputs(tmp_path, policy):
    if policy == "artifact":
        policy = str(tmp_path / "untrained")
        make_untrained_artifact(policy, seed=2)
    out = tmp_path / "demo"
    r = run_pushcube(out, policy=policy, episodes=2, episode_seconds=6.0, seed=5, real_time_factor=2.0,
                     video=policy != "random", domain_id=private_domain_id())  # fmt: skip
    assert [e["episode"] for e in r.episodes] == [0, 1]
    assert [e["scene_seed"] for e in r.episodes] == [5, 6]
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


def test_bundled_policy_artifact_is_valid_and_made_by_the_pipeline():
    artifact = bundled_artifact()
    meta = load_meta(artifact)
    check_compatible(meta, list(JOINT_NAMES))
    assert meta["action"]["kind"] == "cmd_vel"
    assert meta["created_by"].startswith("fog pipeline pushcube")
    stages = meta["config"]["pipeline"]["stages"]
    assert list(stages) == ["collect", "dataset", "global", "rssm", "policy", "export"]
    assert all(cmd.startswith("fog ") for cmd in stages.values())
    report = validate_artifact(artifact)  # onnxruntime replays the recorded inputs: parity with torch
    assert max(report["max_abs_diff"].values()) <= report["tolerance"] and report["steps"] >= 8
    assert sum(f.stat().st_size for f in artifact.iterdir()) < 20e6  # small enough for the repository
