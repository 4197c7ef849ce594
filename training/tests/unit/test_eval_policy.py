"""Policy evaluation in gym-pusht (fog_training.eval_policy): the do-nothing and random reference policies,
and `fog eval policy --reference` reporting the coverage gain over doing nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fog_training import eval_policy
from fog_training.pusht_state_env import PushTStateEnv
from fog_training.pusht_task import AGENT_RADIUS, PushTAction, point_to_t_distance, t_keypoints


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
