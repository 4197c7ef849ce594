"""Windows of consecutive steps from an episode store, held in memory at the model's resolution.

The store's images are read once, resized to the training resolution and kept as uint8 (Push-T,
200 episodes of 300 steps at 64x64: ~0.7 GB); sampling a batch is then a numpy gather. Episodes
are split deterministically: the last ``val_fraction`` of them are held out for evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from fog_worldmodel.image_ops import resize_frames_uint8

from fog_training.data.episode_store import EpisodeStore

KEYS = ("action", "reward", "is_first", "is_last", "is_terminal")


def split_episodes(num_episodes: int, val_fraction: float) -> tuple[list[int], list[int]]:
    """(train, val) episode indexes: the last ceil(fraction * E) episodes are val (none if E < 2)."""
    n_val = int(np.ceil(val_fraction * num_episodes)) if val_fraction > 0 and num_episodes >= 2 else 0
    n_val = min(n_val, num_episodes - 1)
    return list(range(num_episodes - n_val)), list(range(num_episodes - n_val, num_episodes))


class WindowSampler:
    def __init__(
        self, store: EpisodeStore | str | Path, image_size: int, val_fraction: float = 0.05, chunk: int = 1024
    ) -> None:
        self.store = store if isinstance(store, EpisodeStore) else EpisodeStore(store)
        self.image_size = image_size
        n = self.store.num_steps
        self.images = np.empty((n, image_size, image_size, 3), np.uint8)
        for i, (start, stop) in enumerate(self.store.episode_bounds):
            frames = self.store.episode(i)["image"]
            for a in range(0, stop - start, chunk):
                part = torch.from_numpy(np.ascontiguousarray(frames[a : a + chunk]))
                self.images[start + a : start + a + len(part)] = resize_frames_uint8(part, image_size).numpy()
        self.arrays = {k: np.asarray(self.store.array(k)) for k in KEYS}
        self.bounds = self.store.episode_bounds
        self.train_episodes, self.val_episodes = split_episodes(self.store.num_episodes, val_fraction)
        self._starts: dict[tuple[int, str], np.ndarray] = {}

    def episodes(self, split: Literal["train", "val", "all"]) -> list[int]:
        if split == "train":
            return self.train_episodes
        if split == "val":
            return self.val_episodes or self.train_episodes
        return self.train_episodes + self.val_episodes

    def valid_starts(self, length: int, split: Literal["train", "val", "all"] = "train") -> np.ndarray:
        """Every store index where a window of ``length`` fits inside one episode of ``split``."""
        key = (length, split)
        if key not in self._starts:
            self._starts[key] = self._valid_starts(length, split)
        return self._starts[key]

    def _valid_starts(self, length: int, split: str) -> np.ndarray:
        starts = [
            np.arange(s, e - length + 1) for s, e in (self.bounds[i] for i in self.episodes(split)) if e - s >= length
        ]
        if not starts:
            raise ValueError(f"no {split} episode is at least {length} steps long")
        return np.concatenate(starts)

    def read(self, starts: np.ndarray, length: int) -> dict[str, np.ndarray]:
        idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)[None, :]
        out = {"image": self.images[idx]}
        out.update({k: v[idx] for k, v in self.arrays.items()})
        return out

    def sample(
        self, rng: np.random.Generator, batch: int, length: int, split: Literal["train", "val", "all"] = "train"
    ) -> dict[str, np.ndarray]:
        """``batch`` windows of ``length`` steps, uniform over valid windows of ``split``."""
        starts = self.valid_starts(length, split)
        return self.read(starts[rng.integers(0, len(starts), size=batch)], length)
