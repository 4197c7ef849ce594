"""fog_training.global_models.DiffusionGlobalModel: the diffusion world model as FoG's global model
(context windows drawn from the sampler, StepResult fields, sample counting, no gradients,
seeding), on a tiny untrained GlobalWorldModel and a stand-in window sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fog_training.global_models import DiffusionGlobalModel
from fog_training.pusht_state_env import StepResult
from fog_worldmodel.diffusion_sampler import SamplerConfig
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig
from fog_worldmodel.reward_termination_head import RewardTerminationConfig
from fog_worldmodel.unet_inner_model import InnerModelConfig

N, A, S = 3, 2, 16


@pytest.fixture(scope="module")
def model() -> GlobalWorldModel:
    torch.manual_seed(0)
    cfg = GlobalWorldModelConfig(
        image_size=S,
        action_dim=A,
        inner=InnerModelConfig(
            block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
        ),
        head=RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=16),
        sampler=SamplerConfig(num_steps=1),  # one denoising step per frame: fast
    )
    m = GlobalWorldModel(cfg)
    for p in m.parameters():  # an untrained model's zero-initialised outputs would hide seeding
        p.data.add_(0.05 * torch.randn_like(p))
    return m


class WindowStub:
    """Stands in for WindowSampler: records its calls, draws windows from the given rng."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def sample(self, rng: np.random.Generator, batch: int, length: int) -> dict[str, np.ndarray]:
        self.calls.append((batch, length))
        is_first = np.zeros((batch, length), bool)
        is_first[:, 0] = True
        return {
            "image": rng.integers(0, 256, (batch, length, S, S, 3), dtype=np.uint8),
            "action": rng.normal(size=(batch, length, A)),  # float64, as a store may hold
            "is_first": is_first,
        }


def make(model, seed: int = 0) -> tuple[DiffusionGlobalModel, WindowStub]:
    stub = WindowStub()
    return DiffusionGlobalModel(model, stub, num_envs=N, device="cpu", seed=seed), stub


def test_it_declares_imagined_samples_without_autoreset(model):
    gm, _ = make(model)
    assert gm.real is False and gm.autoreset is False, "world-model samples, masked (not restarted) episodes"
    assert gm.samples == 0 and gm.num_envs == N and gm.L == model.cfg.context_length
    assert gm.last_frames is None, "no frames before the first reset"
    for name in ("real", "autoreset", "samples", "num_envs", "reset", "step"):
        assert hasattr(gm, name), f"the GlobalModel interface needs {name}"


def test_reset_draws_num_envs_windows_of_context_length_and_returns_them(model):
    gm, stub = make(model)
    start = gm.reset(np.random.default_rng(7))
    L = model.cfg.context_length
    assert stub.calls == [(N, L)], f"one draw of {N} windows of {L} frames, got {stub.calls}"
    window = WindowStub().sample(np.random.default_rng(7), N, L)
    assert set(start) == {"frames", "actions", "is_first"}
    assert torch.equal(start["frames"], torch.from_numpy(window["image"])), "the context frames, unchanged"
    assert start["actions"].dtype == torch.float32, "actions are given to the local model as float32"
    assert torch.allclose(start["actions"], torch.from_numpy(window["action"]).float())
    assert start["is_first"].dtype == torch.bool and start["is_first"][:, 0].all()
    assert gm.last_frames.shape == (N, S, S, 3) and gm.last_frames.dtype == torch.uint8
    assert torch.equal(gm.last_frames, start["frames"][:, -1]), "16x16 context at 16x16: the last frame as given"


def test_step_returns_a_step_result_and_counts_samples(model):
    gm, _ = make(model)
    gm.reset(np.random.default_rng(0))
    for k in (1, 2):
        res = gm.step(torch.zeros(N, A))
        assert isinstance(res, StepResult)
        assert gm.samples == k * N, f"{k} steps of {N} environments: {k * N} samples, got {gm.samples}"
    assert res.obs.shape == (N, S, S, 3) and res.obs.dtype == torch.uint8
    assert res.reward.shape == (N,) and res.reward.dtype == torch.float32
    assert res.terminated.shape == (N,) and res.terminated.dtype == torch.bool
    assert res.truncated.dtype == torch.bool and not res.truncated.any(), "the world model never truncates"
    assert res.next_start is None and res.info == {}, "no autoreset: no next start"
    assert gm.last_frames is res.obs, "last_frames follows the newest frames"


def test_step_needs_no_gradient_and_gives_none(model):
    gm, _ = make(model)
    gm.reset(np.random.default_rng(0))
    action = torch.zeros(N, A, requires_grad=True)
    res = gm.step(action * 2.0)
    assert not res.reward.requires_grad and not res.obs.requires_grad, "global model outputs carry no graph"
    assert action.grad is None


def test_rollouts_repeat_under_a_seed_and_differ_across_seeds(model):
    def roll(seed: int) -> torch.Tensor:
        gm, _ = make(model, seed=seed)
        gm.reset(np.random.default_rng(1))
        return torch.stack([gm.step(torch.full((N, A), 0.3)).obs for _ in range(2)])

    a, b, c = roll(4), roll(4), roll(5)
    assert torch.equal(a, b), "same seed, same context: the same imagined frames"
    assert not torch.equal(a, c), "another seed samples other frames"


def test_each_reset_draws_fresh_windows(model):
    gm, stub = make(model)
    rng = np.random.default_rng(3)
    first = gm.reset(rng)["frames"].clone()
    gm.step(torch.zeros(N, A))
    second = gm.reset(rng)["frames"]
    assert len(stub.calls) == 2 and not torch.equal(first, second), "a new window per reset"
    assert gm.samples == N, "reset does not count samples"
    assert torch.equal(gm.last_frames, second[:, -1])


def test_step_before_reset_is_refused(model):
    gm, _ = make(model)
    with pytest.raises(RuntimeError, match="reset"):
        gm.step(torch.zeros(N, A))
    assert gm.samples == 0, "a refused step counts nothing"
