"""fog_worldmodel.diffusion_sampler: the Karras schedule, uint8 quantization and the Euler sampler."""

import pytest
import torch
from fog_worldmodel.diffusion_sampler import (
    DiffusionSampler,
    SamplerConfig,
    from_uint8,
    karras_sigmas,
    quantize,
    to_uint8,
)
from fog_worldmodel.edm_denoiser import Denoiser, EDMConfig
from fog_worldmodel.global_world_model import GlobalWorldModel

torch.set_num_threads(1)


def with_out_channels(den: Denoiser, channels: int) -> Denoiser:
    """The sampler reads the frame's channels from the UNet's config; a stand-in for a hand-made network."""
    den.inner_model.unet = type("U", (), {"config": type("C", (), {"out_channels": channels})()})()
    return den


class Mix(torch.nn.Module):
    """A small real network: F = conv(x) + mean(context) + action sum (so every input matters)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.calls = 0

    def forward(self, x, c_noise, obs, act):
        self.calls += 1
        return self.conv(x) + obs.mean(1, keepdim=True) + act.sum((1, 2)).view(-1, 1, 1, 1) + c_noise.view(-1, 1, 1, 1)


def test_karras_sigmas_three_steps():
    s = karras_sigmas(3, 2e-3, 5.0, 7.0)
    assert s.tolist() == pytest.approx([5.0, 0.283, 0.002, 0.0], abs=5e-4)
    assert s[1].item() == pytest.approx(((5 ** (1 / 7) + 0.002 ** (1 / 7)) / 2) ** 7, rel=1e-6)
    assert SamplerConfig().num_steps == 3


def test_karras_sigmas_one_step_many_steps_and_a_refusal():
    assert karras_sigmas(1, 2e-3, 5.0, 7.0).tolist() == pytest.approx([5.0, 0.0])
    s = karras_sigmas(10, 0.01, 80.0, 7.0)
    assert s.shape == (11,) and s.dtype == torch.float32
    assert s[0].item() == pytest.approx(80.0) and s[-2].item() == pytest.approx(0.01) and s[-1] == 0
    assert bool((s[1:] < s[:-1]).all()), "strictly decreasing"
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        karras_sigmas(0, 2e-3, 5.0, 7.0)


def test_sampler_sigmas_follow_its_config():
    cfg = SamplerConfig(num_steps=5, sigma_min=0.01, sigma_max=2.0, rho=3.0)
    sampler = DiffusionSampler(Denoiser(torch.nn.Identity(), EDMConfig()), cfg)
    torch.testing.assert_close(sampler.sigmas(), karras_sigmas(5, 0.01, 2.0, 3.0))


def test_uint8_quantization():
    x = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 191, 255, 255]
    assert quantize(x).min() >= -1 and quantize(x).max() <= 1


def test_uint8_round_trip_is_exact_and_quantize_is_idempotent():
    levels = torch.arange(256, dtype=torch.uint8)
    f = from_uint8(levels)
    assert f.dtype == torch.float32 and f[0] == -1 and f[-1] == 1
    assert torch.equal(to_uint8(f), levels)
    x = torch.rand(1000) * 2 - 1
    q = quantize(x)
    assert torch.equal(quantize(q), q) and (q - x).abs().max() <= 1 / 127.5 / 2 + 1e-6


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


def test_sample_is_seeded_shaped_quantized_and_calls_the_network_once_per_step():
    torch.manual_seed(0)
    inner = Mix()
    den = with_out_channels(Denoiser(inner, EDMConfig()), 3)
    ctx, act = torch.rand(2, 12, 6, 6) * 2 - 1, torch.randn(2, 4, 2)
    for steps in (1, 4):
        sampler = DiffusionSampler(den, SamplerConfig(num_steps=steps))
        inner.calls = 0
        a = sampler.sample(ctx, act, torch.Generator().manual_seed(3))
        assert inner.calls == steps
        assert a.shape == (2, 3, 6, 6) and a.dtype == torch.float32 and not a.requires_grad
        assert a.min() >= -1 and a.max() <= 1 and torch.equal(quantize(a), a)
        assert torch.equal(a, sampler.sample(ctx, act, torch.Generator().manual_seed(3)))
        assert not torch.equal(a, sampler.sample(ctx, act, torch.Generator().manual_seed(4)))
        assert not torch.equal(a, sampler.sample(ctx, -act, torch.Generator().manual_seed(3))), "actions count"


def test_sample_without_a_generator_uses_the_global_seed():
    den = with_out_channels(Denoiser(Mix(), EDMConfig()), 3)
    sampler = DiffusionSampler(den, SamplerConfig())
    ctx, act = torch.zeros(1, 12, 4, 4), torch.zeros(1, 4, 2)
    torch.manual_seed(9)
    a = sampler.sample(ctx, act)
    torch.manual_seed(9)
    assert torch.equal(a, sampler.sample(ctx, act))


def test_differentiable_sample_is_the_same_frame_with_gradients_through_every_step(tiny_config):
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


def test_differentiable_sample_passes_the_gradient_straight_through_the_quantization():
    inner = Mix()
    den = with_out_channels(Denoiser(inner, EDMConfig(residual=True)), 3)
    ctx = (torch.rand(1, 12, 4, 4) * 2 - 1).requires_grad_(True)
    out = DiffusionSampler(den, SamplerConfig(num_steps=2)).sample_differentiable(
        ctx, torch.zeros(1, 4, 2), torch.Generator().manual_seed(0)
    )
    assert torch.equal(quantize(out.detach()), out.detach())
    out.sum().backward()
    assert ctx.grad is not None and ctx.grad[:, -3:].abs().sum() > 0, "the last context frame is the base"
    assert inner.conv.weight.grad is not None and inner.conv.weight.grad.abs().sum() > 0
