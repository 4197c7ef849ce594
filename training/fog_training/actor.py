"""The policy: a squashed Gaussian actor on the local model's feature, and how to load a trained one.

The actor reads a feature vector (the RSSM feature ``(h, z)`` flattened, or the state features of
state-based Push-T) and returns a tanh-squashed Gaussian action in [-1, 1]^A, scaled to the action
bounds of the dataset (``low + (a + 1) / 2 * (high - low)``)::

    u ~ N(mean(f), std(f)),  a = tanh(u),  log pi(a|f) = log N(u) - sum log(1 - tanh(u)^2)

``log_std`` is squashed into [log_std_min, log_std_max] = [-5, 2] (SAPO) with a tanh so that its
gradient never dies at a clamp. :func:`deterministic_action` (tanh(mean), scaled) is what the
deployed policy runs and what the ONNX exporter calls.

A trained run stores its policy in ``RUN/policy/``::

    RUN/policy/actor.json          {"format", "config": ActorConfig, "feature": "rssm" | "pusht_state", ...}
    RUN/policy/actor.safetensors   actor weights (incl. the action-bound buffers)
    RUN/policy/rssm/               the RSSM the actor was trained on (RSSM.save_pretrained), image runs only

Load with :func:`load_policy` (``actor, rssm = load_policy("runs/pusht/fog")``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "fog_training.SquashedGaussianActor/1"


@dataclass
class ActorConfig:
    feat_dim: int = 0
    """Input feature size (set from the local model)."""
    action_dim: int = 2
    """Action dimension."""
    hidden: tuple[int, ...] = (256, 128, 64)
    """MLP widths (LayerNorm + SiLU after each Linear)."""
    log_std_min: float = -5.0
    """Lower bound of the Gaussian's log std."""
    log_std_max: float = 2.0
    """Upper bound of the Gaussian's log std."""
    init_log_std: float = -0.5
    """Log std the untrained actor starts near (bias of the log-std output)."""
    action_low: tuple[float, ...] = field(default_factory=lambda: (-1.0, -1.0))
    """Lower action bounds in dataset units."""
    action_high: tuple[float, ...] = field(default_factory=lambda: (1.0, 1.0))
    """Upper action bounds in dataset units."""


