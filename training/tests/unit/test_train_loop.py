"""The generic training loop (fog_training.train_loop): trains any part with a compute_loss, and a resumed
run redoes the steps logged past its last checkpoint without duplicating their records."""

import json
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.checkpoint import checkpoint_path, load_checkpoint  # noqa: E402
from fog_training.train_loop import LoopConfig, train  # noqa: E402


class Quadratic(torch.nn.Module):
    """(w - target)^2 from w = (3, -2): a part the loop trains to the batch's target."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))

    def compute_loss(self, batch):
        loss = ((self.w - batch["target"]) ** 2).sum()
        return loss, {"loss": loss.item()}


def test_generic_loop_trains_any_part(tmp_path):
    part = Quadratic()
    loop = LoopConfig(steps=150, lr=0.05, warmup_steps=1, log_every=10, checkpoint_every=30, progress=False, threads=1)
    out = train(
        part, lambda rng: {"target": np.array([1.0, 1.0], np.float32)}, loop, tmp_path / "q", {"name": "quadratic"}
    )
    assert out["step"] == 150
    torch.testing.assert_close(part.w.detach(), torch.tensor([1.0, 1.0]), atol=0.1, rtol=0)


def test_resumed_run_does_not_duplicate_metrics(tmp_path):
    """A run that dies after logging steps past its last checkpoint redoes those steps on resume:
    metrics.jsonl then holds each step once, the redone steps' records being the new ones."""

    calls = {"n": 0}

    def dies_at_8th_batch(rng):
        calls["n"] += 1
        if calls["n"] == 8:
            raise RuntimeError("killed")
        return {"target": np.array([1.0, 1.0], np.float32)}

    loop = LoopConfig(steps=10, lr=0.05, warmup_steps=1, log_every=1, checkpoint_every=5, progress=False, threads=1)
    run = tmp_path / "q"
    with pytest.raises(RuntimeError, match="killed"):
        train(Quadratic(), dies_at_8th_batch, loop, run, {"name": "quadratic"})
    first = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in first] == [1, 2, 3, 4, 5, 6, 7] and load_checkpoint(checkpoint_path(run)).step == 5
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 8, "lo')  # a line the kill cut off
    out = train(Quadratic(), dies_at_8th_batch, loop, run, {"name": "quadratic"})
    assert out["start_step"] == 5 and out["step"] == 10
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 11))
    assert records[:5] == first[:5]  # kept as written; 6 and 7 once, from the resumed run
