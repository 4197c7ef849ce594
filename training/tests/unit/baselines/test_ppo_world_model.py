"""PPO in the world model's pure parts (fog_training.baselines.ppo_world_model): GAE by hand. The trainer
end to end: training/tests/integration/baselines/test_ppo_world_model.py."""

import math
import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.baselines.ppo_world_model import gae  # noqa: E402


def test_gae_hand_computed():
    g, lam = 0.9, 0.8
    r, v = torch.tensor([[1.0], [0.5]]), torch.tensor([[2.0], [3.0]])
    last = torch.tensor([4.0])
    d1 = 0.5 + g * 4 - 3
    d0 = 1 + g * 3 - 2
    adv, ret = gae(r, v, last, torch.zeros(2, 1, dtype=torch.bool), g, lam)
    assert torch.allclose(adv[:, 0], torch.tensor([d0 + g * lam * d1, d1]))
    assert torch.allclose(ret, adv + v)
    assert math.isfinite(adv.sum().item())