def mlp(inp: int, hidden: tuple[int, ...], out: int) -> nn.Sequential:
    """Linear -> LayerNorm -> SiLU per hidden width, then a Linear head (docs/METHOD.md: [256, 128, 64])."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(inp, h), nn.LayerNorm(h), nn.SiLU()]
        inp = h
    layers.append(nn.Linear(inp, out))
    return nn.Sequential(*layers)


class SquashedGaussianActor(nn.Module):
    def __init__(self, cfg: ActorConfig) -> None:
        super().__init__()
        if cfg.feat_dim <= 0:
            raise ValueError("ActorConfig.feat_dim must be set")
        self.cfg = cfg
        self.net = mlp(cfg.feat_dim, tuple(cfg.hidden), 2 * cfg.action_dim)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        # Start near init_log_std: invert the tanh squash for the log-std bias.
        lo, hi = cfg.log_std_min, cfg.log_std_max
        y = 2 * (cfg.init_log_std - lo) / (hi - lo) - 1
        with torch.no_grad():
            self.net[-1].bias[cfg.action_dim :] = math.atanh(max(min(y, 0.999), -0.999))
        self.register_buffer("action_low", torch.tensor(cfg.action_low, dtype=torch.float32))
        self.register_buffer("action_high", torch.tensor(cfg.action_high, dtype=torch.float32))

    def dist_params(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) of the pre-tanh Gaussian, log_std in [log_std_min, log_std_max]."""
        mean, raw = self.net(feat).chunk(2, -1)
        lo, hi = self.cfg.log_std_min, self.cfg.log_std_max
        return mean, lo + 0.5 * (hi - lo) * (torch.tanh(raw) + 1)

    def scale(self, a: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> dataset units."""
        return self.action_low + (a + 1) * 0.5 * (self.action_high - self.action_low)

    def unscale(self, action: torch.Tensor) -> torch.Tensor:
        """dataset units -> [-1, 1]."""
        return 2 * (action - self.action_low) / (self.action_high - self.action_low) - 1

    def sample(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterized sample -> (action in dataset units, log pi(a|f) [B], pre-tanh u)."""
        mean, log_std = self.dist_params(feat)
        u = mean + log_std.exp() * torch.randn_like(mean)
        return self.scale(torch.tanh(u)), squashed_log_prob(u, mean, log_std), u

    def log_prob(self, feat: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """log pi of a stored pre-tanh sample ``u`` (PPO re-evaluates old actions this way)."""
        mean, log_std = self.dist_params(feat)
        return squashed_log_prob(u, mean, log_std)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return deterministic_action(self, feat)


def squashed_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log density of a = tanh(u), u ~ N(mean, exp(log_std)^2), summed over action dims -> [B].

    The tanh correction uses the stable form log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)).
    (The constant Jacobian of the affine scale to the action bounds is left out: it shifts every
    entropy by the same amount and the target entropy is defined on the [-1, 1] action.)
    """
    gauss = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    correction = 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))
    return (gauss - correction).sum(-1)


def deterministic_action(actor: SquashedGaussianActor, feat: torch.Tensor) -> torch.Tensor:
    """The deployed action: tanh(mean(feat)) scaled to the action bounds (dataset units), [..., A].

    Pure tensor ops (Linear, LayerNorm, SiLU, tanh): exports to ONNX inside the policy graph.
    """
    mean, _ = actor.dist_params(feat)
    return actor.scale(torch.tanh(mean))


# ---------------------------------------------------------------- persistence


def save_actor(
    actor: SquashedGaussianActor, directory: str | Path, feature: str, extra: dict[str, Any] | None = None
) -> None:
    """Write ``actor.json`` + ``actor.safetensors`` into ``directory`` (atomic renames)."""

    from fog_worldmodel.config_io import config_to_dict
    from fog_worldmodel.persistence import save_safetensors_atomic, write_text_atomic

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    save_safetensors_atomic(actor.state_dict(), d / "actor.safetensors", {"format": FORMAT})
    info = {"format": FORMAT, "config": config_to_dict(actor.cfg), "feature": feature, **(extra or {})}
    write_text_atomic(d / "actor.json", json.dumps(info, indent=2))


def load_actor(directory: str | Path, map_location: str = "cpu") -> tuple[SquashedGaussianActor, dict[str, Any]]:
    """(actor in eval mode, the info of actor.json) from a ``policy`` directory."""
    from fog_worldmodel.config_io import config_from_dict
    from safetensors.torch import load_file

    d = Path(directory)
    info = json.loads((d / "actor.json").read_text())
    if info.get("format") != FORMAT:
        raise ValueError(f"{d} holds {info.get('format')!r}, not a {FORMAT} actor")
    actor = SquashedGaussianActor(config_from_dict(ActorConfig, info["config"]))
    actor.load_state_dict(load_file(str(d / "actor.safetensors"), device=map_location))
    return actor.eval(), info


def load_policy(run_dir: str | Path, map_location: str = "cpu"):
    """(actor, rssm or None) of a trained run (``RUN/policy``); rssm is None for state-feature runs.

    Usage on the deploy/export side::

        actor, rssm = load_policy("runs/pusht/fog")
        post, _, _, _ = rssm.obs_step(state, prev_action, rssm.encode(frame), is_first, sample=False)
        action = deterministic_action(actor, rssm.feat(post))
    """

    from fog_worldmodel.rssm import RSSM

    d = Path(run_dir)
    d = d / "policy" if (d / "policy").is_dir() else d
    actor, info = load_actor(d, map_location)
    rssm = RSSM.from_pretrained(d / "rssm", map_location) if info.get("feature") == "rssm" else None
    return actor, rssm
