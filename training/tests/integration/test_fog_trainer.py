"""FoG end to end on the debug preset (Push-T data -> world models -> policy -> true-env evaluation), resume, DMO.

The point mass (the last two tests): a regression test of the whole FoG/SAPO machinery on the 2-D
point mass (seconds on one thread). The trainer is unchanged: a true simulator steps the point mass
(values), an MLP local model learned from its transitions supplies the gradients through the
decoupled swap, SAPO's actor, critic and temperature updates do the rest. A policy that learned
nothing ends about 0.7 from its goals; the trained one must end within 0.15. With the swap's gradient
cut (values still global, no local Jacobian) the same run must not learn: the test would catch a swap
that stops carrying gradients.
"""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import eval_policy, fog_trainer, local_models, train_rssm, train_world_model  # noqa: E402
from fog_training.actor import deterministic_action, load_policy  # noqa: E402
from fog_training.data.pusht_collect import PushTCollectConfig, collect  # noqa: E402
from fog_training.point_mass_env import evaluate_point_mass  # noqa: E402


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def world_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fog")
    data = root / "pusht.zarr"
    t0 = time.monotonic()
    collect(PushTCollectConfig(out=data, episodes=4, max_steps=24, image_size=32, workers=1), progress=False)
    for mod, out in ((train_world_model, root / "wm"), (train_rssm, root / "rssm")):
        assert mod.main(["--preset", "debug", "--data", str(data), "--out", str(out), "--loop.steps", "4"]) == 0
    return root, data, time.monotonic() - t0


def test_debug_preset_trains_fog_end_to_end(world_models):
    root, data, t_models = world_models
    t0 = time.monotonic()
    out = root / "fog"
    args = [
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
    ]
    assert fog_trainer.main(args) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["iteration"] == 6 and summary["samples"] == 6 * 4 * 4 and summary["sample_kind"] == "world_model"
    metrics = _records(out / "metrics.jsonl")
    assert [m["iteration"] for m in metrics] == list(range(1, 7))
    assert all(np.isfinite(m["actor/loss"]) and np.isfinite(m["critic/loss"]) for m in metrics)
    assert any("refresh/rssm/kl" in m for m in metrics)  # the RSSM was refreshed on rollouts
    assert metrics[0]["actor/grad_norm"] > 0  # the swap carries a gradient to the actor
    ev = _records(out / "evals.jsonl")[-1]
    assert ev["episodes"] == 2 and ev["world_model_samples"] == 96 and 0 <= ev["mean_final_coverage"] <= 1

    # The deployable policy: actor + RSSM from the run dir, deterministic action in the bounds.
    actor, rssm = load_policy(out)
    state = rssm.initial_state(1)
    frame = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
    post, _, _, _ = rssm.obs_step(
        state, torch.zeros(1, 2), rssm.encode(frame), torch.ones(1, dtype=torch.bool), sample=False
    )
    a = deterministic_action(actor, rssm.feat(post))
    assert a.shape == (1, 2) and a.abs().max() <= 1

    # `fog eval policy` in gym-pusht, with best/worst videos.
    assert eval_policy.main(["--run", str(out), "--episodes", "2", "--max-steps", "6", "--batch", "2"]) == 0
    report = json.loads((out / "eval_policy" / "eval.json").read_text())
    assert (
        report["episodes"] == 2
        and Path(report["video_best"]["path"]).exists()
        and Path(report["video_worst"]["path"]).exists()
    )
    assert t_models + time.monotonic() - t0 < 120


def test_resume_continues_from_the_checkpoint(world_models):
    root, data, _ = world_models
    out = root / "fog_resume"
    base = [
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
        "--eval-episodes",
        "0",
    ]
    assert fog_trainer.main(base + ["--iterations", "3"]) == 0
    from fog_training.checkpoint import checkpoint_path, load_checkpoint

    w3 = load_checkpoint(checkpoint_path(out)).model_state["actor.net.0.weight"].clone()
    assert fog_trainer.main(base + ["--iterations", "5"]) == 0
    s = json.loads((out / "train_summary.json").read_text())
    assert s["start_iteration"] == 3 and s["iteration"] == 5 and s["samples"] == 5 * 16
    assert [m["iteration"] for m in _records(out / "metrics.jsonl")] == [1, 2, 3, 4, 5]
    assert not torch.equal(load_checkpoint(checkpoint_path(out)).model_state["actor.net.0.weight"], w3)
    with pytest.raises(FileExistsError):
        fog_trainer.main(base + ["--iterations", "6", "--resume", "never"])


