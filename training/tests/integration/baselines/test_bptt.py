"""BPTT through the diffusion sampler (the gradient-cost baseline) on the debug world models: the
differentiable sampler matches the env's, and BPTT keeps far more activations than FoG.

The world models are the debug-preset runs of the `synthetic_models` fixture (training/tests/conftest.py);
the pure parts (PeakRSS, ratios, table) are in training/tests/unit/baselines/test_bptt.py.
"""

import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.baselines.bptt import GradientCostConfig, differentiable_next_frame, measure  # noqa: E402
from fog_worldmodel.global_world_model import GlobalWorldModel  # noqa: E402


def test_differentiable_sampler_matches_the_env_sampler(synthetic_models):
    root, _ = synthetic_models
    wm = GlobalWorldModel.from_pretrained(root / "wm" / "model").requires_grad_(False)
    L = wm.cfg.context_length
    obs = torch.rand(2, L, 3, 32, 32) * 2 - 1
    act = torch.rand(2, L, 2, requires_grad=True)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    ref = wm.predict_next(obs, act.detach(), g1)
    x = differentiable_next_frame(wm, obs, act, g2)
    assert torch.allclose(x.detach(), ref, atol=1e-5)
    x.sum().backward()
    assert act.grad.abs().sum() > 0  # BPTT: the gradient flows through the sampler to the actions


def test_gradient_cost_bptt_keeps_more_activations_than_fog(synthetic_models):
    root, data = synthetic_models
    cfg = GradientCostConfig(
        data=str(data), world_model=str(root / "wm"), rssm=str(root / "rssm"), envs=2, horizon=3, repeats=1, threads=1
    )
    fog, bptt = measure("fog", cfg), measure("bptt", cfg)
    assert fog["seconds"] > 0 and bptt["seconds"] > 0
    assert bptt["saved_activation_mb"] > 5 * fog["saved_activation_mb"] > 0
