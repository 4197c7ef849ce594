"""The policy artifacts bundled with fog_policy (what `make demo` runs) were made by `fog pipeline`
and pass the exporter's parity check with the robot's runtime; small enough for the repository."""

import pytest
from fog_contract.artifact import check_compatible, load_meta
from fog_contract.go2 import JOINT_NAMES
from fog_policy.task_demo import bundled_artifact
from fog_training.export import validate_artifact


@pytest.mark.parametrize("task", ["goal", "pushcube"])
def test_bundled_policy_artifact_is_valid_and_made_by_the_pipeline(task):
    artifact = bundled_artifact(task)
    meta = load_meta(artifact)
    check_compatible(meta, list(JOINT_NAMES))
    assert meta["action"]["kind"] == "cmd_vel"
    assert meta["created_by"].startswith(f"fog pipeline {task}") or meta["created_by"].startswith(
        "fog pipeline pushcube"
    )
    stages = meta["config"]["pipeline"]["stages"]
    assert list(stages) == ["collect", "dataset", "global", "rssm", "policy", "export"]
    assert all(cmd.startswith("fog ") for cmd in stages.values())
    report = validate_artifact(artifact)  # onnxruntime replays the recorded inputs: parity with torch
    assert max(report["max_abs_diff"].values()) <= report["tolerance"] and report["steps"] >= 8
    assert sum(f.stat().st_size for f in artifact.iterdir()) < 20e6  # small enough for the repository
