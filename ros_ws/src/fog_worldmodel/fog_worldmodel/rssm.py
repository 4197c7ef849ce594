"""The local world model: a DreamerV3-style RSSM with the recurrent state passed explicitly.

State s_t = (h_t, z_t): ``deter`` h_t [B, D] (GRU) and ``stoch`` z_t [B, S, C] (S one-hot
categoricals of C classes, sampled straight-through from a 1%-uniform mix)::

    h_t   = GRU(h_{t-1}, z_{t-1}, a_{t-1})                    img_step: prior p(z_t | h_t)
    z_t   ~ q(z_t | h_t, e(o_t))                               obs_step: posterior
    r_{t-1} ~ reward(h_t, z_t)   (symlog two-hot)              c_t = continue(h_t, z_t)

The pieces of a step are public, for code that composes its own (FoG's local step,
``fog_training.local_models``): :meth:`RSSM.recurrent_step` (h_t), :meth:`RSSM.prior_logits`,
:meth:`RSSM.posterior_logits` and :meth:`RSSM.sample_latent` (one-hot, straight-through).

Action convention: the dataset's ``action[t]`` is taken at o_t; the RSSM step that reads o_t gets
the *previous* action a_{t-1} (``prev_actions``; zero at the first step of an episode, where the
state is reset to ``initial_state``). :func:`prev_actions_from` shifts a dataset window. The
reward head on s_t predicts ``reward[t-1]``, the continue head 1 - ``is_terminal[t]``.

The step functions use only Linear/LayerNorm/conv/elementwise ops (the GRU is written out) so the
policy step (encoder + obs_step) exports to ONNX. Frames enter as uint8 [..., H, W, 3]; actions in
dataset units (normalized with buffers the model carries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from fog_worldmodel.image_ops import frames_to_float

FORMAT = "fog_worldmodel.RSSM/1"


@dataclass
class RSSMConfig:
    image_size: int = 64
    """Side of the square frames (4 * 2^k); datasets are resized to it."""
    action_dim: int = 2
    """Dimension of the continuous action."""
    deter: int = 256
    """GRU (deterministic state) size."""
    stoch: int = 32
    """Number of categorical latents."""
    classes: int = 16
    """Classes per categorical latent."""
    hidden: int = 256
    """Width of the MLPs (GRU input, prior, posterior, heads)."""
    unimix: float = 0.01
    """Mix of the uniform distribution into every categorical (keeps KL finite, gradients alive)."""
    cnn_depth: int = 16
    """Encoder channels at the first level; doubles each level down to 4x4."""
    decoder: bool = True
    """Reconstruct frames from the state (keeps task state in the latent)."""
    decoder_depth: int = 16
    """Decoder channels at the last level."""
    reward_bins: int = 255
    """Two-hot bins of the reward head, uniform in symlog space over [-20, 20]."""
    free_nats: float = 1.0
    """Free bits: KL terms below this many nats (summed over latents) are not penalized."""
    dyn_scale: float = 1.0
    """Weight of KL[sg(q) || p] (trains the prior)."""
    rep_scale: float = 0.1
    """Weight of KL[q || sg(p)] (regularizes the posterior)."""
    reward_scale: float = 1.0
    """Weight of the reward head's cross-entropy."""
    cont_scale: float = 1.0
    """Weight of the continue head's BCE."""
    decoder_scale: float = 1.0
    """Weight of the decoder's squared error (summed over pixels, as in Dreamer)."""


class RSSMState(NamedTuple):
    deter: torch.Tensor
    """h: [B, D] (or [B, T, D] when stacked over time)."""
    stoch: torch.Tensor
    """z: [B, S, C] one-hot samples (or [B, T, S, C])."""


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


