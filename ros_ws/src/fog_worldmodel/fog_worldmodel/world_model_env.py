"""The global world model as a batched, no-grad vector environment (DIAMOND's WorldModelEnv).

``reset(frames, actions)`` starts every environment from a real context window (L frames and the
actions taken between them, straight from the dataset), ``step(actions)`` samples the next frame
with the diffusion sampler and the reward/termination head::

    env = WorldModelEnv(GlobalWorldModel.from_pretrained("runs/wm/model"), seed=0)
    obs = env.reset(window["image"][:, :4], window["action"][:, :4])   # uint8 [B, S, S, 3]
    obs, reward, done = env.step(actions)                              # [B, S, S, 3], [B], [B]

Actions and rewards are in dataset units. Frames are uint8 at the model's resolution. Outputs are
torch tensors on the env's device (``as_numpy=True`` gives numpy arrays, as gym vector envs do).
With ``context_fn`` set, environments that report done are reset from a fresh context in the same
step (gym's autoreset): the frame returned for them is the new first frame and the terminal frame
is kept in ``final_frames``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fog_worldmodel.global_world_model import GlobalWorldModel
from fog_worldmodel.image_ops import float_to_frames

ContextFn = Callable[[int], tuple[Any, Any]]


def _as_tensor(x: Any, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


class WorldModelEnv:
    def __init__(
        self,
        model: GlobalWorldModel,
        *,
        device: torch.device | str | None = None,
        seed: int = 0,
        done_threshold: float = 0.5,
        context_fn: ContextFn | None = None,
        max_episode_steps: int | None = None,
        as_numpy: bool = False,
    ) -> None:
        self.model = model.eval().requires_grad_(False)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model.to(self.device)
        self.done_threshold = done_threshold
        self.context_fn = context_fn
        self.max_episode_steps = max_episode_steps
        self.as_numpy = as_numpy
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.L = model.cfg.context_length
        self._obs: torch.Tensor | None = None  # [B, L, 3, S, S] in [-1, 1]
        self._act: torch.Tensor | None = None  # [B, L, A] normalized; slot L-1 is filled by step()
        self._hidden: torch.Tensor | None = None
        self._t: torch.Tensor | None = None
        self.final_frames: torch.Tensor | None = None
        self.last_termination_probability = None

    # ---- vector-env facts ----
    @property
    def num_envs(self) -> int:
        return 0 if self._obs is None else int(self._obs.shape[0])

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        s = self.model.cfg.image_size
        return (s, s, self.model.cfg.img_channels)

    @property
    def action_dim(self) -> int:
        return self.model.cfg.action_dim

    @property
    def context_length(self) -> int:
        return self.L

    def seed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    # ---- reset / step ----
    @torch.no_grad()
    def _context(self, frames: Any, actions: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        frames = _as_tensor(frames, self.device)
        actions = _as_tensor(actions, self.device, torch.float32)
        if frames.ndim != 5 or frames.shape[1] != self.L:
            raise ValueError(f"context frames must be uint8 [B, {self.L}, H, W, 3], got {tuple(frames.shape)}")
        if actions.ndim != 3 or actions.shape[1] not in (self.L - 1, self.L) or actions.shape[0] != frames.shape[0]:
            raise ValueError(f"context actions must be [B, {self.L - 1} or {self.L}, A], got {tuple(actions.shape)}")
        obs = self.model.prepare_frames(frames)
        act = torch.zeros(frames.shape[0], self.L, self.action_dim, device=self.device)
        act[:, : self.L - 1] = self.model.normalize_actions(actions[:, : self.L - 1])
        # Warm the head's recurrent core up on the transitions inside the context.
        hidden = self.model.head.initial_state(frames.shape[0], self.device)
        for i in range(self.L - 1):
            _, _, hidden = self.model.head.step(obs[:, i], act[:, i], obs[:, i + 1], hidden)
        return obs, act, hidden

    @torch.no_grad()
    def context(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Copies of the current context, for a caller that rolls the model forward itself (BPTT through
        the sampler): frames [B, L, 3, S, S] in [-1, 1], normalized actions [B, L, A] (slot L-1 is where
        the next action goes) and the reward head's hidden state."""
        if self._obs is None:
            raise RuntimeError("WorldModelEnv.context() before reset()")
        return self._obs.clone(), self._act.clone(), self._hidden.clone()

    def reset(self, frames: Any, actions: Any, seed: int | None = None):
        """Start from context windows: frames uint8 [B, L, H, W, 3], actions [B, L-1 or L, A].

        ``actions[:, i]`` is the action taken at frame i (dataset convention); with L actions the
        last one is ignored, since ``step`` supplies the action taken at the last context frame.
        Returns the last context frame [B, S, S, 3] uint8.
        """
        if seed is not None:
            self.seed(seed)
        self._obs, self._act, self._hidden = self._context(frames, actions)
        self._t = torch.zeros(self._obs.shape[0], dtype=torch.long, device=self.device)
        self.final_frames = None
        return self._out(float_to_frames(self._obs[:, -1]))

    @torch.no_grad()
    def step(self, actions: Any):
        """Advance every environment by one action [B, A] -> (frames uint8 [B, S, S, 3], rewards [B], dones [B])."""
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        a = self.model.normalize_actions(
            _as_tensor(actions, self.device, torch.float32).reshape(self.num_envs, self.action_dim)
        )
        self._act[:, -1] = a
        nxt = self.model.predict_next(self._obs, self._act, self.generator)
        r_norm, d_logit, self._hidden = self.model.head.step(self._obs[:, -1], a, nxt, self._hidden)
        rewards = self.model.denormalize_rewards(r_norm)
        prob = torch.sigmoid(d_logit)
        self.last_termination_probability = self._out(prob)  # [B]: the head's P(terminal), before the threshold
        dones = prob > self.done_threshold
        self._t += 1
        if self.max_episode_steps is not None:
            dones = dones | (self._t >= self.max_episode_steps)
        self._obs = torch.cat([self._obs[:, 1:], nxt[:, None]], dim=1)
        self._act = torch.cat([self._act[:, 1:], torch.zeros_like(self._act[:, :1])], dim=1)
        frames = float_to_frames(nxt)
        if self.context_fn is not None and bool(dones.any()):
            self.final_frames = frames.clone()
            idx = dones.nonzero().squeeze(-1)
            f, act = self.context_fn(int(idx.numel()))
            obs, act_n, hidden = self._context(f, act)
            self._obs[idx], self._act[idx], self._hidden[idx] = obs, act_n, hidden
            self._t[idx] = 0
            frames[idx] = float_to_frames(obs[:, -1])
        return self._out(frames), self._out(rewards), self._out(dones)

    def _out(self, x: torch.Tensor):
        return x.cpu().numpy() if self.as_numpy else x
