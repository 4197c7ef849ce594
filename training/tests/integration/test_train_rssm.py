"""`python -m fog_training.train_rssm` killed (SIGKILL) mid-run in a child process resumes from its last
checkpoint. The store is the `store_path` fixture (training/tests/conftest.py)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import train_rssm  # noqa: E402
from fog_training.checkpoint import checkpoint_path, load_checkpoint  # noqa: E402
from quadruped_bridge.process_launch import wait_for  # noqa: E402


def summary(run):
    return json.loads((Path(run) / "train_summary.json").read_text())


def test_killed_run_resumes_from_its_last_checkpoint(store_path, tmp_path):
    run = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "fog_training.train_rssm",
        "--data",
        str(store_path),
        "--out",
        str(run),
        "--preset",
        "debug",
        "--loop.steps",
        "100000",
        "--loop.checkpoint-every",
        "5",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    def checkpointed():
        return checkpoint_path(run).exists() and load_checkpoint(checkpoint_path(run)).step >= 10

    try:
        # generous: on a 2-core machine that a nice-0 job keeps busy this niced trainer took over 120 s
        reached = wait_for(lambda: checkpointed() or proc.poll() is not None, 400, interval=0.2)
        assert proc.poll() is None or checkpointed(), (
            f"the trainer exited ({proc.returncode}) before its step-10 checkpoint:\n"
            + proc.stderr.read().decode()[-2000:])
        assert reached, "awaited a checkpoint of step >= 10 for 400 s"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    step = load_checkpoint(checkpoint_path(run)).step
    assert step >= 10 and step % 5 == 0
    # (a half-written *.tmp the kill may have left beside it must not stop the resume below)
    assert (
        train_rssm.main(
            ["--data", str(store_path), "--out", str(run), "--preset", "debug", "--loop.steps", str(step + 3)]
        )
        == 0
    )
    s = summary(run)
    assert s["start_step"] == step and s["step"] == step + 3
