"""A short deterministic Euler sampler (DIAMOND: 3 steps are enough for next-frame prediction).

Karras et al.'s noise levels for n steps::

    sigma_i = (sigma_max^(1/rho) + i / (n - 1) * (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,  i < n,
    sigma_n = 0

which for n = 3, sigma_min 2e-3, sigma_max 5, rho 7 gives [5.0, 0.283, 0.002, 0]. The loop is
written out (rather than diffusers' ``EDMEulerScheduler``, which keeps a per-call step index) so a
batch of environments steps together with no hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fog_worldmodel.edm_denoiser import Denoiser


@dataclass
class SamplerConfig:
    num_steps: int = 3
    """Euler steps per generated frame."""
    sigma_min: float = 2e-3
    """Smallest nonzero noise level of the schedule."""
    sigma_max: float = 5.0
    """Initial noise level."""
    rho: float = 7.0
    """Karras schedule curvature."""


def karras_sigmas(
    num_steps: int, sigma_min: float, sigma_max: float, rho: float, device: torch.device | str | None = None
) -> torch.Tensor:
    """[num_steps + 1] decreasing noise levels ending in 0 (float64 maths, float32 result)."""
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")
    if num_steps == 1:
        ramp = torch.zeros(1, dtype=torch.float64)
    else:
        ramp = torch.linspace(0, 1, num_steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]).to(device=device, dtype=torch.float32)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Frames in [-1, 1] -> uint8 [0, 255] (clamped, rounded)."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 in [-1, 1]."""
    return x.float().div(127.5).sub(1)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Snap frames in [-1, 1] to the 256 levels a uint8 frame can hold (what a camera would give)."""
    return from_uint8(to_uint8(x))


class DiffusionSampler:
    """Euler sampling of the next frame from a :class:`Denoiser` given the context."""

    def __init__(self, denoiser: Denoiser, cfg: SamplerConfig) -> None:
        self.denoiser = denoiser
        self.cfg = cfg

    def sigmas(self, device: torch.device | str | None = None) -> torch.Tensor:
        c = self.cfg
        return karras_sigmas(c.num_steps, c.sigma_min, c.sigma_max, c.rho, device)

    @torch.no_grad()
    def sample(
        self, obs_ctx: torch.Tensor, act_ctx: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Next frame [B, C, H, W] in [-1, 1], quantized to uint8 levels.

        ``obs_ctx`` [B, L*C, H, W] in [-1, 1], ``act_ctx`` [B, L, A] normalized. The initial noise
        comes from ``generator`` (on the context's device) so a seed fixes the sample; it is centred
        on the last context frame when the denoiser is ``residual``.
        """
        return quantize(self._euler(obs_ctx, act_ctx, generator))

    def sample_differentiable(
        self, obs_ctx: torch.Tensor, act_ctx: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """:meth:`sample` *with* gradients through every Euler step (BPTT through the global model,
        fog_training.baselines.bptt); the quantization is passed straight through. Same noise, same
        frame as :meth:`sample` for the same generator state."""
        x = self._euler(obs_ctx, act_ctx, generator)
        return x + (quantize(x) - x).detach()

    def _euler(self, obs_ctx: torch.Tensor, act_ctx: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        b, _, h, w = obs_ctx.shape
        c = self.denoiser.inner_model.unet.config.out_channels
        sigmas = self.sigmas(obs_ctx.device)
        noise = torch.randn((b, c, h, w), generator=generator, device=obs_ctx.device)
        x = self.denoiser.base(obs_ctx, c) + noise * sigmas[0]
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:], strict=False):
            denoised = self.denoiser(x, sigma.expand(b), obs_ctx, act_ctx)
            x = x + (x - denoised) / sigma * (sigma_next - sigma)
        return x
