"""The squashed Gaussian actor (fog_training.actor): its log density, bounds and deterministic action."""

import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.actor import ActorConfig, SquashedGaussianActor, deterministic_action, squashed_log_prob  # noqa: E402


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
