"""`fog train rssm`: a run stopped after K steps resumes at K and ends where an uninterrupted one ends;
--resume without a checkpoint and --resume never over one are refused. The store is the `store_path`
fixture (training/tests/conftest.py)."""

import json
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import train_rssm  # noqa: E402
from fog_training.checkpoint import checkpoint_path, load_checkpoint  # noqa: E402


def summary(run):
    return json.loads((Path(run) / "train_summary.json").read_text())


def test_stop_and_resume_continues_the_same_run(store_path, tmp_path):
    """A run stopped after K steps resumes at step K and ends where an uninterrupted run ends."""
    base = ["--data", str(store_path), "--preset", "debug", "--loop.steps", "8", "--loop.checkpoint-every", "3"]
    assert train_rssm.main(base + ["--out", str(tmp_path / "a"), "--loop.stop-after", "5"]) == 0
    s = summary(tmp_path / "a")
    assert s["step"] == 5 and s["stopped"] == "stop_after"
    assert load_checkpoint(checkpoint_path(tmp_path / "a")).step == 5
    assert train_rssm.main(base + ["--out", str(tmp_path / "a"), "--resume"]) == 0
    s = summary(tmp_path / "a")
    assert s["start_step"] == 5 and s["step"] == 8
    assert train_rssm.main(base + ["--out", str(tmp_path / "b")]) == 0
    a = load_checkpoint(checkpoint_path(tmp_path / "a")).model_state
    b = load_checkpoint(checkpoint_path(tmp_path / "b")).model_state
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_resume_flags(store_path, tmp_path):
    with pytest.raises(FileNotFoundError):
        train_rssm.main(["--data", str(store_path), "--out", str(tmp_path / "x"), "--preset", "debug", "--resume"])
    assert (
        train_rssm.main(
            ["--data", str(store_path), "--out", str(tmp_path / "y"), "--preset", "debug", "--loop.steps", "2"]
        )
        == 0
    )
    with pytest.raises(FileExistsError):
        train_rssm.main(
            ["--data", str(store_path), "--out", str(tmp_path / "y"), "--preset", "debug", "--resume", "never"]
        )
