"""FoG's local models: the differentiable models whose Jacobians the swap puts under the global values.

Both implement the local-model interface of :class:`fog_training.fog.LocalModel` (``start``,
``feat``, ``detach``, ``step``, ``restart``, ``compute_loss``); the algorithm that drives them, and
the swap itself, are in :mod:`fog_training.fog`.

- :class:`RSSMLocalModel`: the RSSM of ``fog train rssm`` on image observations. One FoG step,
  written with the RSSM's public step pieces::

      h_{t+1} = GRU(h_t, z_t, a_t)                              recurrent_step (differentiable)
      z_hat   = prior(h_{t+1});   z^G = posterior(h_{t+1}, sg(e(o^G_{t+1})))
      z_{t+1} = swap(z_hat, z^G)                                value z^G, gradient of z_hat
      r_t     = swap(r_phi(s_{t+1}), r^G_t)                     value r^G, gradient of the reward head

- :class:`MLPLocalModel`: an MLP over state features with a Gaussian delta head (likelihood on
  state deltas) and a reward head, for DMO with a true simulator (state-based Push-T, the point
  mass)::

      s_{t+1} = swap(s_t + delta(s_t, a_t), s^G_{t+1});   r_t = swap(r_phi(s_{t+1}), r^G_t)

The switches (:class:`fog_training.fog.SwapConfig`) choose what is swapped. ``swap`` is looked up
in this module at call time, so a test can replace ``local_models.swap`` (e.g. to cut the local
gradient) and both models follow.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from fog_worldmodel.rssm import RSSM, RSSMState, prev_actions_from
from torch import nn

from fog_training.actor import mlp
from fog_training.fog import SwapConfig, swap

__all__ = ["MLPLocalModel", "RSSMLocalModel", "SwapConfig", "SwapState", "swap"]


class SwapState(NamedTuple):
    model: RSSMState
    """The differentiable state s_t = (h_t, z_t)."""
    filt: RSSMState | None
    """No-grad posterior filter over the global frames (only with swap_deter and not swap_stoch)."""


def _where_state(mask: torch.Tensor, new: RSSMState, old: RSSMState) -> RSSMState:
    return RSSMState(
        torch.where(mask[:, None], new.deter, old.deter), torch.where(mask[:, None, None], new.stoch, old.stoch)
    )


class RSSMLocalModel(nn.Module):
    """The RSSM as FoG's local model (image observations)."""

    feature = "rssm"

    def __init__(self, rssm: RSSM, swap: SwapConfig) -> None:
        super().__init__()
        self.rssm = rssm
        self.swap = swap
        self.feat_dim = rssm.feat_dim

    # ---- filtering on real or global frames (no gradient) ----
    @torch.no_grad()
    def start(self, context: dict[str, torch.Tensor]) -> SwapState:
        """Filter the context window: ``frames`` uint8 [N, L, H, W, 3], ``actions`` [N, L, A], ``is_first``."""
        is_first = context["is_first"].bool().clone()
        is_first[:, 0] = True
        prev = prev_actions_from(context["actions"].float(), is_first)
        posts, _, _, _ = self.rssm.observe(context["frames"], prev, is_first, sample=self.swap.posterior_sample)
        state = RSSMState(posts.deter[:, -1], posts.stoch[:, -1])
        return SwapState(state, state if (self.swap.swap_deter and not self.swap.swap_stoch) else None)

    def feat(self, state: SwapState) -> torch.Tensor:
        return self.rssm.feat(state.model)

    def detach(self, state: SwapState) -> SwapState:
        m = RSSMState(state.model.deter.detach(), state.model.stoch.detach())
        return SwapState(m, state.filt)

    # ---- the FoG step ----
    def step(
        self, state: SwapState, action: torch.Tensor, next_obs: torch.Tensor, reward_global: torch.Tensor
    ) -> tuple[SwapState, torch.Tensor]:
        """(s_t, a_t, o^G_{t+1}, r^G_t) -> (s_{t+1}, r_t): values global, gradients local."""
        rssm, cfg = self.rssm, self.swap
        deter = rssm.recurrent_step(state.model, action)
        with torch.no_grad():
            embed = rssm.encode(next_obs)
        filt = None
        if state.filt is not None:  # swap_deter without swap_stoch: h's value from a filter over global frames
            with torch.no_grad():
                deter_f = rssm.recurrent_step(state.filt, action)
                z_f = rssm.sample_latent(rssm.posterior_logits(deter_f, embed), cfg.posterior_sample)
                filt = RSSMState(deter_f, z_f.detach())
            deter = swap(deter, deter_f)
        prior_logits = rssm.prior_logits(deter)
        if cfg.swap_stoch:
            z_hat = F.softmax(prior_logits, -1) if cfg.stoch_grad == "mean" else rssm.sample_latent(prior_logits, True)
            with torch.no_grad():
                z_global = rssm.sample_latent(rssm.posterior_logits(deter, embed), cfg.posterior_sample)
            stoch = swap(z_hat, z_global)
        else:
            stoch = rssm.sample_latent(prior_logits, True)
        nxt = RSSMState(deter, stoch)
        r_local = rssm.reward(rssm.feat(nxt))
        reward = swap(r_local, reward_global) if cfg.reward_value == "global" else r_local
        return SwapState(nxt, filt), reward

    def restart(self, state: SwapState, ended: torch.Tensor, new_start: Any) -> SwapState:  # noqa: ARG002
        raise NotImplementedError("the world-model env restarts from fresh contexts each window; no autoreset")

    # ---- deployment-style filtering step (evaluation, PPO) ----
    @torch.no_grad()
    def observe_step(
        self, state: RSSMState, prev_action: torch.Tensor, frame: torch.Tensor, is_first: torch.Tensor
    ) -> RSSMState:
        post, _, _, _ = self.rssm.obs_step(state, prev_action, self.rssm.encode(frame), is_first, sample=False)
        return post

    # ---- refresh on rollouts ----
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return self.rssm.compute_loss(batch)


