"""The global world model G: EDM diffusion next-frame model + reward/termination head.

G(o_{t-L+1..t}, a_{t-L+1..t}) -> o_{t+1}, r_t, d_{t+1}. Frames enter as uint8 [..., H, W, 3];
actions and rewards in dataset units (the model normalizes them with the statistics it carries
as buffers, so a saved model is self-contained). ``compute_loss(batch) -> (loss, metrics)`` trains
both parts; :class:`fog_worldmodel.world_model_env.WorldModelEnv` steps it like a vector env.

Saved layout (``save_pretrained(dir)``): ``dir/config.json`` (this config, plus a format tag)
and ``dir/model.safetensors`` (weights and normalization buffers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fog_worldmodel.diffusion_sampler import DiffusionSampler, SamplerConfig
from fog_worldmodel.edm_denoiser import Denoiser, EDMConfig
from fog_worldmodel.image_ops import frames_to_float
from fog_worldmodel.persistence import load_model_folder, save_model_folder
from fog_worldmodel.reward_termination_head import RewardTerminationConfig, RewardTerminationHead
from fog_worldmodel.unet_inner_model import InnerModel, InnerModelConfig

FORMAT = "fog_worldmodel.GlobalWorldModel/1"


@dataclass
class GlobalWorldModelConfig:
    image_size: int = 64
    """Side of the square frames the model works at (datasets are resized to it)."""
    context_length: int = 4
    """L: past frames and actions the next frame is conditioned on."""
    action_dim: int = 2
    """Dimension of the continuous action."""
    img_channels: int = 3
    """Channels of a frame (RGB)."""
    inner: InnerModelConfig = field(default_factory=InnerModelConfig)
    """The UNet inside the denoiser."""
    edm: EDMConfig = field(default_factory=EDMConfig)
    """EDM preconditioning and training noise."""
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    """Sampling schedule used by predict_next and the env."""
    head: RewardTerminationConfig = field(default_factory=RewardTerminationConfig)
    """Reward/termination head."""
    head_weight: float = 1.0
    """Weight of the head's loss in the joint loss."""


class GlobalWorldModel(nn.Module):
    def __init__(self, cfg: GlobalWorldModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        inner = InnerModel(
            cfg.inner,
            image_size=cfg.image_size,
            context_length=cfg.context_length,
            action_dim=cfg.action_dim,
            img_channels=cfg.img_channels,
        )
        self.denoiser = Denoiser(inner, cfg.edm)
        self.sampler = DiffusionSampler(self.denoiser, cfg.sampler)
        self.head = RewardTerminationHead(
            cfg.head, image_size=cfg.image_size, action_dim=cfg.action_dim, img_channels=cfg.img_channels
        )
        self.register_buffer("action_mean", torch.zeros(cfg.action_dim))
        self.register_buffer("action_std", torch.ones(cfg.action_dim))
        self.register_buffer("reward_mean", torch.zeros(()))
        self.register_buffer("reward_std", torch.ones(()))

    # ---- normalization ----
    def set_normalization(self, normalization: dict[str, Any]) -> None:
        """Take action/reward statistics from a dataset's ``meta.normalization``."""
        a, r = normalization["action"], normalization["reward"]
        self.action_mean.copy_(torch.as_tensor(a["mean"], dtype=torch.float32))
        self.action_std.copy_(torch.as_tensor(a["std"], dtype=torch.float32).clamp_min(1e-6))
        self.reward_mean.fill_(float(r["mean"]))
        self.reward_std.fill_(max(float(r["std"]), 1e-6))

    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions.float() - self.action_mean) / self.action_std

    def normalize_rewards(self, rewards: torch.Tensor) -> torch.Tensor:
        return (rewards.float() - self.reward_mean) / self.reward_std

    def denormalize_rewards(self, rewards: torch.Tensor) -> torch.Tensor:
        return rewards.float() * self.reward_std + self.reward_mean

    def prepare_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [..., H, W, 3] -> float [..., 3, S, S] in [-1, 1] at the model's resolution."""
        return frames_to_float(frames, self.cfg.image_size)

    # ---- training ----
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Joint loss of the denoiser and the head.

        ``batch``: ``frames`` uint8 [B, L+1, H, W, 3] and ``actions`` [B, L+1, A] (the denoiser
        predicts frame L from frames 0..L-1 and actions 0..L-1); ``head_frames`` uint8
        [B', T, H, W, 3], ``head_actions`` [B', T, A], ``head_reward`` [B', T],
        ``head_is_terminal`` [B', T] (transitions t -> t+1 for t < T-1).
        """
        L = self.cfg.context_length
        frames = self.prepare_frames(batch["frames"])
        b = frames.shape[0]
        obs_ctx = frames[:, :L].reshape(b, -1, *frames.shape[-2:])
        act_ctx = self.normalize_actions(batch["actions"][:, :L])
        d_loss, metrics = self.denoiser.compute_loss(obs_ctx, act_ctx, frames[:, L])
        hf = self.prepare_frames(batch["head_frames"])
        h_loss, h_metrics = self.head.compute_loss(
            hf[:, :-1],
            self.normalize_actions(batch["head_actions"][:, :-1]),
            hf[:, 1:],
            self.normalize_rewards(batch["head_reward"][:, :-1]),
            batch["head_is_terminal"][:, 1:],
        )
        metrics.update(h_metrics)
        loss = d_loss + self.cfg.head_weight * h_loss
        metrics["loss"] = loss.item()
        return loss, metrics

    # ---- inference ----
    @torch.no_grad()
    def predict_next(
        self, obs_ctx: torch.Tensor, act_ctx_norm: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Next frame [B, 3, S, S] (quantized, in [-1, 1]).

        From context frames [B, L, 3, S, S] in [-1, 1] and normalized actions [B, L, A].
        """
        b = obs_ctx.shape[0]
        return self.sampler.sample(obs_ctx.reshape(b, -1, *obs_ctx.shape[-2:]), act_ctx_norm, generator)

    # ---- persistence ----
    def save_pretrained(self, directory: str | Path) -> None:
        save_model_folder(self, self.cfg, directory, FORMAT)

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> GlobalWorldModel:
        return load_model_folder(cls, GlobalWorldModelConfig, directory, FORMAT, map_location)
