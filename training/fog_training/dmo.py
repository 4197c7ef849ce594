"""The decoupled swap (DMO) and the two local models that supply its gradients.

The swap (METHOD.md sections 1-2): the *value* of the next state comes from the global model (the
diffusion world model, or a true simulator), its *derivative* is the local model's Jacobian,
evaluated along the global trajectory::

    s_{t+1} = f_hat(s_t, a_t) + stopgrad(s^G_{t+1} - f_hat(s_t, a_t))

Two equivalent forms are given: :func:`decoupled` (the stop-gradient expression; its value equals
the global one up to float rounding, local + (global - local)) and :class:`DecoupledSwap` (a custom
autograd function, as in DMO's code: forward returns the global value exactly, backward hands the
incoming gradient to the local prediction unchanged). The local models use :func:`swap` (the
custom function), so one-hot latents stay exactly one-hot.

Local models (one interface, used by :mod:`fog_training.fog_trainer`):

- :class:`RSSMLocalModel`: the RSSM of ``fog train rssm`` on image observations. One FoG step::

      h_{t+1} = GRU(h_t, z_t, a_t)                              (differentiable)
      z_hat   = prior(h_{t+1});   z^G = posterior(h_{t+1}, sg(e(o^G_{t+1})))
      z_{t+1} = z_hat + sg(z^G - z_hat)
      r_t     = r^G_t + r_phi(s_{t+1}) - sg(r_phi(s_{t+1}))

- :class:`MLPLocalModel`: an MLP over state features with a Gaussian delta head (likelihood on
  state deltas) and a reward head, for DMO on state-based Push-T with the true simulator.

The switches METHOD.md asks for live in :class:`SwapConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from fog_training.actor import mlp
from fog_training.train_loop import ensure_fog_worldmodel

ensure_fog_worldmodel()
from fog_worldmodel.rssm import RSSM, RSSMState, prev_actions_from  # noqa: E402


def decoupled(local: torch.Tensor, global_value: torch.Tensor) -> torch.Tensor:
    """Value of ``global_value``, gradient of ``local``: local + sg(global - local)."""
    return local + (global_value.to(local.dtype) - local).detach()


class DecoupledSwap(torch.autograd.Function):
    """``DecoupledSwap.apply(local, global_value)``: the same swap as a custom autograd function."""

    @staticmethod
    def forward(ctx, local: torch.Tensor, global_value: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return global_value.to(local.dtype).clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ARG004
        return grad, None


def swap(local: torch.Tensor, global_value: torch.Tensor) -> torch.Tensor:
    """Exact global value, local gradient (:class:`DecoupledSwap`)."""
    return DecoupledSwap.apply(local, global_value.detach())


@dataclass
class SwapConfig:
    swap_stoch: bool = True
    """Take the latent's value from the global model: RSSM z from the posterior of the global frame
    (state for MLP local models). False: the local model's own prediction (Dreamer-style imagination)."""
    swap_deter: bool = False
    """Also take the RSSM's h from a no-grad posterior filter over the global frames. With swap_stoch
    the GRU already computes exactly that value (kept as an ablation switch); it matters without it."""
    stoch_grad: Literal["mean", "sample"] = "mean"
    """Gradient path of the latent: the prior mean, or a straight-through (RSSM) / reparameterized
    (MLP) sample. For the RSSM's categoricals both have the same gradient (the ST estimator's)."""
    reward_value: Literal["global", "local"] = "global"
    """Value of the reward in the return: the global model's (gradient from the local head), or the
    local head's own (value and gradient local)."""
    posterior_sample: bool = False
    """z^G: a posterior sample (True) or its mode (False)."""


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
        m = state.model
        x = rssm.img_in(torch.cat([m.stoch.flatten(-2), rssm.normalize_actions(action)], -1))
        deter = rssm.gru(x, m.deter)
        with torch.no_grad():
            embed = rssm.encode(next_obs)
        filt = None
        if state.filt is not None:
            with torch.no_grad():
                xf = rssm.img_in(torch.cat([state.filt.stoch.flatten(-2), rssm.normalize_actions(action)], -1))
                deter_f = rssm.gru(xf, state.filt.deter)
                post_f = rssm._logits(rssm.post_net(torch.cat([deter_f, embed], -1)))
                filt = RSSMState(deter_f, rssm._sample(post_f, cfg.posterior_sample).detach())
            deter = swap(deter, deter_f)
        prior_logits = rssm._logits(rssm.prior_net(deter))
        if cfg.swap_stoch:
            z_hat = F.softmax(prior_logits, -1) if cfg.stoch_grad == "mean" else rssm._sample(prior_logits, True)
            with torch.no_grad():
                post_logits = rssm._logits(rssm.post_net(torch.cat([deter, embed], -1)))
                z_global = rssm._sample(post_logits, cfg.posterior_sample)
            stoch = swap(z_hat, z_global)
        else:
            stoch = rssm._sample(prior_logits, True)
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
