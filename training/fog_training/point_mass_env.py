"""A 2-D point mass: the seconds-long sanity task of the FoG/SAPO machinery (a regression test).

State (4 features): the point's position p and its goal g, both in [-1, 1]^2. Action: an absolute
target a in [-1, 1]^2; the point moves a fixed fraction of the way there each step,
``p' = p + k (a - p)``. Reward: ``-|p' - g|``. Episodes last ``max_steps`` steps (truncated) from a
random p and g. A constant action leaves a mean final distance of about 0.7; a policy that learned
anything ends near 0.

:class:`PointMassSimulator` steps N of them without gradients (FoG's "global model" as a true
simulator, like DMO's) and restarts ended episodes itself. The local model that supplies the
gradients is an :class:`fog_training.local_models.MLPLocalModel` learned from its transitions, so a
broken sign, swap or bootstrap anywhere in the trainer shows as a policy that does not reach its goals.
"""

from __future__ import annotations

import numpy as np
import torch

from fog_training.pusht_state_env import StepResult

STATE_DIM = 4
ACTION_DIM = 2


class PointMassSimulator:
    real = True
    autoreset = True

    def __init__(
        self, num_envs: int, seed: int = 0, max_steps: int = 20, gain: float = 0.5, device: str | torch.device = "cpu"
    ) -> None:
        self.num_envs = num_envs
        self.rng = np.random.default_rng(seed)
        self.max_steps = max_steps
        self.gain = gain
        self.device = torch.device(device)
        self.samples = 0
        self.t = np.zeros(num_envs, int)
        self.state = np.zeros((num_envs, STATE_DIM), np.float32)
        self.episode_returns: list[float] = []
        self.final_coverages: list[float] = []  # the trainer's name for "final task figure": here -distance
        self.final_distances: list[float] = []
        self._ret = np.zeros(num_envs)

    def _new(self, n: int) -> np.ndarray:
        return self.rng.uniform(-1, 1, (n, STATE_DIM)).astype(np.float32)

    def reset(self, rng: np.random.Generator | None = None) -> torch.Tensor:  # noqa: ARG002
        self.state = self._new(self.num_envs)
        self.t[:] = 0
        self._ret[:] = 0
        return torch.from_numpy(self.state.copy()).to(self.device)

    @torch.no_grad()
    def step(self, action: torch.Tensor) -> StepResult:
        a = np.clip(action.detach().cpu().numpy(), -1, 1)
        nxt = self.state.copy()
        nxt[:, :2] += self.gain * (a - nxt[:, :2])
        dist = np.linalg.norm(nxt[:, :2] - nxt[:, 2:], axis=1)
        reward = (-dist).astype(np.float32)
        self.t += 1
        self._ret += reward
        trunc = self.t >= self.max_steps
        final = nxt.copy()
        self.state = nxt
        if trunc.any():
            idx = np.flatnonzero(trunc)
            self.episode_returns += self._ret[idx].tolist()
            self.final_distances += dist[idx].tolist()
            self.final_coverages += (-dist[idx]).tolist()
            self.state[idx] = self._new(len(idx))
            self.t[idx] = 0
            self._ret[idx] = 0
        self.samples += self.num_envs
        t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(self.device)  # noqa: E731
        zeros = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        return StepResult(t(final), t(reward), zeros, t(trunc), t(self.state.copy()), {})


def evaluate_point_mass(
    policy, episodes: int = 256, seed: int = 12345, max_steps: int = 20, gain: float = 0.5
) -> float:
    """Mean final distance of ``policy`` (state [N, 4] -> action [N, 2], torch) over ``episodes`` episodes."""
    sim = PointMassSimulator(episodes, seed, max_steps, gain)
    obs = sim.reset()
    with torch.no_grad():
        for _ in range(max_steps):
            obs = sim.step(policy(obs)).obs
    return float(np.mean(sim.final_distances))
