"""Stable-baselines3 PPO in the true state-based Push-T (the baseline in the real environment)."""

import json
import os
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.baselines import sb3_ppo  # noqa: E402


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_sb3_ppo_true_env(tmp_path):
    out = tmp_path / "sb3"
    assert sb3_ppo.main(["--preset", "debug", "--out", str(out)]) == 0
    ev = _records(out / "evals.jsonl")
    assert [e["real_samples"] for e in ev] == [128, 256] and (out / "model.zip").exists()