def test_dmo_mode_on_state_pusht_learns_something(tmp_path):
    out = tmp_path / "dmo"
    assert fog_trainer.main(["--preset", "dmo-debug", "--out", str(out), "--iterations", "10"]) == 0
    m = _records(out / "metrics.jsonl")
    assert all(r["rollout/reward_global"] < 0.5 for r in m)  # the dense reward, from the true simulator
    # the MLP local model learned the simulator's deltas: on every real transition it saw, its loss
    # is below that of the same model untrained (same scales). (The refresh NLL's trend is no test:
    # the policy keeps moving to new states.)
    trainer = fog_trainer.FoGTrainer(fog_trainer.PRESETS["dmo-debug"]())
    trainer.load(out)
    d, n = trainer.replay.data, trainer.replay.size
    batch = {k: torch.from_numpy(d[k][:n]) for k in ("state", "action", "next_state", "reward")}
    fresh = type(trainer.local)(11, 2, tuple(trainer.cfg.local_hidden), trainer.cfg.swap)
    fresh.load_state_dict({k: v for k, v in trainer.local.state_dict().items() if "scale" in k}, strict=False)
    with torch.no_grad():
        trained_loss, _ = trainer.local.compute_loss(batch)
        untrained_loss, _ = fresh.compute_loss(batch)
    assert n >= 100 and trained_loss < untrained_loss, (float(trained_loss), float(untrained_loss))
    objectives = [r["actor/objective"] for r in m]
    assert len(set(np.round(objectives, 6))) > 1 and all(np.isfinite(objectives))
    assert any(r["actor/grad_norm"] > 0 for r in m if not r["actor/warmup"])
    actor, rssm = load_policy(out)
    assert rssm is None and actor.cfg.feat_dim == 11
    assert (out / "replay.safetensors").exists()
    ev = _records(out / "evals.jsonl")[-1]
    assert ev["sample_kind"] == "real" and ev["real_samples"] == 10 * 8 * 8


def test_resume_drops_records_past_the_checkpoint(tmp_path):
    """Records a dead run logged past its last checkpoint are redone on resume, not duplicated."""
    out = tmp_path / "dmo_resume"
    base = ["--preset", "dmo-debug", "--out", str(out), "--eval-episodes", "0"]
    assert fog_trainer.main(base + ["--iterations", "2"]) == 0
    with open(out / "metrics.jsonl", "a") as f:  # what a run killed after logging iteration 3 leaves
        f.write(json.dumps({"iteration": 3, "actor/objective": 0.0}) + '\n{"iteration": 4, "act')
    assert fog_trainer.main(base + ["--iterations", "4"]) == 0
    assert [m["iteration"] for m in _records(out / "metrics.jsonl")] == [1, 2, 3, 4]
    assert _records(out / "metrics.jsonl")[2]["actor/objective"] != 0.0  # iteration 3: the resumed run's


def _train_point_mass(tmp_path, iterations: int) -> tuple[float, float]:
    cfg = fog_trainer.PRESETS["point-mass"]()
    cfg.out, cfg.iterations, cfg.seed = str(tmp_path / "run"), iterations, 3
    trainer = fog_trainer.FoGTrainer(cfg)
    untrained = evaluate_point_mass(lambda s: trainer.actor(s))
    trainer.train()
    trainer.actor.eval()
    return untrained, evaluate_point_mass(lambda s: trainer.actor(s))


def test_fog_learns_the_point_mass(tmp_path):
    torch.manual_seed(0)
    untrained, trained = _train_point_mass(tmp_path, 150)
    assert untrained > 0.5, f"the untrained policy should end far from its goals, ended {untrained:.3f}"
    assert trained < 0.15, f"FoG did not learn the point mass: mean final distance {untrained:.3f} -> {trained:.3f}"


def test_cutting_the_swap_gradient_stops_learning(tmp_path, monkeypatch):
    monkeypatch.setattr(local_models, "swap", lambda local, global_value: global_value.detach())
    torch.manual_seed(0)
    untrained, trained = _train_point_mass(tmp_path, 150)
    assert trained > 0.4, (
        f"learned without the local model's gradient ({untrained:.3f} -> {trained:.3f}): the test is blind"
    )
