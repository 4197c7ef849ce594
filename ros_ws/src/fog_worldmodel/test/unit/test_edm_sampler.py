"""EDM maths, the Karras schedule, the UNet inner model and save/load of the global world model."""

import math

import pytest
import torch
from fog_worldmodel.diffusion_sampler import DiffusionSampler, SamplerConfig, karras_sigmas, quantize, to_uint8
from fog_worldmodel.edm_denoiser import Denoiser, EDMConfig, edm_preconditioners
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig
from fog_worldmodel.reward_termination_head import RewardTerminationConfig
from fog_worldmodel.unet_inner_model import InnerModelConfig

torch.set_num_threads(1)


def tiny_config(image_size: int = 16) -> GlobalWorldModelConfig:
    return GlobalWorldModelConfig(
        image_size=image_size,
        inner=InnerModelConfig(
            block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
        ),
        head=RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=16),
    )


@pytest.mark.parametrize("sigma", [0.002, 0.5, 1.0, 5.0, 20.0])
def test_preconditioners_match_hand_computed(sigma):
    sd = 0.5
    c = edm_preconditioners(torch.tensor([sigma]), sd)
    assert c.c_in.item() == pytest.approx(1 / math.sqrt(sigma**2 + sd**2), rel=1e-6)
    assert c.c_skip.item() == pytest.approx(sd**2 / (sigma**2 + sd**2), rel=1e-6)
    assert c.c_out.item() == pytest.approx(sigma * sd / math.sqrt(sigma**2 + sd**2), rel=1e-6)
    assert c.c_noise.item() == pytest.approx(math.log(sigma) / 4, rel=1e-6, abs=1e-7)
    assert c.c_in.shape == (1, 1, 1, 1) and c.c_noise.shape == (1,)


def test_preconditioners_known_numbers():
    # sigma = sigma_data = 0.5: c_skip = 1/2, c_out = 0.25/sqrt(0.5) = 0.35355, c_in = 1.41421, c_noise = ln(0.5)/4
    c = edm_preconditioners(torch.tensor([0.5]), 0.5)
    assert c.c_skip.item() == pytest.approx(0.5)
    assert c.c_out.item() == pytest.approx(0.3535534, rel=1e-6)
    assert c.c_in.item() == pytest.approx(1.4142136, rel=1e-6)
    assert c.c_noise.item() == pytest.approx(-0.1732868, rel=1e-6)


def test_karras_sigmas_three_steps():
    s = karras_sigmas(3, 2e-3, 5.0, 7.0)
    assert s.tolist() == pytest.approx([5.0, 0.283, 0.002, 0.0], abs=5e-4)
    assert s[1].item() == pytest.approx(((5 ** (1 / 7) + 0.002 ** (1 / 7)) / 2) ** 7, rel=1e-6)
    assert SamplerConfig().num_steps == 3


def test_training_noise_distribution():
    inner = torch.nn.Identity()
    d = Denoiser(inner, EDMConfig())
    s = d.sample_sigma(200_000, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert s.min() >= 2e-3 and s.max() <= 20.0
    assert s.log().median().item() == pytest.approx(-0.4, abs=0.02)
    inside = s.log()[(s > 0.01) & (s < 10)]
    assert inside.std().item() == pytest.approx(1.2, abs=0.1)


def test_denoiser_preconditioning_wires_the_network():
    # An inner model that returns a constant k: D = c_skip x + c_out k exactly.
    class Const(torch.nn.Module):
        def forward(self, x, c_noise, obs, act):
            return torch.full_like(x, 0.7)

    d = Denoiser(Const(), EDMConfig())
    x = torch.randn(3, 3, 4, 4)
    sigma = torch.tensor([0.1, 1.0, 5.0])
    c = edm_preconditioners(sigma, 0.5)
    out = d(x, sigma, torch.zeros(3, 12, 4, 4), torch.zeros(3, 4, 2))
    torch.testing.assert_close(out, c.c_skip * x + c.c_out * 0.7)


def test_residual_denoiser_centres_on_the_last_context_frame():
    # residual: D = b + c_skip (x - b) + c_out F(c_in (x - b)), b = the last context frame
    seen = {}

    class Const(torch.nn.Module):
        def forward(self, x, c_noise, obs, act):
            seen["x"] = x
            return torch.full_like(x, 0.7)

    sd = 0.05
    d = Denoiser(Const(), EDMConfig(residual=True, sigma_data=sd))
    ctx = torch.randn(3, 12, 4, 4)
    last = ctx[:, -3:]
    x = torch.randn(3, 3, 4, 4)
    sigma = torch.tensor([0.1, 1.0, 5.0])
    c = edm_preconditioners(sigma, sd)
    out = d(x, sigma, ctx, torch.zeros(3, 4, 2))
    torch.testing.assert_close(out, last + c.c_skip * (x - last) + c.c_out * 0.7)
    torch.testing.assert_close(seen["x"], c.c_in * (x - last))


def test_residual_model_with_a_silent_network_predicts_the_last_frame():
    # F = 0 everywhere: the sampler starts at the last frame + noise and denoises back to it
    class Zero(torch.nn.Module):
        def forward(self, x, c_noise, obs, act):
            return torch.zeros_like(x)

    den = Denoiser(Zero(), EDMConfig(residual=True, sigma_data=0.05))
    den.inner_model.unet = type("U", (), {"config": type("C", (), {"out_channels": 3})()})()
    ctx = quantize(torch.rand(4, 12, 8, 8) * 2 - 1)
    out = DiffusionSampler(den, SamplerConfig()).sample(ctx, torch.zeros(4, 4, 2), torch.Generator().manual_seed(0))
    err = (out - ctx[:, -3:]).abs()
    assert err.mean() < 0.01 and err.max() < 0.06, (err.mean(), err.max())
    # the frame-space denoiser with the same silent network does not: it returns (scaled) noise
    den.cfg = EDMConfig(residual=False, sigma_data=0.05)
    out = DiffusionSampler(den, SamplerConfig()).sample(ctx, torch.zeros(4, 4, 2), torch.Generator().manual_seed(0))
    assert (out - ctx[:, -3:]).abs().mean() > 0.1


def test_uint8_quantization():
    x = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 191, 255, 255]
    assert quantize(x).min() >= -1 and quantize(x).max() <= 1


