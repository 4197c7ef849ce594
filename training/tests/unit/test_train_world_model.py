"""`fog train world-model` (and beside it `fog train rssm`): the debug presets run, --auto-sigma-data measures
the residual target, the losses fall on a fixed tiny dataset. The store is the `store_path` fixture
(training/tests/conftest.py)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import train_rssm, train_world_model  # noqa: E402
from fog_training.checkpoint import checkpoint_path, load_checkpoint  # noqa: E402
from fog_worldmodel.global_world_model import GlobalWorldModel  # noqa: E402
from fog_worldmodel.rssm import RSSM  # noqa: E402


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
