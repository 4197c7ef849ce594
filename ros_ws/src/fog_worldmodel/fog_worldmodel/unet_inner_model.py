"""The network inside the EDM denoiser: a diffusers ``UNet2DModel`` conditioned on past frames and actions.

Conditioning (docs/METHOD.md section 4, the recipe that works with diffusers 0.42):
- the L past frames are stacked on channels with the (scaled) noisy target: in_channels 3 * (L + 1);
- c_noise goes through our own Fourier features, the L past actions through an MLP, and both
  through a second MLP into the UNet's class embedding (``class_embed_type="identity"``), which
  the UNet adds to its time embedding and feeds every ResNet block as a scale and shift
  (``resnet_time_scale_shift="scale_shift"``);
- the UNet's own timestep is a constant 0, because ``time_embedding_type="fourier"`` divides the
  output by the timestep, which breaks EDM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class InnerModelConfig:
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    """Channels of the UNet's resolution levels (each level halves the resolution)."""
    layers_per_block: int = 1
    """ResNet blocks per level on the way down (the way up has one more)."""
    attention_levels: tuple[bool, ...] = (False, False, False)
    """Self-attention at each level (costly at 64x64 on CPU; DIAMOND uses none at the top)."""
    mid_attention: bool = False
    """Self-attention in the UNet's middle block."""
    cond_channels: int = 128
    """Width of the conditioning vector (Fourier(c_noise) + action embedding) and of the UNet's time embedding."""
    norm_num_groups: int = 8
    """GroupNorm groups in the UNet (must divide every entry of block_out_channels)."""
    dropout: float = 0.0
    """Dropout in the UNet's ResNet blocks."""


class FourierFeatures(nn.Module):
    """Random Fourier features of a scalar: [cos(2 pi w x), sin(2 pi w x)], w ~ N(0, 1) fixed."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError("Fourier feature width must be even")
        self.register_buffer("weight", torch.randn(1, channels // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = 2 * math.pi * x.float().unsqueeze(1) @ self.weight
        return torch.cat([f.cos(), f.sin()], dim=-1)


class InnerModel(nn.Module):
    """F(x_scaled, c_noise, obs_ctx, act_ctx) -> [B, C, H, W] on a diffusers UNet2DModel."""

    def __init__(
        self, cfg: InnerModelConfig, *, image_size: int, context_length: int, action_dim: int, img_channels: int = 3
    ) -> None:
        super().__init__()
        from diffusers import UNet2DModel  # heavy import, only when a model is built

        n = len(cfg.block_out_channels)
        if len(cfg.attention_levels) != n:
            raise ValueError(f"attention_levels needs {n} entries, got {cfg.attention_levels}")
        if any(c % cfg.norm_num_groups for c in cfg.block_out_channels):
            raise ValueError(
                f"norm_num_groups {cfg.norm_num_groups} must divide every block_out_channels {cfg.block_out_channels}"
            )
        self.cfg = cfg
        self.context_length = context_length
        self.action_dim = action_dim
        c = cfg.cond_channels
        self.noise_emb = FourierFeatures(c)
        self.act_emb = nn.Sequential(nn.Linear(context_length * action_dim, c), nn.SiLU(), nn.Linear(c, c))
        self.cond_proj = nn.Sequential(nn.Linear(2 * c, c), nn.SiLU(), nn.Linear(c, c))
        down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in cfg.attention_levels)
        up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(cfg.attention_levels))
        self.unet = UNet2DModel(
            sample_size=image_size,
            in_channels=img_channels * (context_length + 1),
            out_channels=img_channels,
            block_out_channels=tuple(cfg.block_out_channels),
            layers_per_block=cfg.layers_per_block,
            down_block_types=down,
            up_block_types=up,
            time_embedding_type="positional",
            time_embedding_dim=c,
            class_embed_type="identity",
            resnet_time_scale_shift="scale_shift",
            add_attention=cfg.mid_attention,
            norm_num_groups=cfg.norm_num_groups,
            attention_head_dim=8,
            dropout=cfg.dropout,
        )
        # Start as "predict zero" for F: D starts near c_skip * x, a stable first step.
        nn.init.zeros_(self.unet.conv_out.weight)
        nn.init.zeros_(self.unet.conv_out.bias)

    def forward(
        self, noisy: torch.Tensor, c_noise: torch.Tensor, obs_ctx: torch.Tensor, act_ctx: torch.Tensor
    ) -> torch.Tensor:
        b = noisy.shape[0]
        cond = self.cond_proj(torch.cat([self.noise_emb(c_noise), self.act_emb(act_ctx.reshape(b, -1))], dim=-1))
        x = torch.cat([obs_ctx, noisy], dim=1)
        timestep = torch.zeros(b, dtype=torch.long, device=noisy.device)
        return self.unet(x, timestep, class_labels=cond, return_dict=False)[0]
