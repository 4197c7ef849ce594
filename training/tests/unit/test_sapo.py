"""SAPO pieces: squashed Gaussian actor, temperature, TD(lambda) targets, the window return, GAE."""

import math
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.actor import ActorConfig, SquashedGaussianActor, deterministic_action, squashed_log_prob  # noqa: E402
from fog_training.baselines.ppo_world_model import gae  # noqa: E402
from fog_training.critic import CriticEnsemble, td_lambda_targets  # noqa: E402
from fog_training.sapo import Temperature, WindowReturn, target_entropy  # noqa: E402


def test_squashed_log_prob_matches_torch_distributions():
    from torch.distributions import Normal, TanhTransform, TransformedDistribution

    torch.manual_seed(0)
    mean, log_std = torch.randn(5, 2), torch.randn(5, 2).clamp(-2, 1)
    # |u| <= 3: beyond, the float32 reference (atanh of tanh(u) ~ 1) loses the digits we compare
    u = (mean + log_std.exp() * torch.randn(5, 2)).clamp(-3, 3)
    ref = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()]).log_prob(torch.tanh(u)).sum(-1)
    assert torch.allclose(squashed_log_prob(u, mean, log_std), ref, atol=1e-4)


def test_actor_bounds_and_deterministic_action():
    actor = SquashedGaussianActor(
        ActorConfig(feat_dim=6, action_dim=2, hidden=(8,), action_low=(0.0, -2.0), action_high=(1.0, 2.0))
    )
    f = torch.randn(64, 6) * 10
    mean, log_std = actor.dist_params(f)
    assert log_std.min() >= -5 and log_std.max() <= 2
    a = deterministic_action(actor, f)
    assert torch.allclose(a, actor.scale(torch.tanh(mean)))
    assert (a[:, 0] >= 0).all() and (a[:, 0] <= 1).all() and (a[:, 1].abs() <= 2).all()
    sample, logp, u = actor.sample(f)
    assert torch.allclose(actor.log_prob(f, u), logp) and torch.allclose(
        actor.unscale(sample), torch.tanh(u), atol=1e-6
    )


@pytest.mark.parametrize("start_log_std", [1.5, -4.5])
def test_temperature_moves_entropy_towards_target(start_log_std):
    # Reward -(a - 0.3)^2 wants a deterministic policy; the entropy bonus wants a wide one. The temperature
    # arbitrates: whichever side of the target the entropy starts on, it must end closer to it.
    torch.manual_seed(0)
    A = 2
    actor = SquashedGaussianActor(ActorConfig(feat_dim=3, action_dim=A, hidden=(16,), init_log_std=start_log_std))
    temp = Temperature(init_alpha=1.0, target_entropy=target_entropy(A))
    opt = torch.optim.Adam([{"params": actor.parameters(), "lr": 3e-3}, {"params": temp.parameters(), "lr": 3e-2}])
    feat = torch.randn(256, 3)

    def entropy():
        with torch.no_grad():
            return -actor.sample(feat)[1].mean().item()

    gap0 = abs(entropy() - temp.target_entropy)
    for _ in range(400):
        a, logp, _ = actor.sample(feat)
        ent = -logp
        obj = (-((a - 0.3) ** 2)).sum(-1) + temp.alpha * ent / A
        loss = -obj.mean() + temp.loss(ent)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    gap1 = abs(entropy() - temp.target_entropy)
    assert gap1 < 0.5 * gap0, (gap0, gap1)


def test_td_lambda_hand_computed():
    g, lam = 0.9, 0.5
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[10.0], [20.0], [30.0]])  # V(s'_t)
    none = torch.zeros(3, 1, dtype=torch.bool)
    G2 = 3 + g * 30
    G1 = 2 + g * ((1 - lam) * 20 + lam * G2)
    G0 = 1 + g * ((1 - lam) * 10 + lam * G1)
    assert torch.allclose(td_lambda_targets(r, v, none, none, g, lam)[:, 0], torch.tensor([G0, G1, G2]))
    # Termination at t=1: no bootstrap there, and the lambda-return does not mix across the boundary.
    term = torch.tensor([[False], [True], [False]])
    G1t = 2.0
    G0t = 1 + g * ((1 - lam) * 10 + lam * G1t)
    assert torch.allclose(td_lambda_targets(r, v, term, term, g, lam)[:, 0], torch.tensor([G0t, G1t, G2]))
    # Truncation at t=1 (episode ended, not terminal): bootstrap with V(final) = 20 but do not mix.
    G1u = 2 + g * 20
    G0u = 1 + g * ((1 - lam) * 10 + lam * G1u)
    assert torch.allclose(td_lambda_targets(r, v, none, term, g, lam)[:, 0], torch.tensor([G0u, G1u, G2]))
    # lambda = 1 without boundaries is the discounted return bootstrapped at the end.
    assert td_lambda_targets(r, v, none, none, g, 1.0)[0, 0].item() == pytest.approx(1 + g * 2 + g * g * 3 + g**3 * 30)


def test_window_return_restarts_and_masks():
    g = 0.5
    w = WindowReturn(2, g, "cpu")
    w.add(torch.tensor([1.0, 1.0]))
    w.end(
        torch.tensor([True, False]), torch.tensor([False, False]), torch.tensor([8.0, 99.0]), restart=True
    )  # env 0 truncated
    w.add(torch.tensor([2.0, 2.0]))
    out = w.finish(torch.tensor([4.0, 4.0]))
    # env 0: 1 + g*8 (bootstrap at truncation) + 2 (new episode, discount reset) + g*4; env 1: 1 + g*2 + g^2*4
    assert torch.allclose(out, torch.tensor([1 + g * 8 + 2 + g * 4, 1 + g * 2 + g * g * 4]))
    m = WindowReturn(1, g, "cpu")
    m.add(torch.tensor([1.0]))
    m.end(
        torch.tensor([True]), torch.tensor([True]), torch.tensor([50.0]), restart=False
    )  # terminated: V = 0, then masked
    m.add(torch.tensor([7.0]))
    assert m.finish(torch.tensor([9.0])).item() == pytest.approx(1.0)


def test_critic_ensemble_min_and_mean():
    c = CriticEnsemble(4, (8,), n=2)
    f = torch.randn(5, 4)
    v = c(f)
    assert v.shape == (2, 5) and torch.allclose(c.min(f), v.min(0).values) and torch.allclose(c.mean(f), v.mean(0))


def test_gae_hand_computed():
    g, lam = 0.9, 0.8
    r, v = torch.tensor([[1.0], [0.5]]), torch.tensor([[2.0], [3.0]])
    last = torch.tensor([4.0])
    d1 = 0.5 + g * 4 - 3
    d0 = 1 + g * 3 - 2
    adv, ret = gae(r, v, last, torch.zeros(2, 1, dtype=torch.bool), g, lam)
    assert torch.allclose(adv[:, 0], torch.tensor([d0 + g * lam * d1, d1]))
    assert torch.allclose(ret, adv + v)
    assert math.isfinite(adv.sum().item())