class MLPLocalModel(nn.Module):
    """A learned local model on state features: s' = s + delta(s, a), Gaussian delta, reward head r(s').

    Trained by likelihood on state deltas (normalized by their running scale) and MSE on the reward.
    """

    feature = "state"

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden: tuple[int, ...] = (256, 256),
        swap: SwapConfig | None = None,
        min_log_std: float = -6.0,
    ) -> None:
        super().__init__()
        self.swap = swap or SwapConfig()
        self.feat_dim = state_dim
        self.dynamics = mlp(state_dim + action_dim, hidden, 2 * state_dim)
        self.reward_head = mlp(state_dim, hidden, 1)
        self.min_log_std = min_log_std
        self.register_buffer("delta_scale", torch.ones(state_dim))
        self.register_buffer("reward_scale", torch.ones(()))

    def start(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()

    def feat(self, state: torch.Tensor) -> torch.Tensor:
        return state

    def detach(self, state: torch.Tensor) -> torch.Tensor:
        return state.detach()

    def predict(self, state: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean of s', log std of the delta in normalized units)."""
        out = self.dynamics(torch.cat([state, action], -1))
        mean, log_std = out.chunk(2, -1)
        return state + mean * self.delta_scale, log_std.clamp(self.min_log_std, 2.0)

    def reward(self, state: torch.Tensor) -> torch.Tensor:
        return self.reward_head(state).squeeze(-1) * self.reward_scale

    def step(
        self, state: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor, reward_global: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.swap
        mean, log_std = self.predict(state, action)
        s_hat = mean if cfg.stoch_grad == "mean" else mean + log_std.exp() * self.delta_scale * torch.randn_like(mean)
        nxt = swap(s_hat, next_obs) if cfg.swap_stoch else s_hat
        r_local = self.reward(nxt)
        reward = swap(r_local, reward_global) if cfg.reward_value == "global" else r_local
        return nxt, reward

    def restart(self, state: torch.Tensor, ended: torch.Tensor, new_start: torch.Tensor) -> torch.Tensor:
        """Envs that ended continue from their new episode's first state (no gradient across)."""
        return torch.where(ended[:, None], new_start.float(), state)

    @torch.no_grad()
    def fit_scales(self, state: torch.Tensor, next_state: torch.Tensor, reward: torch.Tensor) -> None:
        self.delta_scale.copy_((next_state - state).std(0).clamp_min(1e-3))
        self.reward_scale.fill_(float(reward.std().clamp_min(1e-3)))

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """``state``, ``action``, ``next_state`` [B, F/A], ``reward`` [B] (real transitions)."""
        s, a, s2, r = batch["state"], batch["action"], batch["next_state"], batch["reward"]
        out = self.dynamics(torch.cat([s, a], -1))
        mean, log_std = out.chunk(2, -1)
        log_std = log_std.clamp(self.min_log_std, 2.0)
        target = (s2 - s) / self.delta_scale
        nll = (0.5 * ((target - mean) / log_std.exp()) ** 2 + log_std).sum(-1).mean()
        r_loss = F.mse_loss(self.reward_head(s2).squeeze(-1), r / self.reward_scale)
        loss = nll + r_loss
        with torch.no_grad():
            mse = ((target - mean) ** 2).mean()
        return loss, {
            "local/nll": nll.item(),
            "local/delta_mse": mse.item(),
            "local/reward_mse": r_loss.item(),
            "loss": loss.item(),
        }
