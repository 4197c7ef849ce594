"""PPO inside the global world model (the baseline at FoG's sample budget): trains, evaluates, resumes.

The world models are the debug-preset runs of the `synthetic_models` fixture (training/tests/conftest.py).
"""

import json
import os
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.baselines import ppo_world_model  # noqa: E402


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_ppo_in_world_model_runs_and_evaluates(synthetic_models):
    root, data = synthetic_models
    out = root / "ppo"
    assert (
        ppo_world_model.main(
            [
                "--preset",
                "debug",
                "--data",
                str(data),
                "--world-model",
                str(root / "wm"),
                "--rssm",
                str(root / "rssm"),
                "--out",
                str(out),
                "--sample-budget",
                "48",
            ]
        )
        == 0
    )
    s = json.loads((out / "train_summary.json").read_text())
    assert s["samples"] == 48 and s["iteration"] == 3
    m = _records(out / "metrics.jsonl")
    assert all(np.isfinite(r["ppo/value_loss"]) for r in m)
    ev = _records(out / "evals.jsonl")[-1]
    assert ev["sample_kind"] == "world_model" and ev["world_model_samples"] == 48
    assert (out / "policy" / "rssm" / "model.safetensors").exists()


def test_ppo_resume_drops_records_past_the_checkpoint(synthetic_models):
    """A killed PPO run's records past its last checkpoint are redone on resume, not duplicated."""
    root, data = synthetic_models
    out = root / "ppo_resume"
    base = ["--preset", "debug", "--data", str(data), "--world-model", str(root / "wm"), "--rssm", str(root / "rssm")]
    base += ["--out", str(out), "--eval-episodes", "0"]
    assert ppo_world_model.main(base + ["--sample-budget", "32"]) == 0
    with open(out / "metrics.jsonl", "a") as f:  # what a run killed after logging iteration 3 leaves
        f.write(json.dumps({"iteration": 3, "ppo/value_loss": -1.0}) + '\n{"iteration": 4, "pp')
    assert ppo_world_model.main(base + ["--sample-budget", "48"]) == 0
    m = _records(out / "metrics.jsonl")
    assert [r["iteration"] for r in m] == [1, 2, 3], m
    assert m[2]["ppo/value_loss"] != -1.0, "iteration 3's record is the resumed run's"
