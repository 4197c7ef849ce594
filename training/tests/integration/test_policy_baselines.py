"""Baselines in the same harness: PPO in the world model, SB3 PPO in the true env, BPTT gradient cost."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import train_rssm, train_world_model  # noqa: E402
from fog_training.baselines import ppo_world_model, sb3_ppo  # noqa: E402
from fog_training.baselines.bptt import (  # noqa: E402
    GradientCostConfig,
    PeakRSS,
    differentiable_next_frame,
    measure,
    ratios,
    table,
)
from fog_training.data.synthetic_store import make_synthetic_store  # noqa: E402
from fog_worldmodel.global_world_model import GlobalWorldModel  # noqa: E402


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    data = root / "synth.zarr"
    make_synthetic_store(data, episodes=4, steps=20, image_hw=(32, 32), seed=0)
    for mod, out in ((train_world_model, root / "wm"), (train_rssm, root / "rssm")):
        assert mod.main(["--preset", "debug", "--data", str(data), "--out", str(out), "--loop.steps", "2"]) == 0
    return root, data


def test_ppo_in_world_model_runs_and_evaluates(models):
    root, data = models
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


def test_ppo_resume_drops_records_past_the_checkpoint(models):
    """A killed PPO run's records past its last checkpoint are redone on resume, not duplicated."""
    root, data = models
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


def test_sb3_ppo_true_env(tmp_path):
    out = tmp_path / "sb3"
    assert sb3_ppo.main(["--preset", "debug", "--out", str(out)]) == 0
    ev = _records(out / "evals.jsonl")
    assert [e["real_samples"] for e in ev] == [128, 256] and (out / "model.zip").exists()


def test_differentiable_sampler_matches_the_env_sampler(models):
    root, _ = models
    wm = GlobalWorldModel.from_pretrained(root / "wm" / "model").requires_grad_(False)
    L = wm.cfg.context_length
    obs = torch.rand(2, L, 3, 32, 32) * 2 - 1
    act = torch.rand(2, L, 2, requires_grad=True)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    ref = wm.predict_next(obs, act.detach(), g1)
    x = differentiable_next_frame(wm, obs, act, g2)
    assert torch.allclose(x.detach(), ref, atol=1e-5)
    x.sum().backward()
    assert act.grad.abs().sum() > 0  # BPTT: the gradient flows through the sampler to the actions


def test_gradient_cost_bptt_keeps_more_activations_than_fog(models):
    root, data = models
    cfg = GradientCostConfig(
        data=str(data), world_model=str(root / "wm"), rssm=str(root / "rssm"), envs=2, horizon=3, repeats=1, threads=1
    )
    fog, bptt = measure("fog", cfg), measure("bptt", cfg)
    assert fog["seconds"] > 0 and bptt["seconds"] > 0
    assert bptt["saved_activation_mb"] > 5 * fog["saved_activation_mb"] > 0


def test_peak_rss_is_reset_after_loading_so_the_update_peak_is_its_own():
    rss = PeakRSS()
    assert rss.resettable  # Linux with /proc (our machines); the fallback cannot be reset
    big = np.ones(200 * 2**20 // 8)  # 200 MB "loading" peak
    del big
    rss.reset()
    base = rss.current()
    assert rss.peak() - base < 20 * 2**20  # the loading peak is gone
    small = np.ones(50 * 2**20 // 8)
    small[::512] = 2.0  # touch every page
    grown = rss.peak() - base
    del small
    assert 45 * 2**20 < grown < 80 * 2**20


def test_gradient_cost_ratio_is_left_out_where_fog_figure_is_unmeasurable():
    fog = {"seconds": 2.0, "saved_activation_mb": 8.0, "peak_rss_increase_mb": 0.0}
    bptt = {"seconds": 6.0, "saved_activation_mb": 3000.0, "peak_rss_increase_mb": 2672.0}
    q = ratios(bptt, fog)
    assert q == {"seconds": 3.0, "saved_activation_mb": 375.0}
    rows = [dict(r, method=m, envs=4, horizon=16) for m, r in (("fog", fog), ("bptt", bptt))]
    text = table({"results": rows, "ratio_bptt_over_fog": q})
    assert "3.0x the time, 375.0x the saved activations (FoG's peak memory increase is under 1 MB: no ratio)." in text


@pytest.mark.slow
def test_bench_pusht_debug_preset_writes_every_method_the_gradient_cost_and_the_docs(tmp_path):
    """`fog bench pusht --preset debug` end to end: collect, world models, four methods, gradient cost."""
    from fog_training import bench_pusht, bench_pusht_report

    docs = tmp_path / "docs" / "BENCHMARKS.md"
    docs.parent.mkdir()
    start, end = bench_pusht_report.MARK_START, bench_pusht_report.MARK_END
    docs.write_text(f"# Benchmarks\n\nbefore\n\n{start}\nold\n{end}\n\nafter\n")
    out = tmp_path / "bench"
    assert bench_pusht.main(["--preset", "debug", "--out", str(out), "--docs", str(docs)]) == 0
    res = json.loads((out / "results.json").read_text())
    for method in ("fog", "ppo_world_model", "dmo", "sb3_ppo"):
        evals = res["methods"][method]["evals"]
        assert evals, method
        assert all(0.0 <= e["success_rate"] <= 1.0 and e["episodes"] == 2 for e in evals), method
    assert res["methods"]["fog"]["evals"][-1]["sample_kind"] == "world_model"
    assert res["methods"]["sb3_ppo"]["evals"][-1]["sample_kind"] == "real"
    gc = {r["method"]: r for r in res["gradient_cost"]["results"]}
    assert gc["bptt"]["saved_activation_mb"] > gc["fog"]["saved_activation_mb"] > 0
    text = docs.read_text()
    assert "\nold\n" not in text and text.startswith("# Benchmarks") and text.rstrip().endswith("after")
    assert "fog bench pusht --preset debug" in text and "PPO in the true env (SB3)" in text
    # the reference rows, on the same evaluation episodes, and the sentence on doing nothing
    refs = res["references"]
    assert set(refs) == {"nothing", "random"} and all(r["episodes"] == 2 for r in refs.values())
    assert res["dataset"]["action_encoding"]["encoding"] == "relative"
    assert all(r["action_encoding"] == res["dataset"]["action_encoding"] for r in res["methods"].values())
    assert "| Do nothing (agent holds still) (reference) | none | 0 | 0 |" in text
    assert "| Uniformly random actions (reference) | none | 0 | 0 |" in text
    assert re.search(r"beats? doing nothing", text) and "Actions: relative" in text and "Warning" not in text
    assert (docs.parent / "media" / "pusht_bench_curves.png").stat().st_size > 10_000
    # a second call resumes: every stage is finished, nothing is retrained
    stamp = (out / "fog" / "train_summary.json").stat().st_mtime
    assert bench_pusht.main(["--preset", "debug", "--out", str(out)]) == 0
    assert (out / "fog" / "train_summary.json").stat().st_mtime == stamp
