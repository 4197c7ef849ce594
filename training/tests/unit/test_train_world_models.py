"""Trainers: debug presets run, losses fall on a fixed tiny dataset, checkpoints resume with the same step."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import train_rssm, train_world_model  # noqa: E402
from fog_training.checkpoint import checkpoint_path, load_checkpoint  # noqa: E402
from fog_training.data.synthetic_store import make_synthetic_store  # noqa: E402
from fog_training.train_loop import LoopConfig, train  # noqa: E402
from fog_worldmodel.global_world_model import GlobalWorldModel  # noqa: E402
from fog_worldmodel.rssm import RSSM  # noqa: E402


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "synth.zarr"
    make_synthetic_store(p, episodes=5, steps=[24, 20, 24, 18, 24], image_hw=(32, 32), seed=0)
    return p


def summary(run):
    return json.loads((Path(run) / "train_summary.json").read_text())


def test_debug_presets_train_both_models(store_path, tmp_path):
    wm, rs = tmp_path / "wm", tmp_path / "rssm"
    assert (
        train_world_model.main(["--data", str(store_path), "--out", str(wm), "--preset", "debug", "--loop.steps", "6"])
        == 0
    )
    assert train_rssm.main(["--data", str(store_path), "--out", str(rs), "--preset", "debug", "--loop.steps", "6"]) == 0
    for run, cls in ((wm, GlobalWorldModel), (rs, RSSM)):
        s = summary(run)
        assert s["step"] == 6 and s["stopped"] == "done"
        model = cls.from_pretrained(run / "model")
        assert model.cfg.action_dim == 2
        records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in records] == [2, 4, 6] and all(np.isfinite(r["loss"]) for r in records)
        assert any((run / "tb").iterdir())
        ck = load_checkpoint(checkpoint_path(run))
        assert ck.step == 6 and ck.config["loop"]["steps"] == 6 and ck.optim_state["state"]
    # The dataset's normalization travels with the model.
    m = GlobalWorldModel.from_pretrained(wm / "model")
    assert m.reward_std.item() != 1.0 and m.action_std.shape == (2,)


def test_auto_sigma_data_measures_the_residual_target_and_records_it(store_path, tmp_path):
    from fog_training.data.episode_store import EpisodeStore
    from fog_training.window_sampler import WindowSampler

    wm = tmp_path / "wm"
    args = ["--data", str(store_path), "--out", str(wm), "--preset", "debug", "--loop.steps", "2"]
    assert train_world_model.main([*args, "--model.edm.residual", "--auto-sigma-data"]) == 0
    cfg = GlobalWorldModel.from_pretrained(wm / "model").cfg.edm
    # the same figure computed here by hand: std of (next frame - last frame) in [-1, 1]
    sampler = WindowSampler(EpisodeStore(store_path), 32, 0.05)
    w = sampler.sample(np.random.default_rng(12345), 512, 2)
    x = w["image"].astype(np.float32) / 127.5 - 1
    assert cfg.residual and cfg.sigma_data == pytest.approx(float((x[:, 1] - x[:, 0]).std()), abs=1e-4)
    assert cfg.sigma_data != 0.5
    assert json.loads((wm / "config.json").read_text())["model"]["edm"]["sigma_data"] == cfg.sigma_data


def _fixed_loss_falls(model, batch, steps=40, lr=2e-3):
    def loss_at_fixed_noise():
        torch.manual_seed(123)
        with torch.no_grad():
            return model.compute_loss(batch)[0].item()

    before = loss_at_fixed_noise()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        loss, _ = model.compute_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, loss_at_fixed_noise()


def test_losses_fall_on_fixed_tiny_dataset(store_path):
    from fog_training.window_sampler import WindowSampler

    torch.manual_seed(0)
    wcfg, rcfg = train_world_model.PRESETS["debug"](), train_rssm.PRESETS["debug"]()
    sampler = WindowSampler(store_path, 32, val_fraction=0.0)
    rng = np.random.default_rng(0)
    wm = GlobalWorldModel(wcfg.model)
    wm.set_normalization(sampler.store.normalization)
    wbatch = {
        k: torch.from_numpy(v) for k, v in train_world_model.make_batch_fn(wcfg.model, sampler, wcfg)(rng).items()
    }
    before, after = _fixed_loss_falls(wm, wbatch)
    assert after < 0.7 * before, (before, after)
    rssm = RSSM(rcfg.model)
    rssm.set_normalization(sampler.store.normalization)
    rbatch = {k: torch.from_numpy(v) for k, v in sampler.sample(rng, 4, 8).items()}
    before, after = _fixed_loss_falls(rssm, rbatch)
    assert after < 0.7 * before, (before, after)


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


def test_generic_loop_trains_any_part(tmp_path):
    class Quadratic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))

        def compute_loss(self, batch):
            loss = ((self.w - batch["target"]) ** 2).sum()
            return loss, {"loss": loss.item()}

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

    class Quadratic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))

        def compute_loss(self, batch):
            loss = ((self.w - batch["target"]) ** 2).sum()
            return loss, {"loss": loss.item()}

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


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it holds or `timeout` (wall s) passes; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)  # the polling interval of a condition wait
    return bool(predicate())


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
        reached = wait_until(lambda: checkpointed() or proc.poll() is not None, 400)
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
