"""Reward and termination head of the global world model (DIAMOND's "reward/end model").

For each transition (o_t, a_t) -> o_{t+1} a small conv encoder reads the pair of frames stacked on
channels, the embedding and the action feed a GRU cell (the recurrent core: rewards such as Push-T
coverage depend on more than one frame pair), and two MLPs predict the normalized reward r_t and
the logit of "o_{t+1} is terminal". The hidden state is passed in and out explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class RewardTerminationConfig:
    channels: tuple[int, ...] = (16, 32, 64, 64)
    """Conv channels; each conv halves the resolution, extra entries are used until the map is 4x4."""
    embed_dim: int = 256
    """Width of the frame-pair embedding."""
    hidden_dim: int = 256
    """GRU hidden size."""
    termination_weight: float = 1.0
    """Weight of the termination BCE against the reward MSE."""
    termination_pos_weight: float = 10.0
    """BCE weight of terminal examples (they are rare)."""


class RewardTerminationHead(nn.Module):
    """Predicts (normalized reward, termination logit) per transition with a GRU over time."""

    def __init__(
        self, cfg: RewardTerminationConfig, *, image_size: int, action_dim: int, img_channels: int = 3
    ) -> None:
        super().__init__()
        self.cfg = cfg
        n_down = int(round(math.log2(image_size / 4)))
        if 2**n_down * 4 != image_size or n_down < 1:
            raise ValueError(f"image_size must be 4 * 2^k with k >= 1, got {image_size}")
        chans = list(cfg.channels) + [cfg.channels[-1]] * max(0, n_down - len(cfg.channels))
        layers: list[nn.Module] = []
        c_in = 2 * img_channels
        for c in chans[:n_down]:
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.GroupNorm(1, c), nn.SiLU()]
            c_in = c
        self.encoder = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(c_in * 16, cfg.embed_dim), nn.LayerNorm(cfg.embed_dim), nn.SiLU()
        )
        self.act_emb = nn.Sequential(nn.Linear(action_dim, 64), nn.SiLU())
        self.core = nn.GRUCell(cfg.embed_dim + 64, cfg.hidden_dim)
        self.reward_out = nn.Sequential(
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.SiLU(), nn.Linear(cfg.hidden_dim, 1)
        )
        self.done_out = nn.Sequential(
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim), nn.SiLU(), nn.Linear(cfg.hidden_dim, 1)
        )

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> torch.Tensor:
        return torch.zeros(batch, self.cfg.hidden_dim, device=device)

    def step(
        self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One transition: frames [B, C, H, W] in [-1, 1], normalized action [B, A], hidden [B, D].

        Returns (normalized reward [B], termination logit [B], next hidden [B, D]).
        """
        e = self.encoder(torch.cat([obs, next_obs], dim=1))
        hidden = self.core(torch.cat([e, self.act_emb(act)], dim=-1).float(), hidden.float())
        return self.reward_out(hidden).squeeze(-1).float(), self.done_out(hidden).squeeze(-1).float(), hidden

    def forward(
        self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A sequence: obs/next_obs [B, T, C, H, W], act [B, T, A] -> rewards [B, T], logits [B, T], hidden."""
        b, t = obs.shape[:2]
        e = self.encoder(torch.cat([obs, next_obs], dim=2).flatten(0, 1)).view(b, t, -1)
        a = self.act_emb(act)
        h = self.initial_state(b, obs.device) if hidden is None else hidden
        outs = []
        for i in range(t):
            h = self.core(torch.cat([e[:, i], a[:, i]], dim=-1).float(), h.float())
            outs.append(h)
        hs = torch.stack(outs, 1)
        return self.reward_out(hs).squeeze(-1).float(), self.done_out(hs).squeeze(-1).float(), h

    def compute_loss(self, obs, act, next_obs, reward_norm, terminal) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE on normalized rewards + weighted BCE on termination, over all [B, T] transitions."""
        pred_r, logit, _ = self(obs, act, next_obs)
        r_loss = F.mse_loss(pred_r, reward_norm.float())
        pos_w = torch.tensor(self.cfg.termination_pos_weight, device=logit.device)
        d_loss = F.binary_cross_entropy_with_logits(logit, terminal.float(), pos_weight=pos_w)
        loss = r_loss + self.cfg.termination_weight * d_loss
        return loss, {"reward_head/reward_mse": r_loss.item(), "reward_head/termination_bce": d_loss.item()}
