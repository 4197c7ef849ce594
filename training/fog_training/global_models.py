"""FoG's "global model" interface and its image implementation (the diffusion WorldModelEnv).

A global model steps N environments *without gradients* and says where its samples come from::

    real: bool          # True: real-environment samples (a simulator); False: world-model samples
    autoreset: bool     # True: ended episodes continue in fresh ones (StepResult.next_start)
    samples: int        # environment steps taken so far
    reset(rng) -> start # what the local model starts from (local.start(start))
    step(action [N, A]) -> StepResult (obs, reward, terminated, truncated, next_start, info)

Implementations: :class:`DiffusionGlobalModel` (here; imagined rollouts started from real context
windows of the dataset, restarted every window) and
:class:`fog_training.pusht_state_env.PushTStateSimulator` (the true Push-T simulator: DMO).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from fog_worldmodel.global_world_model import GlobalWorldModel
from fog_worldmodel.world_model_env import WorldModelEnv

from fog_training.pusht_state_env import StepResult


class GlobalModel(Protocol):
    real: bool
    autoreset: bool
    samples: int
    num_envs: int

    def reset(self, rng: np.random.Generator): ...

    def step(self, action: torch.Tensor) -> StepResult: ...


class DiffusionGlobalModel:
    """The diffusion world model as FoG's global model: N imagined rollouts from real context windows.

    ``reset`` draws N windows of L frames from the dataset (train split), starts the
    :class:`WorldModelEnv` from them and returns the context for the local model's filter
    (``frames``, ``actions``, ``is_first``). Episodes that the model ends (termination head) are
    not restarted: the trainer masks them until the next window.
    """

    real = False
    autoreset = False

    def __init__(
        self, model: GlobalWorldModel, sampler, num_envs: int, device: str | torch.device = "cpu", seed: int = 0
    ) -> None:
        self.env = WorldModelEnv(model, device=device, seed=seed)
        self.sampler = sampler
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.L = model.cfg.context_length
        self.samples = 0
        self.last_frames: torch.Tensor | None = None

    def reset(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        w = self.sampler.sample(rng, self.num_envs, self.L)
        frames = torch.from_numpy(w["image"]).to(self.device)
        actions = torch.from_numpy(w["action"]).float().to(self.device)
        self.last_frames = self.env.reset(frames, actions)
        return {"frames": frames, "actions": actions, "is_first": torch.from_numpy(w["is_first"]).to(self.device)}

    @torch.no_grad()
    def step(self, action: torch.Tensor) -> StepResult:
        frames, reward, done = self.env.step(action.detach())
        self.samples += self.num_envs
        self.last_frames = frames
        zeros = torch.zeros_like(done)
        return StepResult(frames, reward.float(), done, zeros, None, {})
