"""The critic: an ensemble of state-value MLPs and TD(lambda) targets (SAPO / SHAC).

Targets use the *minimum* over the ensemble (pessimistic), the actor's bootstrap the *mean*
(docs/METHOD.md section 3). Targets come from a Polyak-averaged copy of the critic, as in SHAC.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from fog_training.actor import mlp


class CriticEnsemble(nn.Module):
    """``n`` value heads V_i(f) over the same feature; ``forward`` -> [n, ...]."""

    def __init__(self, feat_dim: int, hidden: tuple[int, ...] = (256, 128, 64), n: int = 2) -> None:
        super().__init__()
        self.members = nn.ModuleList(mlp(feat_dim, hidden, 1) for _ in range(n))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(feat).squeeze(-1) for m in self.members])

    def mean(self, feat: torch.Tensor) -> torch.Tensor:
        """Bootstrap value for the actor's return."""
        return self(feat).mean(0)

    def min(self, feat: torch.Tensor) -> torch.Tensor:
        """Pessimistic value for critic targets."""
        return self(feat).min(0).values


def make_target(critic: CriticEnsemble) -> CriticEnsemble:
    target = copy.deepcopy(critic)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- (1 - tau) * target + tau * source."""
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, tau)


@torch.no_grad()
def td_lambda_targets(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    ended: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """TD(lambda) returns over a window of H transitions of N rollouts, all tensors [H, N].

    ``rewards[t]`` is r_t (entropy bonus included), ``next_values[t]`` = V(s'_t) of the state the
    transition led to (the final state when the episode ended there), ``terminated[t]``: s'_t is
    terminal (no bootstrap), ``ended[t]``: the episode ended at t (terminated or truncated; the
    rollout then continued in a fresh episode, so the lambda-return does not mix across it)::

        G_{H-1} = r_{H-1} + gamma (1 - term_{H-1}) V(s'_{H-1})
        G_t     = r_t + gamma (1 - term_t) [ (1 - lam c_t) V(s'_t) + lam c_t G_{t+1} ],   c_t = 1 - ended_t
    """
    H = rewards.shape[0]
    out = torch.empty_like(rewards)
    nxt = next_values[-1]
    for t in reversed(range(H)):
        v = next_values[t]
        c = 1.0 - ended[t].float()
        mix = v if t == H - 1 else (1 - lam * c) * v + lam * c * nxt
        out[t] = rewards[t] + gamma * (1.0 - terminated[t].float()) * mix
        nxt = out[t]
    return out


def critic_loss(
    critic: CriticEnsemble, feat: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean squared error of every member against the targets -> (loss, metrics)."""
    v = critic(feat)
    err = (v - targets.unsqueeze(0)) ** 2
    if weight is not None:
        loss = (err * weight).sum() / (weight.sum() * v.shape[0]).clamp_min(1)
    else:
        loss = err.mean()
    return loss, {"critic/loss": loss.item(), "critic/value": v.mean().item()}
