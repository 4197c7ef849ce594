"""What a policy trainer keeps between iterations and across a resume: the local model's replay of
rollout sequences, and the run's counters (saved with the weights)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class SequenceReplay:
    """Ring buffer of fixed-length policy-rollout sequences (numpy, dataset conventions)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data: dict[str, np.ndarray] = {}
        self.size = 0
        self.pos = 0

    def add(self, batch: dict[str, np.ndarray]) -> None:
        n = len(next(iter(batch.values())))
        if n == 0:
            return
        if not self.data:
            self.data = {k: np.zeros((self.capacity, *v.shape[1:]), v.dtype) for k, v in batch.items()}
        idx = (self.pos + np.arange(n)) % self.capacity
        for k, v in batch.items():
            self.data[k][idx] = v
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        idx = rng.integers(0, self.size, size=n)
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v[: self.size].copy()) for k, v in self.data.items()}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        if tensors:
            self.add({k: v.numpy() for k, v in tensors.items()})


class RunCounters(nn.Module):
    """Iteration and sample counters, saved with the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("values", torch.zeros(3, dtype=torch.float64))  # iteration, global samples, updates

    def get(self) -> tuple[int, int, int]:
        return tuple(int(x) for x in self.values.tolist())  # type: ignore[return-value]

    def set(self, iteration: int, samples: int, updates: int) -> None:
        self.values.copy_(torch.tensor([iteration, samples, updates], dtype=torch.float64))
