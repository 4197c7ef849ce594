"""The critic (fog_training.critic): TD(lambda) targets by hand, the ensemble's min and mean."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.critic import CriticEnsemble, td_lambda_targets  # noqa: E402


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


def test_critic_ensemble_min_and_mean():
    c = CriticEnsemble(4, (8,), n=2)
    f = torch.randn(5, 4)
    v = c(f)
    assert v.shape == (2, 5) and torch.allclose(c.min(f), v.min(0).values) and torch.allclose(c.mean(f), v.mean(0))
