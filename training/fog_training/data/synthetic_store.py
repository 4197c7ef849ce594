"""A small episode store with real structure, for tests of anything that reads datasets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fog_training.data.episode_store import EpisodeStore
from fog_training.data.episode_writer import EpisodeWriter

RANDOM_META = {
    "source": "test",
    "policy_rate_hz": 5.0,
    "action": {"names": ["a", "b"]},
    "proprio": {"names": ["p", "q", "r"]},
}
"""The meta of a store of :func:`random_episode` episodes (2 actions, 3 proprio features)."""


def random_episode(t: int, seed: int, hw: tuple[int, int] = (8, 6)) -> dict:
    """One episode of ``t`` steps of seeded random arrays (images ``hw``, 2 actions, 3 proprio
    features, a terminal last step, extras ``state`` and ``success``): for exact round-trip tests."""
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(0, 256, size=(t, *hw, 3), dtype=np.uint8),
        "action": rng.normal(size=(t, 2)).astype(np.float32),
        "proprio": rng.normal(size=(t, 3)).astype(np.float32),
        "reward": rng.normal(size=t).astype(np.float32),
        "is_terminal": np.arange(t) == t - 1,
        "extra": {"state": rng.normal(size=(t, 4)), "success": np.arange(t) % 2 == 0},
    }


def make_synthetic_store(
    path: str | Path,
    episodes: int = 4,
    steps: int | Sequence[int] = 32,
    image_hw: tuple[int, int] = (32, 32),
    seed: int = 0,
    *,
    overwrite: bool = True,
) -> EpisodeStore:
    """A small store with real structure, for tests of anything that reads datasets.

    A square moves on a dark image; the action (vx, vy) in [-1, 1]^2 (a smooth random walk)
    moves it by ``0.08 * action`` per step, clipped to the unit square. ``proprio`` is
    (x, y, dx, dy) (position and last displacement), ``extra/state`` the position after the step,
    and ``reward[t] = -|| pos[t+1] - (0.5, 0.5) ||`` depends on the state the action leads to.
    ``steps`` is one length for every episode or a length per episode. Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    lengths = [int(steps)] * episodes if np.isscalar(steps) else [int(s) for s in steps]
    if len(lengths) != episodes:
        raise ValueError(f"{len(lengths)} lengths given for {episodes} episodes")
    h, w = (int(v) for v in image_hw)
    side = max(2, min(h, w) // 6)
    goal = np.array([0.5, 0.5])
    meta = {
        "source": "synthetic",
        "policy_rate_hz": 5.0,
        "action": {"names": ["vx", "vy"], "low": [-1.0, -1.0], "high": [1.0, 1.0]},
        "proprio": {"names": ["x", "y", "dx", "dy"]},
        "reward_source": "synthetic: reward[t] = -||pos[t+1] - (0.5, 0.5)||, "
        "pos[t+1] = clip(pos[t] + 0.08 * action[t], 0, 1)",
        "created_by": "fog_training.data.synthetic_store.make_synthetic_store",
        "config": {"episodes": episodes, "steps": lengths, "image_hw": [h, w], "seed": seed},
    }
    with EpisodeWriter(path, meta, image_shape=(h, w), action_dim=2, proprio_dim=4, overwrite=overwrite) as writer:
        for t_len in lengths:
            pos = rng.uniform(0.1, 0.9, size=2)
            prev = pos.copy()
            a = rng.uniform(-1, 1, size=2)
            imgs = np.full((t_len, h, w, 3), 30, np.uint8)
            act = np.zeros((t_len, 2), np.float32)
            prop = np.zeros((t_len, 4), np.float32)
            rew = np.zeros(t_len, np.float32)
            state = np.zeros((t_len, 2), np.float32)
            for t in range(t_len):
                py, px = int(round(pos[1] * (h - side))), int(round(pos[0] * (w - side)))
                imgs[t, py : py + side, px : px + side] = (230, 60, 40)
                prop[t] = [*pos, *(pos - prev)]
                a = np.clip(0.8 * a + 0.4 * rng.normal(size=2), -1, 1)
                act[t] = a
                prev, pos = pos, np.clip(pos + 0.08 * a, 0.0, 1.0)
                state[t] = pos
                rew[t] = -np.linalg.norm(pos - goal)
            writer.add_episode(image=imgs, action=act, proprio=prop, reward=rew, extra={"state": state})
    return EpisodeStore(path)
