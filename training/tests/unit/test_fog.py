"""The FoG step's functions (fog_training.fog) on the point mass: the window's objective is SAPO's
return, only the actor is differentiated, and the updates move what they should."""

import copy

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from fog_training import fog  # noqa: E402
from fog_training.actor import ActorConfig, SquashedGaussianActor  # noqa: E402
from fog_training.critic import CriticEnsemble, make_target  # noqa: E402
from fog_training.local_models import MLPLocalModel  # noqa: E402
from fog_training.point_mass_env import ACTION_DIM, STATE_DIM, PointMassSimulator  # noqa: E402
from fog_training.sapo import Temperature, target_entropy  # noqa: E402


def _setup(max_steps: int = 20, **cfg_kw):
    torch.manual_seed(0)
    cfg = fog.FoGStepConfig(num_envs=4, horizon=5, critic_iterations=2, critic_minibatches=2, **cfg_kw)
    actor = SquashedGaussianActor(ActorConfig(feat_dim=STATE_DIM, action_dim=ACTION_DIM, hidden=(16,)))
    critic = CriticEnsemble(STATE_DIM, (16,), 2)
    temperature = Temperature(cfg.init_alpha, target_entropy(ACTION_DIM, cfg.target_entropy_scale))
    local = MLPLocalModel(STATE_DIM, ACTION_DIM, (16,), cfg.swap)
    gm = PointMassSimulator(cfg.num_envs, seed=0, max_steps=max_steps)
    opt = fog.make_optimizer(actor, critic, temperature, local, cfg)
    return cfg, actor, critic, temperature, local, gm, opt


def _window(cfg, actor, critic, temperature, local, gm, carry=None):
    state = fog.start_window(local, gm, carry, np.random.default_rng(0))
    return fog.rollout_window(state, actor, critic, temperature, local, gm, cfg, device=torch.device("cpu"))


def test_window_objective_is_the_sapo_return_and_only_the_actor_is_differentiated():
    cfg, actor, critic, temperature, local, gm, _ = _setup()
    w = _window(cfg, actor, critic, temperature, local, gm)
    d, g, H = w.data, cfg.gamma, cfg.horizon
    assert d["reward"].shape == (H, cfg.num_envs) and len(w.next_obs) == H and not d["ended"].any()
    # reward values are the global ones, plus the entropy bonus alpha * Hn
    bonus = temperature.alpha * d["entropy"] / ACTION_DIM
    torch.testing.assert_close(d["reward"], d["r_global"] + bonus)
    with torch.no_grad():
        expected = sum(g**t * d["reward"][t] for t in range(H)) + g**H * critic.mean(local.feat(w.state))
    torch.testing.assert_close(w.objective.detach(), expected)
    w.objective.sum().backward()
    assert all(p.grad is None for m in (critic, local, temperature) for p in m.parameters())
    assert sum(p.grad.abs().sum() for p in actor.parameters()) > 0


def test_truncated_episode_bootstraps_and_the_window_goes_on_in_a_fresh_one():
    cfg, actor, critic, temperature, local, gm, _ = _setup(max_steps=3)
    w = _window(cfg, actor, critic, temperature, local, gm)
    d, g = w.data, cfg.gamma
    assert d["ended"][2].all() and not d["ended"][[0, 1, 3, 4]].any()
    with torch.no_grad():
        first = d["reward"][0] + g * d["reward"][1] + g**2 * d["reward"][2] + g**3 * critic.mean(d["next_feat"][2])
        second = d["reward"][3] + g * d["reward"][4] + g**2 * critic.mean(local.feat(w.state))
    torch.testing.assert_close(w.objective.detach(), first + second)
    # the next window carries the simulators' episodes on from s_H, its graph cut
    s0 = fog.start_window(local, gm, w.state, np.random.default_rng(0))
    assert torch.equal(s0, w.state.detach()) and not s0.requires_grad


@pytest.mark.parametrize("iteration", [0, 5])
def test_actor_and_temperature_update_respects_the_warmup(iteration):
    cfg, actor, critic, temperature, local, gm, opt = _setup(actor_warmup_iterations=3)
    before = copy.deepcopy(actor.state_dict())
    log_alpha = temperature.log_alpha.item()
    w = _window(cfg, actor, critic, temperature, local, gm)
    m = fog.actor_and_temperature_update(w, actor, temperature, opt, cfg, iteration)
    moved = any(not torch.equal(before[k], v) for k, v in actor.state_dict().items())
    assert moved == (iteration >= 3) and m["actor/warmup"] == float(iteration < 3)
    assert temperature.log_alpha.item() != log_alpha
    assert {"actor/loss", "actor/objective", "actor/grad_norm", "sapo/alpha", "sapo/entropy"} <= set(m)


def test_critic_update_regresses_and_polyak_averages_the_target():
    cfg, actor, critic, temperature, local, gm, opt = _setup()
    target = make_target(critic)
    w = _window(cfg, actor, critic, temperature, local, gm)
    old_target = copy.deepcopy(target.state_dict())
    m = fog.critic_update(w.data, critic, target, opt, cfg)
    assert {"critic/loss", "critic/value", "critic/target"} <= set(m)
    for k, v in target.state_dict().items():
        torch.testing.assert_close(v, (1 - cfg.critic_tau) * old_target[k] + cfg.critic_tau * critic.state_dict()[k])
    assert all(p.grad is None for p in actor.parameters())


def test_refresh_local_model_steps_the_local_loss():
    cfg, actor, critic, temperature, local, gm, opt = _setup()
    gen = torch.Generator().manual_seed(0)
    s, a = torch.randn(64, STATE_DIM, generator=gen), torch.rand(64, ACTION_DIM, generator=gen)
    batch = {"state": s, "action": a, "next_state": s + 0.1 * torch.randn(64, STATE_DIM, generator=gen)}
    batch["reward"] = -batch["next_state"][:, :2].norm(dim=-1)
    fog.requires_grad_only((actor, critic, temperature, local), actor)
    m0 = fog.refresh_local_model(local, opt, lambda: batch, 1)
    m = fog.refresh_local_model(local, opt, lambda: batch, 20)
    assert m["refresh/loss"] < m0["refresh/loss"] and "refresh/local/nll" in m
    assert all(p.grad is None for p in actor.parameters())


def test_requires_grad_only():
    a, b, c = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    fog.requires_grad_only((a, b, c), b)
    assert [m.weight.requires_grad for m in (a, b, c)] == [False, True, False]
