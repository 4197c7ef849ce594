"""WorldModelEnv: vector-env shapes and dtypes, seeding, context handling, autoreset."""

import numpy as np
import pytest
import torch
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig
from fog_worldmodel.reward_termination_head import RewardTerminationConfig
from fog_worldmodel.unet_inner_model import InnerModelConfig
from fog_worldmodel.world_model_env import WorldModelEnv

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = GlobalWorldModelConfig(
        image_size=16,
        action_dim=3,
        inner=InnerModelConfig(
            block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
        ),
        head=RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=16),
    )
    m = GlobalWorldModel(cfg)
    for p in m.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    m.set_normalization({"action": {"mean": [0.0] * 3, "std": [1.0] * 3}, "reward": {"mean": 2.0, "std": 0.5}})
    return m


def context(b=3, hw=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (b, 4, hw, hw, 3), dtype=np.uint8), rng.normal(size=(b, 4, 3)).astype(np.float32)


def test_shapes_and_dtypes(model):
    env = WorldModelEnv(model, seed=0)
    frames, actions = context()
    obs = env.reset(frames, actions)  # 24x24 context is resized to the model's 16x16
    assert obs.shape == (3, 16, 16, 3) and obs.dtype == torch.uint8
    assert env.num_envs == 3 and env.observation_shape == (16, 16, 3) and env.action_dim == 3
    for _ in range(3):
        obs, rew, done = env.step(np.zeros((3, 3), np.float32))
        assert obs.shape == (3, 16, 16, 3) and obs.dtype == torch.uint8
        assert rew.shape == (3,) and rew.dtype == torch.float32
        assert done.shape == (3,) and done.dtype == torch.bool


def test_numpy_mode_and_short_action_context(model):
    env = WorldModelEnv(model, seed=0, as_numpy=True)
    frames, actions = context()
    obs = env.reset(frames, actions[:, :3])
    assert isinstance(obs, np.ndarray) and obs.dtype == np.uint8
    o, r, d = env.step(torch.zeros(3, 3))
    assert isinstance(o, np.ndarray) and r.dtype == np.float32 and d.dtype == np.bool_


def test_deterministic_under_seed_and_action_dependent(model):
    frames, actions = context()
    acts = np.random.default_rng(1).normal(size=(5, 3, 3)).astype(np.float32)

    def roll(seed, scale=1.0):
        env = WorldModelEnv(model, seed=seed)
        env.reset(frames, actions)
        out = [env.step(a * scale) for a in acts]
        return torch.stack([o for o, _, _ in out]), torch.stack([r for _, r, _ in out])

    (f1, r1), (f2, r2), (f3, _) = roll(5), roll(5), roll(6)
    assert torch.equal(f1, f2) and torch.equal(r1, r2)
    assert not torch.equal(f1, f3)
    f4, _ = roll(5, scale=-3.0)
    assert not torch.equal(f1, f4)


def test_rejects_bad_context(model):
    env = WorldModelEnv(model)
    with pytest.raises(ValueError):
        env.reset(np.zeros((2, 3, 16, 16, 3), np.uint8), np.zeros((2, 3, 3), np.float32))
    with pytest.raises(RuntimeError):
        WorldModelEnv(model).step(np.zeros((2, 3)))


def test_autoreset_with_time_limit(model):
    calls = []

    def context_fn(n):
        calls.append(n)
        f, a = context(n, 16, seed=10 + len(calls))
        return f, a

    env = WorldModelEnv(model, seed=0, context_fn=context_fn, max_episode_steps=2)
    frames, actions = context(2, 16)
    env.reset(frames, actions)
    _, _, d1 = env.step(np.zeros((2, 3)))
    _, _, d2 = env.step(np.zeros((2, 3)))
    assert not d1.any() and d2.all() and calls == [2]
    assert env.final_frames is not None and env.final_frames.shape == (2, 16, 16, 3)
    _, _, d3 = env.step(np.zeros((2, 3)))
    assert not d3.any()  # the step counter restarted with the new context


def test_context_is_a_copy_of_the_current_window(model):
    env = WorldModelEnv(model, seed=0)
    with pytest.raises(RuntimeError, match="before reset"):
        env.context()
    frames, actions = context()
    env.reset(frames, actions)
    obs, act, hidden = env.context()
    assert obs.shape[:2] == act.shape[:2] == (3, 4) and act.shape[2] == 3
    obs += 1.0  # a copy: the environment's own window is untouched
    assert not torch.equal(obs, env.context()[0])
