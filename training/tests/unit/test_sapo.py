"""SAPO pieces (fog_training.sapo): the temperature moves the entropy towards its target, the window return
restarts and masks at episode ends. (The actor: test_actor.py; TD(lambda) and the critic: test_critic.py.)"""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.actor import ActorConfig, SquashedGaussianActor  # noqa: E402
from fog_training.sapo import Temperature, WindowReturn, target_entropy  # noqa: E402


@pytest.mark.parametrize("start_log_std", [1.5, -4.5])
def test_temperature_moves_entropy_towards_target(start_log_std):
    # Reward -(a - 0.3)^2 wants a deterministic policy; the entropy bonus wants a wide one. The temperature
    # arbitrates: whichever side of the target the entropy starts on, it must end closer to it.
    torch.manual_seed(0)
    A = 2
    actor = SquashedGaussianActor(ActorConfig(feat_dim=3, action_dim=A, hidden=(16,), init_log_std=start_log_std))
    temp = Temperature(init_alpha=1.0, target_entropy=target_entropy(A))
    opt = torch.optim.Adam([{"params": actor.parameters(), "lr": 3e-3}, {"params": temp.parameters(), "lr": 3e-2}])
    feat = torch.randn(256, 3)

    def entropy():
        with torch.no_grad():
            return -actor.sample(feat)[1].mean().item()

    gap0 = abs(entropy() - temp.target_entropy)
    for _ in range(400):
        a, logp, _ = actor.sample(feat)
        ent = -logp
        obj = (-((a - 0.3) ** 2)).sum(-1) + temp.alpha * ent / A
        loss = -obj.mean() + temp.loss(ent)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    gap1 = abs(entropy() - temp.target_entropy)
    assert gap1 < 0.5 * gap0, (gap0, gap1)


def test_window_return_restarts_and_masks():
    g = 0.5
    w = WindowReturn(2, g, "cpu")
    w.add(torch.tensor([1.0, 1.0]))
    w.end(
        torch.tensor([True, False]), torch.tensor([False, False]), torch.tensor([8.0, 99.0]), restart=True
    )  # env 0 truncated
    w.add(torch.tensor([2.0, 2.0]))
    out = w.finish(torch.tensor([4.0, 4.0]))
    # env 0: 1 + g*8 (bootstrap at truncation) + 2 (new episode, discount reset) + g*4; env 1: 1 + g*2 + g^2*4
    assert torch.allclose(out, torch.tensor([1 + g * 8 + 2 + g * 4, 1 + g * 2 + g * g * 4]))
    m = WindowReturn(1, g, "cpu")
    m.add(torch.tensor([1.0]))
    m.end(
        torch.tensor([True]), torch.tensor([True]), torch.tensor([50.0]), restart=False
    )  # terminated: V = 0, then masked
    m.add(torch.tensor([7.0]))
    assert m.finish(torch.tensor([9.0])).item() == pytest.approx(1.0)
