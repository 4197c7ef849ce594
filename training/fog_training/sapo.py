"""SAPO on top of SHAC: the entropy-augmented short-horizon actor objective and the learned temperature.

Over N parallel rollouts and a window of H steps (docs/METHOD.md section 3)::

    L_pi = -1/(N H) sum_n [ sum_k gamma^k (r_k + alpha Hn_k) + gamma^H V(s_H) ]

where the inner sum restarts at episode boundaries: a terminated episode adds nothing after its
end (V = 0), a truncated one bootstraps with V of its final state, and the rollout then goes on
in a fresh episode with the discount reset to 1. ``Hn_k = -log pi(a_k|s_k) / |A|`` is the
normalized entropy estimate of the squashed Gaussian (reparameterized, so it is differentiated).

The temperature alpha = exp(log_alpha) is learned so that the policy entropy tracks
``target_entropy = -0.5 |A|`` (SAC's rule): loss_alpha = log_alpha * (H - target).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Temperature(nn.Module):
    def __init__(self, init_alpha: float, target_entropy: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init_alpha), dtype=torch.float32))
        self.target_entropy = target_entropy

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    def loss(self, entropy: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """``entropy`` [...]: per-sample -log pi; descending this raises alpha while H < target."""
        ent = entropy.detach().mean()
        loss = self.log_alpha * (ent - self.target_entropy)
        return loss, {
            "sapo/alpha": self.alpha.item(),
            "sapo/entropy": ent.item(),
            "sapo/target_entropy": self.target_entropy,
        }


def target_entropy(action_dim: int, scale: float = -0.5) -> float:
    """SAPO's target entropy: -0.5 * |A|."""
    return scale * action_dim


class WindowReturn:
    """Accumulates the differentiable SHAC/SAPO return of one window, step by step.

    Per step call :meth:`add` with the (swapped) reward and the entropy bonus, then :meth:`end`
    where episodes ended (bootstrapping truncated ones), and finally :meth:`finish` with the values
    of the states reached at the end of the window.
    """

    def __init__(self, n: int, gamma: float, device: torch.device | str) -> None:
        self.gamma = gamma
        self.total = torch.zeros(n, device=device)
        self.discount = torch.ones(n, device=device)
        self.alive = torch.ones(n, device=device)

    def add(self, reward: torch.Tensor) -> None:
        self.total = self.total + self.alive * self.discount * reward
        self.discount = self.discount * self.gamma

    def end(self, ended: torch.Tensor, terminated: torch.Tensor, final_value: torch.Tensor, restart: bool) -> None:
        """Close the episodes that ended this step. ``restart``: the env continued them with a fresh
        episode (autoreset); otherwise the rollout is masked out for the rest of the window."""
        ended, terminated = ended.float(), terminated.float()
        self.total = self.total + self.alive * ended * (1 - terminated) * self.discount * final_value
        if restart:
            self.discount = torch.where(ended > 0, torch.ones_like(self.discount), self.discount)
        else:
            self.alive = self.alive * (1 - ended)

    def finish(self, value: torch.Tensor) -> torch.Tensor:
        """Per-rollout objective (to maximize) after bootstrapping with V(s_H) [N]."""
        return self.total + self.alive * self.discount * value