def test_inner_model_shapes_and_action_conditioning():
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config())
    for p in m.denoiser.inner_model.unet.conv_out.parameters():  # zero-init at start; make the output depend on inputs
        torch.nn.init.normal_(p, std=0.1)
    assert m.denoiser.inner_model.unet.config.in_channels == 3 * (4 + 1)
    assert m.denoiser.inner_model.unet.config.class_embed_type == "identity"
    assert m.denoiser.inner_model.unet.config.resnet_time_scale_shift == "scale_shift"
    x, ctx = torch.randn(2, 3, 16, 16), torch.randn(2, 12, 16, 16)
    a1, a2 = torch.zeros(2, 4, 2), torch.ones(2, 4, 2)
    sigma = torch.tensor([1.0, 1.0])
    y1 = m.denoiser(x, sigma, ctx, a1)
    assert y1.shape == (2, 3, 16, 16) and y1.dtype == torch.float32
    assert (y1 - m.denoiser(x, sigma, ctx, a2)).abs().max() > 1e-4  # actions change the output
    assert (y1 - m.denoiser(x, sigma * 3, ctx, a1)).abs().max() > 1e-4  # so does the noise level


def test_sampler_is_seeded_and_quantized():
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config()).eval()
    ctx, act = torch.rand(2, 4, 3, 16, 16) * 2 - 1, torch.randn(2, 4, 2)
    a = m.predict_next(ctx, act, torch.Generator().manual_seed(3))
    b = m.predict_next(ctx, act, torch.Generator().manual_seed(3))
    c = m.predict_next(ctx, act, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (2, 3, 16, 16) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(quantize(a), a)


def test_euler_loop_matches_hand_written_steps():
    class Fake(Denoiser):  # D(x) = x / 2
        def forward(self, noisy, sigma, obs, act):
            return noisy * 0.5

    fake = Fake(torch.nn.Identity(), EDMConfig())
    fake.inner_model.unet = type("U", (), {"config": type("C", (), {"out_channels": 1})()})()
    sampler = DiffusionSampler(fake, SamplerConfig())
    g = torch.Generator().manual_seed(0)
    out = sampler.sample(torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 1), g)
    x = torch.randn((1, 1, 2, 2), generator=torch.Generator().manual_seed(0)) * 5.0
    sig = [5.0, 0.28308, 0.002, 0.0]
    for s, n in zip(sig[:-1], sig[1:], strict=False):
        x = x + (x - 0.5 * x) / s * (n - s)
    torch.testing.assert_close(out, quantize(x), atol=2 / 255, rtol=0)


def test_differentiable_sample_is_the_same_frame_with_gradients_through_every_step():
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config()).eval()
    ctx = (torch.rand(2, 4, 3, 16, 16) * 2 - 1).reshape(2, -1, 16, 16)
    act = torch.randn(2, 4, 2)
    plain = m.sampler.sample(ctx, act, torch.Generator().manual_seed(3))
    diff = m.sampler.sample_differentiable(ctx, act, torch.Generator().manual_seed(3))
    torch.testing.assert_close(diff.detach(), plain)  # quantized forward: the very same frame
    assert not plain.requires_grad and diff.requires_grad
    diff.sum().backward()
    # every denoiser call is in the graph: the UNet's output layer gets a gradient from each step
    out_layer = m.denoiser.inner_model.unet.conv_out.weight
    assert out_layer.grad is not None and out_layer.grad.abs().sum() > 0, "no gradient through the sampler"


def test_save_load_round_trip_gives_identical_samples(tmp_path):
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config())
    for p in m.parameters():
        p.data.add_(0.01 * torch.randn_like(p))
    m.set_normalization({"action": {"mean": [0.5, -1.0], "std": [2.0, 3.0]}, "reward": {"mean": 0.1, "std": 0.2}})
    m.save_pretrained(tmp_path / "model")
    m2 = GlobalWorldModel.from_pretrained(tmp_path / "model")
    assert m2.cfg == m.cfg
    torch.testing.assert_close(m2.action_std, torch.tensor([2.0, 3.0]))
    m.eval()
    ctx, act = torch.rand(2, 4, 3, 16, 16) * 2 - 1, torch.randn(2, 4, 2)
    a = m.predict_next(ctx, act, torch.Generator().manual_seed(7))
    b = m2.predict_next(ctx, act, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert (tmp_path / "model" / "model.safetensors").exists() and (tmp_path / "model" / "config.json").exists()
