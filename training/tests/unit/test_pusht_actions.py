"""Push-T action encodings (relative / absolute), the do-nothing and random reference rows, and the
bench table's comparison with doing nothing. Small and fast: a few short episodes, no training."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fog_training import bench_pusht, bench_pusht_report, eval_policy
from fog_training.data.episode_store import EpisodeStore
from fog_training.data.pusht_collect import main as collect_main
from fog_training.pusht_state_env import PushTStateEnv
from fog_training.pusht_task import AGENT_RADIUS, PushTAction, point_to_t_distance, t_keypoints


def test_encodings_map_actions_to_targets_and_back():
    rel, ab = PushTAction("relative", 40.0), PushTAction("absolute")
    agent = np.array([100.0, 300.0])
    np.testing.assert_allclose(rel.target([0.5, -1.0], agent), [120.0, 260.0])
    np.testing.assert_allclose(rel.target([0.0, 0.0], agent), agent)  # a = 0 holds still
    np.testing.assert_allclose(rel.action([120.0, 260.0], agent), [0.5, -1.0])
    np.testing.assert_allclose(rel.action([300.0, 300.0], agent), [1.0, 0.0])  # long moves clip
    np.testing.assert_allclose(rel.target([-1.0, 1.0], [10.0, 500.0]), [0.0, 512.0])  # stays in the arena
    np.testing.assert_allclose(ab.target([-1.0, 0.0], agent), [0.0, 256.0])
    np.testing.assert_allclose(ab.target(ab.hold(agent), agent), agent)
    np.testing.assert_allclose(rel.hold(agent), [0.0, 0.0])
    # meta round trip; stores written before the switch (a sentence, or nothing) read back as absolute
    assert PushTAction.from_meta(rel.to_meta()) == rel and PushTAction.from_meta(ab.to_meta()) == ab
    old = {"encoding": "normalised absolute agent target: env action (pixels, [0, 512]) = (action + 1) * 256"}
    assert PushTAction.from_meta(old) == ab and PushTAction.from_meta(None) == ab
    with pytest.raises(ValueError):
        PushTAction("polar")


def _episode_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@pytest.mark.parametrize("encoding", ["relative", "absolute"])
def test_collect_round_trip_dataset_action_to_env_target(tmp_path, encoding):
    """collect -> stored action -> PushTAction(meta).target(action, agent) replays the episode exactly."""
    out = tmp_path / "p.zarr"
    # seed 0: episode 0 is scripted, episode 1 follows smooth random targets (both drivers covered)
    args = ["--episodes", "2", "--max-steps", "15", "--image-size", "16", "--workers", "1", "--seed", "0"]
    assert collect_main([*args, "--action-encoding", encoding, "--action-scale-px", "50", "--out", str(out)]) == 0
    store = EpisodeStore(out)
    enc = PushTAction.from_store_meta(store.meta)
    assert enc == (PushTAction("relative", 50.0) if encoding == "relative" else PushTAction("absolute"))
    assert store.array("extra/policy").min() == 0 and store.array("extra/policy").max() == 1
    env = PushTStateEnv(action=enc).env
    for i in range(store.num_episodes):
        ep = store.episode(i)
        state = ep["extra/state"]
        env.reset(seed=_episode_seed(0, i))
        np.testing.assert_allclose(env.agent.position, state[0, :2])
        for t in range(len(state) - 1):
            env.step(enc.target(ep["action"][t], np.asarray(env.agent.position)))
            np.testing.assert_allclose(
                [*env.agent.position, *env.block.position], state[t + 1, :4], atol=1e-6, err_msg=f"ep {i} t {t}"
            )
    a = store.array("action")
    assert np.abs(a).max() <= 1.0
    if encoding == "relative":  # moves fill [-1, 1] rather than hug 0 or the bounds
        assert 0.05 < np.abs(a).mean() < 0.8 and (np.abs(a) == 1.0).mean() < 0.5


def _clear_seeds(n: int) -> list[int]:
    """Evaluation seeds where the agent starts clear of the T (else pymunk pushes them apart at once)."""
    env, seeds = PushTStateEnv().env, []
    for i in range(40):
        s = eval_policy.episode_seed(0, i)
        env.reset(seed=s)
        kp = t_keypoints(*env.block.position, env.block.angle)
        if point_to_t_distance(np.asarray(env.agent.position), kp) > AGENT_RADIUS + 2:
            seeds.append(s)
        if len(seeds) == n:
            return seeds
    raise AssertionError("too few clear seeds")


@pytest.mark.parametrize("encoding", ["relative", "absolute"])
def test_do_nothing_keeps_the_t_where_it_was(encoding):
    enc = PushTAction(encoding)
    seeds = _clear_seeds(3)
    start = []
    for s in seeds:
        env = PushTStateEnv(action=enc)
        env.reset(seed=s)
        start.append(env.env._get_coverage())  # noqa: SLF001  (gym-pusht has no public coverage before a step)
    final, best, succ, length, _ = eval_policy.run_state_policy(
        eval_policy.reference_policy("nothing", enc, seeds), seeds, 15, action=enc
    )
    np.testing.assert_allclose(final, start, atol=1e-6)
    np.testing.assert_allclose(best, start, atol=1e-6)
    assert not succ.any() and (length == 15).all()
    # random actions do move the agent, and the same seed gives the same actions whatever the batch
    rnd = eval_policy.reference_policy("random", enc, seeds)
    obs = np.zeros((3, 11), np.float32)
    a1 = rnd(obs)
    assert a1.shape == (3, 2) and np.abs(a1).max() <= 1.0 and np.abs(a1).max() > 0.1
    np.testing.assert_array_equal(eval_policy.reference_policy("random", enc, seeds[1:2])(obs[:1]), a1[1:2])


def test_eval_policy_reference_cli_reports_gain_over_nothing(tmp_path):
    out = tmp_path / "ref"
    argv = ["--reference", "random", "--episodes", "2", "--max-steps", "5", "--no-video", "--out", str(out)]
    assert eval_policy.main(argv) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["action_encoding"]["encoding"] == "relative"
    assert set(report["references"]) == {"nothing", "random"}
    nothing = report["references"]["nothing"]["mean_final_coverage"]
    assert report["coverage_gain_over_nothing"] == pytest.approx(report["mean_final_coverage"] - nothing)
    # the random reference evaluated alone is the random reference row (same seeds)
    assert report["mean_final_coverage"] == pytest.approx(report["references"]["random"]["mean_final_coverage"])


def _results(fog_cov: float) -> dict:
    ev = lambda n, cov, kind: {  # noqa: E731
        "samples": n,
        "real_samples": 100,
        "sample_kind": kind,
        "success_rate": 0.0,
        "mean_final_coverage": cov,
        "episodes": 4,
    }
    ref = lambda label, cov: {  # noqa: E731
        "label": label,
        "episodes": 4,
        "success_rate": 0.0,
        "mean_final_coverage": cov,
        "std_final_coverage": 0.02,
    }
    enc = PushTAction().to_meta()
    return {
        "methods": {
            "fog": {
                "label": "FoG",
                "evals": [ev(32, 0.01, "world_model"), ev(48, fog_cov, "world_model")],
                "train_seconds": 5.0,
                "action_encoding": enc,
            },
            "sb3_ppo": {
                "label": "PPO in the true env (SB3)",
                "evals": [ev(64, 0.03, "real")],
                "train_seconds": 3.0,
                "action_encoding": enc,
            },
        },
        "references": {
            "nothing": ref("do nothing (agent holds still)", 0.07),
            "random": ref("uniformly random actions", 0.05),
        },
        "dataset": {"path": "x.zarr", "episodes": 4, "steps": 100, "action_encoding": enc},
        "stage_seconds": {},
    }


def test_bench_markdown_has_reference_rows_and_says_whether_anything_beats_doing_nothing():
    cfg = bench_pusht.PRESETS["debug"]()
    md = bench_pusht_report.markdown(_results(0.02), cfg)
    assert "| Do nothing (agent holds still) (reference) | none | 0 | 0 | 0.00 | 0.070 | +0.000 | |" in md
    assert "| Uniformly random actions (reference) | none | 0 | 0 | 0.00 | 0.050 | -0.020 | |" in md
    assert "| FoG | world model | 48 | 100 | 0.00 | 0.020 | -0.050 | 5 |" in md
    assert "**No method beats doing nothing**" in md and "PPO in the true env (SB3), ends at 0.030" in md
    assert "Actions: relative" in md and "Warning" not in md
    md = bench_pusht_report.markdown(_results(0.30), cfg)
    assert "**1 of 2 methods beat doing nothing**" in md and "FoG (+0.230" in md
    assert "PPO in the true env (SB3) do not." in md and "within 2 standard errors" not in md
    md = bench_pusht_report.markdown(_results(0.08), cfg)  # +0.01 < 2 x 0.02 / sqrt(4)
    assert "FoG (+0.010, success rate 0.00) (within 2 standard errors: not a clear win)" in md
