"""State-based Push-T: the true simulator as a gym env (for stable-baselines3) and as FoG's "global model".

Observation (11 features, roughly unit scale): agent position and velocity, block position,
sin/cos of the block angle, block velocity and angular velocity::

    [ax/256 - 1, ay/256 - 1, avx/1024, avy/1024, bx/256 - 1, by/256 - 1, sin th, cos th, bvx/256, bvy/256, w/4]

(gym-pusht's own state observation has no velocities; the agent is PD-controlled towards its
target, so without them the state is not Markov.) Action: a in [-1, 1]^2, turned into gym-pusht's
target by a :class:`~fog_training.pusht_task.PushTAction` (default: relative, target =
agent + 60 px * a; or absolute, (a + 1) * 256, as in stores written before the switch). Reward:
the dataset's dense training reward (``fog_training.pusht_task.dense_reward``, same
default weights). Episodes end with success (coverage > 0.95, terminated) or after ``max_steps``
(truncated); ``info`` carries ``coverage`` and ``is_success``: judge policies by those, never by
the dense reward.

:class:`PushTStateSimulator` steps N such environments without gradients and restarts ended
episodes itself (autoreset), counting every step as a real-environment sample.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from fog_training.pusht_task import ENV_ID, PushTAction, reward_terms

STATE_DIM = 11
ACTION_DIM = 2


def state_features(env) -> np.ndarray:
    """The 11 features of an (unwrapped) gym-pusht env's current state."""
    a, b = env.agent, env.block
    th = b.angle
    return np.array(
        [
            a.position[0] / 256 - 1,
            a.position[1] / 256 - 1,
            a.velocity[0] / 1024,
            a.velocity[1] / 1024,
            b.position[0] / 256 - 1,
            b.position[1] / 256 - 1,
            math.sin(th),
            math.cos(th),
            b.velocity[0] / 256,
            b.velocity[1] / 256,
            b.angular_velocity / 4,
        ],
        np.float32,
    )


class PushTStateEnv(gym.Env):
    """gym-pusht with state features, the dense training reward and success termination."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        max_steps: int = 300,
        reward_weights: tuple[float, float, float] = (1.0, 0.5, 1.0),
        action: PushTAction | None = None,
    ) -> None:
        import gym_pusht  # noqa: F401  (registers the environment)

        self.action_encoding = action or PushTAction()
        self.env = gym.make(ENV_ID, obs_type="state", max_episode_steps=10**9).unwrapped
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.max_steps = max_steps
        self.w = reward_weights
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.env.reset(seed=seed)
        self.t = 0
        return state_features(self.env), {}

    def step(self, action):
        target = self.action_encoding.target(action, np.asarray(self.env.agent.position))
        _, env_reward, terminated, _, info = self.env.step(target)
        self.t += 1
        cov = float(info["coverage"])
        d_agent, d_kp = reward_terms(
            np.asarray(self.env.agent.position), np.array([*self.env.block.position, self.env.block.angle])
        )
        reward = self.w[0] * cov - self.w[1] * d_agent - self.w[2] * d_kp
        truncated = self.t >= self.max_steps and not terminated
        info = {"coverage": cov, "is_success": bool(info["is_success"]), "env_reward": float(env_reward)}
        return state_features(self.env), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray:
        from fog_training.data.pusht_collect import render_native

        return render_native(self.env)

    def close(self) -> None:
        self.env.close()


class StepResult(NamedTuple):
    obs: torch.Tensor
    """Successor of each transition [N, ...] (the final observation where the episode ended)."""
    reward: torch.Tensor
    """Global reward value r^G_t [N]."""
    terminated: torch.Tensor
    """bool [N]: the successor is terminal."""
    truncated: torch.Tensor
    """bool [N]: the episode hit its time limit."""
    next_start: Any
    """Where the rollout continues (new first observation where an episode ended), or None without autoreset."""
    info: dict[str, torch.Tensor]
    """Extras (coverage, success)."""


class PushTStateSimulator:
    """N true Push-T simulators stepped without gradients (FoG's "global model" in DMO mode)."""

    real = True
    autoreset = True

    def __init__(
        self,
        num_envs: int,
        seed: int = 0,
        max_steps: int = 100,
        device: str | torch.device = "cpu",
        reward_weights: tuple[float, float, float] = (1.0, 0.5, 1.0),
        action: PushTAction | None = None,
    ) -> None:
        self.action_encoding = action or PushTAction()
        self.envs = [PushTStateEnv(max_steps, reward_weights, self.action_encoding) for _ in range(num_envs)]
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.seed = seed
        self.episodes = 0
        self.samples = 0
        self.obs = np.zeros((num_envs, STATE_DIM), np.float32)
        self.episode_returns: list[float] = []
        self.final_coverages: list[float] = []
        self._ret = np.zeros(num_envs)

    def _reset_env(self, i: int) -> np.ndarray:
        obs, _ = self.envs[i].reset(seed=self.seed * 1_000_003 + self.episodes)
        self.episodes += 1
        return obs

    def reset(self, rng: np.random.Generator | None = None) -> torch.Tensor:  # noqa: ARG002
        for i in range(self.num_envs):
            self.obs[i] = self._reset_env(i)
        self._ret[:] = 0
        return torch.from_numpy(self.obs.copy()).to(self.device)

    @torch.no_grad()
    def step(self, action: torch.Tensor) -> StepResult:
        act = action.detach().cpu().numpy()
        n = self.num_envs
        final = np.zeros((n, STATE_DIM), np.float32)
        rew, term, trunc, cov, succ = (
            np.zeros(n, np.float32),
            np.zeros(n, bool),
            np.zeros(n, bool),
            np.zeros(n, np.float32),
            np.zeros(n, bool),
        )
        for i, env in enumerate(self.envs):
            o, r, te, tr, info = env.step(act[i])
            final[i], rew[i], term[i], trunc[i], cov[i], succ[i] = o, r, te, tr, info["coverage"], info["is_success"]
            self._ret[i] += r
            if te or tr:
                self.episode_returns.append(float(self._ret[i]))
                self.final_coverages.append(float(cov[i]))
                self._ret[i] = 0
                self.obs[i] = self._reset_env(i)
            else:
                self.obs[i] = o
        self.samples += n
        t = lambda x: torch.from_numpy(x).to(self.device)  # noqa: E731
        return StepResult(
            t(final), t(rew), t(term), t(trunc), t(self.obs.copy()), {"coverage": t(cov), "success": t(succ)}
        )
