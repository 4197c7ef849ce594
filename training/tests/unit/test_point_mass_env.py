"""The 2-D point mass (fog_training.point_mass_env): the dynamics, reward and truncation by hand, the
autoreset, and the evaluation's mean final distance for a perfect and a still policy."""

import numpy as np
import pytest
import torch
from fog_training.point_mass_env import ACTION_DIM, STATE_DIM, PointMassSimulator, evaluate_point_mass


def test_step_moves_a_fraction_of_the_way_and_rewards_minus_the_distance():
    sim = PointMassSimulator(2, seed=0, max_steps=5, gain=0.5)
    obs = sim.reset()
    assert obs.shape == (2, STATE_DIM) and obs.dtype == torch.float32 and obs.abs().max() <= 1
    s0 = obs.numpy().copy()
    a = torch.tensor([[0.5, -0.5], [3.0, -3.0]])  # the second is clipped to [-1, 1]
    r = sim.step(a)
    p = s0[:, :2] + 0.5 * (np.clip(a.numpy(), -1, 1) - s0[:, :2])
    np.testing.assert_allclose(r.obs[:, :2].numpy(), p, rtol=1e-6)
    np.testing.assert_allclose(r.obs[:, 2:].numpy(), s0[:, 2:])  # the goal stays
    np.testing.assert_allclose(r.reward.numpy(), -np.linalg.norm(p - s0[:, 2:], axis=1), rtol=1e-6)
    assert not r.terminated.any() and not r.truncated.any() and torch.equal(r.next_start, r.obs)
    assert sim.samples == 2 and r.reward.shape == (2,) and ACTION_DIM == 2


def test_episodes_are_truncated_at_max_steps_and_restart_themselves():
    sim = PointMassSimulator(3, seed=1, max_steps=3)
    sim.reset()
    rewards = []
    for t in range(3):
        r = sim.step(torch.zeros(3, 2))
        rewards.append(r.reward.numpy())
        assert r.truncated.all() == (t == 2) and not r.terminated.any()
    # the final observation is the ended episode's, the next start a fresh one
    assert not torch.equal(r.obs, r.next_start)
    np.testing.assert_allclose(sim.episode_returns, np.sum(rewards, 0), rtol=1e-5)
    np.testing.assert_allclose(sim.final_distances, -rewards[-1], rtol=1e-6)
    assert sim.final_coverages == [-d for d in sim.final_distances] and (sim.t == 0).all()


def test_evaluation_of_a_perfect_and_a_still_policy():
    perfect = evaluate_point_mass(lambda s: s[:, 2:], episodes=64, max_steps=20)
    still = evaluate_point_mass(lambda s: s[:, :2], episodes=64, max_steps=20)
    assert perfect == pytest.approx(0.0, abs=1e-4)  # (1 - 0.5)^20 of the start distance remains
    assert 0.5 < still < 1.0, "a point that never moves ends about 0.7 from its goal"
    assert evaluate_point_mass(lambda s: s[:, :2], episodes=64) == still, "seeded: the same figure again"
