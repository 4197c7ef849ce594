"""The untrained policy artifact committed for fog_policy's tests (which sit below fog_training and
cannot run the exporter) is what the export code writes today: regenerate it and compare."""

import json
from pathlib import Path

import numpy as np
from fog_training.export import runtime_rollout, validate_artifact
from fog_training.untrained_artifact import make_untrained_artifact

COMMITTED = Path(__file__).resolve().parents[3] / "ros_ws/src/fog_policy/test_data/untrained_artifact"
REGENERATE = (
    "python -m fog_training.untrained_artifact --seed 1 --out ros_ws/src/fog_policy/test_data/untrained_artifact"
)


def test_committed_untrained_artifact_matches_the_exporter(tmp_path):
    validate_artifact(COMMITTED)
    fresh = tmp_path / "fresh"
    make_untrained_artifact(fresh, seed=1)
    data = np.load(COMMITTED / "parity_check.npz")
    ours = runtime_rollout(COMMITTED, data["images"], data["proprio"])
    theirs = runtime_rollout(fresh, data["images"], data["proprio"])
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-4, err_msg=f"{key}: regenerate with `{REGENERATE}`")
    meta_c, meta_f = (json.loads((d / "policy_meta.json").read_text()) for d in (COMMITTED, fresh))
    for key in ("observation", "action", "policy_rate_hz", "schema_version", "state", "joint_names"):
        assert meta_c[key] == meta_f[key], f"policy_meta.json {key} differs: regenerate with `{REGENERATE}`"