def twohot(x: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Two-hot encoding of scalars ``x`` [...] on sorted ``bins`` [K] -> [..., K]."""
    x = x.clamp(bins[0], bins[-1])
    idx = torch.searchsorted(bins, x.contiguous(), right=True).clamp(1, len(bins) - 1)
    lo, hi = bins[idx - 1], bins[idx]
    w_hi = ((x - lo) / (hi - lo)).clamp(0, 1)
    out = torch.zeros(*x.shape, len(bins), device=x.device, dtype=torch.float32)
    out.scatter_(-1, (idx - 1).unsqueeze(-1), (1 - w_hi).unsqueeze(-1))
    out.scatter_add_(-1, idx.unsqueeze(-1), w_hi.unsqueeze(-1))
    return out


def prev_actions_from(actions: torch.Tensor, is_first: torch.Tensor) -> torch.Tensor:
    """Dataset actions [B, T, A] (a_t taken at o_t) -> previous actions (a_{t-1}; 0 at episode starts and t = 0)."""
    prev = torch.cat([torch.zeros_like(actions[:, :1]), actions[:, :-1]], dim=1)
    return prev * (~is_first.bool()).unsqueeze(-1).to(prev.dtype)


def kl_categorical(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL[p || q] of categoricals [..., S, C], summed over the S latents -> [...]."""
    logp, logq = F.log_softmax(logits_p.float(), -1), F.log_softmax(logits_q.float(), -1)
    return (logp.exp() * (logp - logq)).sum((-2, -1))


def kl_balanced_loss(
    post_logits: torch.Tensor, prior_logits: torch.Tensor, free_nats: float, dyn_scale: float, rep_scale: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """DreamerV3's KL balancing with free bits (mean over batch/time of the clipped terms)."""
    dyn = kl_categorical(post_logits.detach(), prior_logits)
    rep = kl_categorical(post_logits, prior_logits.detach())
    loss = dyn_scale * dyn.clamp_min(free_nats).mean() + rep_scale * rep.clamp_min(free_nats).mean()
    return loss, {"kl": dyn.detach().mean(), "dyn_loss": dyn.clamp_min(free_nats).detach().mean()}


class _MLP(nn.Sequential):
    def __init__(self, i: int, h: int, o: int) -> None:
        super().__init__(nn.Linear(i, h), nn.LayerNorm(h), nn.SiLU(), nn.Linear(h, o))


class GRUCellLN(nn.Module):
    """Dreamer's GRU: one Linear over [x, h], LayerNorm, update gate biased towards keeping h."""

    def __init__(self, inp: int, size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(inp + size, 3 * size, bias=False)
        self.norm = nn.LayerNorm(3 * size)
        self.size = size

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        parts = self.norm(self.linear(torch.cat([x, h], -1)))
        reset, cand, update = (
            parts[..., : self.size],
            parts[..., self.size : 2 * self.size],
            parts[..., 2 * self.size :],
        )
        reset = torch.sigmoid(reset)
        cand = torch.tanh(reset * cand)
        update = torch.sigmoid(update - 1)
        return update * cand + (1 - update) * h


class ConvEncoder(nn.Module):
    def __init__(self, image_size: int, depth: int) -> None:
        super().__init__()
        n = int(round(math.log2(image_size / 4)))
        if 4 * 2**n != image_size or n < 1:
            raise ValueError(f"image_size must be 4 * 2^k, got {image_size}")
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(n):
            c = depth * 2**i
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.GroupNorm(1, c), nn.SiLU()]
            c_in = c
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_dim = c_in * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    def __init__(self, feat: int, image_size: int, depth: int) -> None:
        super().__init__()
        n = int(round(math.log2(image_size / 4)))
        self.c0 = depth * 2 ** (n - 1)
        self.fc = nn.Linear(feat, self.c0 * 16)
        layers: list[nn.Module] = []
        c_in = self.c0
        for i in range(n - 1, 0, -1):
            c = depth * 2 ** (i - 1)
            layers += [nn.ConvTranspose2d(c_in, c, 4, 2, 1), nn.GroupNorm(1, c), nn.SiLU()]
            c_in = c
        layers += [nn.ConvTranspose2d(c_in, 3, 4, 2, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        lead = feat.shape[:-1]
        x = self.fc(feat.reshape(-1, feat.shape[-1])).view(-1, self.c0, 4, 4)
        x = self.net(x)
        return x.view(*lead, *x.shape[1:])


class RSSM(nn.Module):
    def __init__(self, cfg: RSSMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        S, C, D, H = cfg.stoch, cfg.classes, cfg.deter, cfg.hidden
        self.encoder = ConvEncoder(cfg.image_size, cfg.cnn_depth)
        self.embed_dim = self.encoder.out_dim
        self.img_in = nn.Sequential(nn.Linear(S * C + cfg.action_dim, H), nn.LayerNorm(H), nn.SiLU())
        self.gru = GRUCellLN(H, D)
        self.prior_net = _MLP(D, H, S * C)
        self.post_net = _MLP(D + self.embed_dim, H, S * C)
        self.feat_dim = D + S * C
        self.reward_head = _MLP(self.feat_dim, H, cfg.reward_bins)
        self.cont_head = _MLP(self.feat_dim, H, 1)
        self.decoder = ConvDecoder(self.feat_dim, cfg.image_size, cfg.decoder_depth) if cfg.decoder else None
        nn.init.zeros_(self.reward_head[-1].weight)
        nn.init.zeros_(self.reward_head[-1].bias)
        self.register_buffer("bins", torch.linspace(-20.0, 20.0, cfg.reward_bins))
        self.register_buffer("action_mean", torch.zeros(cfg.action_dim))
        self.register_buffer("action_std", torch.ones(cfg.action_dim))

    # ---- normalization / inputs ----
    def set_normalization(self, normalization: dict[str, Any]) -> None:
        a = normalization["action"]
        self.action_mean.copy_(torch.as_tensor(a["mean"], dtype=torch.float32))
        self.action_std.copy_(torch.as_tensor(a["std"], dtype=torch.float32).clamp_min(1e-6))

    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions.float() - self.action_mean) / self.action_std

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames [..., H, W, 3] -> embeddings [..., E]."""
        x = frames_to_float(frames, self.cfg.image_size) * 0.5  # [-0.5, 0.5] as in Dreamer
        lead = x.shape[:-3]
        return self.encoder(x.reshape(-1, *x.shape[-3:])).view(*lead, self.embed_dim)

    # ---- state ----
    def initial_state(self, batch: int, device: torch.device | str | None = None) -> RSSMState:
        device = device if device is not None else self.bins.device
        return RSSMState(
            torch.zeros(batch, self.cfg.deter, device=device),
            torch.zeros(batch, self.cfg.stoch, self.cfg.classes, device=device),
        )

    def feat(self, state: RSSMState) -> torch.Tensor:
        """[..., D + S*C] features of a state (what heads and the policy read)."""
        return torch.cat([state.deter, state.stoch.flatten(-2)], -1)

    # ---- the transition's pieces (public: FoG's local step composes them with its swap) ----
    def recurrent_step(self, state: RSSMState, prev_action: torch.Tensor) -> torch.Tensor:
        """h_t = GRU(h_{t-1}, z_{t-1}, a_{t-1}) -> ``deter`` [B, D] (``prev_action`` in dataset units)."""
        x = self.img_in(torch.cat([state.stoch.flatten(-2), self.normalize_actions(prev_action)], -1))
        return self.gru(x, state.deter)

    def prior_logits(self, deter: torch.Tensor) -> torch.Tensor:
        """Logits [B, S, C] of the prior p(z_t | h_t), uniform mix included."""
        return self._mixed_logits(self.prior_net(deter))

    def posterior_logits(self, deter: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        """Logits [B, S, C] of the posterior q(z_t | h_t, e(o_t)), uniform mix included."""
        return self._mixed_logits(self.post_net(torch.cat([deter, embed], -1)))

    def sample_latent(self, logits: torch.Tensor, sample: bool) -> torch.Tensor:
        """One-hot z [B, S, C] from logits: a sample (Gumbel-max, ``sample``) or the mode, with
        straight-through gradients to the probabilities (value one-hot, gradient that of softmax)."""
        probs = F.softmax(logits, -1)
        score = logits
        if sample:
            u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
            score = logits - torch.log(-torch.log(u))
        onehot = (score == score.max(-1, keepdim=True).values).to(probs.dtype)
        return onehot + probs - probs.detach()

    def _mixed_logits(self, raw: torch.Tensor) -> torch.Tensor:
        logits = raw.float().view(*raw.shape[:-1], self.cfg.stoch, self.cfg.classes)
        if self.cfg.unimix > 0:
            probs = F.softmax(logits, -1)
            probs = (1 - self.cfg.unimix) * probs + self.cfg.unimix / self.cfg.classes
            logits = torch.log(probs)
        return logits

    # ---- steps ----
    def img_step(
        self, state: RSSMState, prev_action: torch.Tensor, sample: bool = True
    ) -> tuple[RSSMState, torch.Tensor]:
        """Prior step: (s_{t-1}, a_{t-1}) -> (s_t with z_t ~ p(z|h_t), prior logits [B, S, C])."""
        deter = self.recurrent_step(state, prev_action)
        logits = self.prior_logits(deter)
        return RSSMState(deter, self.sample_latent(logits, sample)), logits

    def obs_step(
        self,
        state: RSSMState,
        prev_action: torch.Tensor,
        embed: torch.Tensor,
        is_first: torch.Tensor,
        sample: bool = True,
    ) -> tuple[RSSMState, RSSMState, torch.Tensor, torch.Tensor]:
        """Posterior step -> (posterior state, prior state, posterior logits, prior logits).

        Where ``is_first`` [B] is true the state and the previous action are reset to zero first.
        """
        keep = (~is_first.bool()).to(state.deter.dtype)
        state = RSSMState(state.deter * keep[:, None], state.stoch * keep[:, None, None])
        prev_action = prev_action * keep[:, None] + self.action_mean * (1 - keep[:, None])  # normalizes to 0
        prior, prior_logits = self.img_step(state, prev_action, sample)
        post_logits = self.posterior_logits(prior.deter, embed)
        post = RSSMState(prior.deter, self.sample_latent(post_logits, sample))
        return post, prior, post_logits, prior_logits

    def observe(
        self,
        obs: torch.Tensor,
        prev_actions: torch.Tensor,
        is_first: torch.Tensor,
        state: RSSMState | None = None,
        sample: bool = True,
    ) -> tuple[RSSMState, RSSMState, torch.Tensor, torch.Tensor]:
        """Filter a sequence: ``obs`` uint8 frames [B, T, H, W, 3] or embeddings [B, T, E];
        ``prev_actions`` [B, T, A]; ``is_first`` [B, T]. Returns time-stacked (posteriors, priors,
        posterior logits [B, T, S, C], prior logits). The last posterior (``posts[:, -1]``) is the
        state to carry on with.
        """
        embeds = self.encode(obs) if obs.dtype == torch.uint8 else obs
        b, t = embeds.shape[:2]
        state = self.initial_state(b, embeds.device) if state is None else state
        posts, priors, pl, ql = [], [], [], []
        for i in range(t):
            post, prior, post_logits, prior_logits = self.obs_step(
                state, prev_actions[:, i], embeds[:, i], is_first[:, i], sample
            )
            posts.append(post)
            priors.append(prior)
            pl.append(post_logits)
            ql.append(prior_logits)
            state = post
        stack = lambda xs: RSSMState(torch.stack([x.deter for x in xs], 1), torch.stack([x.stoch for x in xs], 1))  # noqa: E731
        return stack(posts), stack(priors), torch.stack(pl, 1), torch.stack(ql, 1)

    def imagine(self, state: RSSMState, actions: torch.Tensor, sample: bool = True) -> tuple[RSSMState, torch.Tensor]:
        """Open-loop rollout: ``actions`` [B, H, A] taken from ``state`` -> states [B, H, ...] and prior logits."""
        states, logits = [], []
        for i in range(actions.shape[1]):
            state, lg = self.img_step(state, actions[:, i], sample)
            states.append(state)
            logits.append(lg)
        return RSSMState(
            torch.stack([s.deter for s in states], 1), torch.stack([s.stoch for s in states], 1)
        ), torch.stack(logits, 1)

    # ---- heads ----
    def reward(self, feat: torch.Tensor) -> torch.Tensor:
        """Predicted reward (dataset units) from features [..., F] -> [...]."""
        probs = F.softmax(self.reward_head(feat).float(), -1)
        return symexp((probs * self.bins).sum(-1))

    def cont(self, feat: torch.Tensor) -> torch.Tensor:
        """Probability that the episode continues from this state."""
        return torch.sigmoid(self.cont_head(feat).float().squeeze(-1))

    # ---- training ----
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """World-model loss on real windows: ``image`` uint8 [B, T, H, W, 3], ``action`` [B, T, A],
        ``reward`` [B, T], ``is_first`` [B, T], ``is_terminal`` [B, T] (dataset conventions)."""
        cfg = self.cfg
        is_first = batch["is_first"].bool().clone()
        is_first[:, 0] = True  # every window starts from the initial state
        prev = prev_actions_from(batch["action"].float(), is_first)
        posts, _, post_logits, prior_logits = self.observe(batch["image"], prev, is_first)
        kl_loss, kl_m = kl_balanced_loss(post_logits, prior_logits, cfg.free_nats, cfg.dyn_scale, cfg.rep_scale)
        feat = self.feat(posts)
        # reward[t-1] is predicted from s_t, where s_t and s_{t-1} are in the same episode
        r_logits = self.reward_head(feat[:, 1:]).float()
        r_target = twohot(symlog(batch["reward"][:, :-1].float()), self.bins)
        r_mask = (~is_first[:, 1:]).float()
        r_nll = -(r_target * F.log_softmax(r_logits, -1)).sum(-1)
        r_loss = (r_nll * r_mask).sum() / r_mask.sum().clamp_min(1)
        c_logit = self.cont_head(feat).float().squeeze(-1)
        c_loss = F.binary_cross_entropy_with_logits(c_logit, 1 - batch["is_terminal"].float())
        loss = kl_loss + cfg.reward_scale * r_loss + cfg.cont_scale * c_loss
        metrics = {"rssm/kl": kl_m["kl"].item(), "rssm/reward_nll": r_loss.item(), "rssm/cont_bce": c_loss.item()}
        if self.decoder is not None:
            target = frames_to_float(batch["image"], cfg.image_size) * 0.5
            recon = self.decoder(feat).float()
            d_loss = (recon - target).square().sum((-3, -2, -1)).mean()
            loss = loss + cfg.decoder_scale * d_loss
            metrics["rssm/recon_sse"] = d_loss.item()
        with torch.no_grad():
            r_pred = symexp((F.softmax(r_logits, -1) * self.bins).sum(-1))
            metrics["rssm/reward_mse"] = (
                ((r_pred - batch["reward"][:, :-1].float()) ** 2 * r_mask).sum() / r_mask.sum().clamp_min(1)
            ).item()
        metrics["loss"] = loss.item()
        return loss, metrics

    # ---- persistence ----
    def save_pretrained(self, directory: str | Path) -> None:
        from fog_worldmodel.persistence import save_model_folder

        save_model_folder(self, self.cfg, directory, FORMAT)

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> RSSM:
        from fog_worldmodel.persistence import load_model_folder

        return load_model_folder(cls, RSSMConfig, directory, FORMAT, map_location)
