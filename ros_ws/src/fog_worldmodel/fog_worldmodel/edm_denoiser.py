"""EDM maths for the global world model (Karras et al. 2022, as used by DIAMOND).

The :class:`Denoiser` wraps a network (the "inner model", :mod:`unet_inner_model`) with EDM
preconditioning::

    D(x; sigma) = c_skip(sigma) * x + c_out(sigma) * F(c_in(sigma) * x, c_noise(sigma), context)

    c_in = 1 / sqrt(sigma^2 + sigma_data^2)        c_skip = sigma_data^2 / (sigma^2 + sigma_data^2)
    c_out = sigma * sigma_data / sqrt(sigma^2 + sigma_data^2)          c_noise = ln(sigma) / 4

Training draws ln(sigma) ~ N(loc, scale^2), clipped to [sigma_min, sigma_max], and regresses F on
the preconditioned target (x0 - c_skip * x) / c_out, which makes every noise level an O(1)
regression problem. Frames are in [-1, 1]; the context (past frames and actions) comes along
unchanged.

With ``residual=True`` the diffusion runs on the change from the last context frame ``b``
(x - b), not on the frame itself: ``D(x) = b + c_skip (x - b) + c_out F(c_in (x - b), ...)``
and sampling starts from ``b + sigma_max * n``. ``sigma_data`` is then the standard deviation of
that change (0.054 on our Push-T frames, against 0.16 for the frames). On egocentric or
top-down frames where a few percent of the pixels move per step, an untrained network (F ~ 0)
already predicts "nothing moves" instead of noise, so the model's whole capacity goes into the
motion. This departs from DIAMOND (which denoises the frame) because a CPU budget of a few
thousand steps never gets a frame-space model past copy-last-frame (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EDMConfig:
    sigma_data: float = 0.5
    """Standard deviation of the data (frames in [-1, 1]) assumed by the preconditioning."""
    loc: float = -0.4
    """Mean of ln(sigma) for training noise levels (log-normal)."""
    scale: float = 1.2
    """Standard deviation of ln(sigma) for training noise levels."""
    sigma_min: float = 2e-3
    """Training noise levels are clipped below at this value."""
    sigma_max: float = 20.0
    """Training noise levels are clipped above at this value."""
    sigma_offset_noise: float = 0.0
    """Std of per-(sample, channel) constant offset noise added in training (DIAMOND: 0.3; 0 = off)."""
    residual: bool = False
    """Diffuse the change from the last context frame instead of the frame (see the module docstring)."""


class Conditioners(NamedTuple):
    c_in: torch.Tensor
    c_out: torch.Tensor
    c_skip: torch.Tensor
    c_noise: torch.Tensor


def edm_preconditioners(sigma: torch.Tensor, sigma_data: float) -> Conditioners:
    """EDM scalings for noise levels ``sigma`` [B]: c_in, c_out, c_skip as [B, 1, 1, 1], c_noise as [B]."""
    sigma = sigma.float()
    s2 = sigma**2 + sigma_data**2
    c_in = s2.rsqrt()
    c_skip = sigma_data**2 / s2
    c_out = sigma * sigma_data * s2.rsqrt()
    c_noise = sigma.log() / 4
    view = (-1, 1, 1, 1)
    return Conditioners(c_in.view(view), c_out.view(view), c_skip.view(view), c_noise)


class Denoiser(nn.Module):
    """EDM denoiser D(x; sigma, context) around ``inner_model(x_scaled, c_noise, obs_ctx, act_ctx)``.

    ``obs_ctx``: [B, L*C, H, W] past frames in [-1, 1] stacked on channels; ``act_ctx``: [B, L, A]
    normalized past actions (the last one is the action taken at the last context frame).
    """

    def __init__(self, inner_model: nn.Module, cfg: EDMConfig) -> None:
        super().__init__()
        self.inner_model = inner_model
        self.cfg = cfg

    def sample_sigma(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training noise levels: log-normal(loc, scale), clipped to [sigma_min, sigma_max]."""
        z = torch.randn(n, device=device, generator=generator)
        return (z * self.cfg.scale + self.cfg.loc).exp().clamp(self.cfg.sigma_min, self.cfg.sigma_max)

    def base(self, obs_ctx: torch.Tensor, channels: int) -> torch.Tensor | float:
        """What the diffusion is centred on: the last context frame (``residual``) or 0."""
        return obs_ctx[:, -channels:].float() if self.cfg.residual else 0.0

    def forward(
        self, noisy: torch.Tensor, sigma: torch.Tensor, obs_ctx: torch.Tensor, act_ctx: torch.Tensor
    ) -> torch.Tensor:
        """The denoised estimate of x0 (float32) from ``noisy`` = x0 + sigma * n."""
        if sigma.ndim == 0:
            sigma = sigma.expand(noisy.shape[0])
        base = self.base(obs_ctx, noisy.shape[1])
        y = noisy.float() - base
        c = edm_preconditioners(sigma, self.cfg.sigma_data)
        out = self.inner_model(c.c_in * y, c.c_noise, obs_ctx, act_ctx).float()
        return base + c.c_skip * y + c.c_out * out

    def compute_loss(
        self, obs_ctx: torch.Tensor, act_ctx: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """MSE of the network output against the preconditioned target; ``target`` is x0 [B, C, H, W]."""
        b, c = target.shape[:2]
        sigma = self.sample_sigma(b, target.device)
        noisy = target + torch.randn_like(target) * sigma.view(-1, 1, 1, 1)
        if self.cfg.sigma_offset_noise > 0:
            noisy = noisy + self.cfg.sigma_offset_noise * torch.randn(b, c, 1, 1, device=target.device)
        base = self.base(obs_ctx, c)
        y, y0 = noisy - base, target - base
        cond = edm_preconditioners(sigma, self.cfg.sigma_data)
        out = self.inner_model(cond.c_in * y, cond.c_noise, obs_ctx, act_ctx).float()
        goal = (y0 - cond.c_skip * y) / cond.c_out
        loss = F.mse_loss(out, goal)
        with torch.no_grad():
            denoised = base + cond.c_skip * y + cond.c_out * out
            x0_mse = F.mse_loss(denoised, target)
        return loss, {"denoiser/loss": loss.item(), "denoiser/x0_mse": x0_mse.item()}
