"""State-based Push-T (fog_training.pusht_state_env): the 11 state features, the dense reward and the
truncation of the gym env, and the N-env simulator's autoreset and sample count."""

import math

import numpy as np
import pytest
import torch
from fog_training.pusht_state_env import ACTION_DIM, STATE_DIM, PushTStateEnv, PushTStateSimulator, state_features
from fog_training.pusht_task import PushTAction, dense_reward


def test_reset_gives_the_state_features_of_the_seeded_scene():
    env = PushTStateEnv(max_steps=5)
    obs, info = env.reset(seed=3)
    assert obs.shape == (STATE_DIM,) and obs.dtype == np.float32 and info == {}
    a, b = env.env.agent, env.env.block
    np.testing.assert_allclose(obs[:2], np.asarray(a.position) / 256 - 1, rtol=1e-6)
    np.testing.assert_allclose(obs[4:6], np.asarray(b.position) / 256 - 1, rtol=1e-6)
    np.testing.assert_allclose(obs[6:8], [math.sin(b.angle), math.cos(b.angle)], rtol=1e-6)
    np.testing.assert_array_equal(state_features(env.env), obs)
    again, _ = PushTStateEnv().reset(seed=3)
    np.testing.assert_array_equal(again, obs)
    assert env.observation_space.shape == (STATE_DIM,) and env.action_space.shape == (ACTION_DIM,)


def test_step_goes_through_the_encoding_and_pays_the_dense_reward():
    env = PushTStateEnv(max_steps=2, reward_weights=(1.0, 0.5, 2.0), action=PushTAction("relative", 40.0))
    env.reset(seed=0)
    agent = np.asarray(env.env.agent.position).copy()
    obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.0], np.float32))  # a = 0: hold still
    assert np.linalg.norm(np.asarray(env.env.agent.position) - agent) < 1.0
    block = np.array([*env.env.block.position, env.env.block.angle])
    want = dense_reward(info["coverage"], np.asarray(env.env.agent.position), block, 1.0, 0.5, 2.0)
    assert reward == pytest.approx(want) and set(info) == {"coverage", "is_success", "env_reward"}
    assert not terminated and not truncated and 0.0 <= info["coverage"] <= 1.0
    *_, truncated, _ = env.step(np.array([1.0, 0.0], np.float32))
    assert truncated, "the second of max_steps=2 steps truncates"
    frame = env.render()
    assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8
    env.close()


def test_simulator_steps_n_envs_restarts_ended_episodes_and_counts_samples():
    sim = PushTStateSimulator(2, seed=1, max_steps=2)
    obs = sim.reset()
    assert obs.shape == (2, STATE_DIM) and sim.episodes == 2 and not torch.equal(obs[0], obs[1])
    r = sim.step(torch.zeros(2, 2))
    assert r.obs.shape == (2, STATE_DIM) and r.reward.dtype == torch.float32 and not r.truncated.any()
    assert torch.equal(r.obs, r.next_start) and set(r.info) == {"coverage", "success"}
    r = sim.step(torch.zeros(2, 2))
    assert r.truncated.all() and sim.episodes == 4 and sim.samples == 4
    assert not torch.equal(r.obs, r.next_start), "ended episodes continue from a fresh start"
    assert len(sim.episode_returns) == len(sim.final_coverages) == 2
    np.testing.assert_allclose(sim.final_coverages, r.info["coverage"].numpy())
