"""fog_worldmodel.unet_inner_model: Fourier features and the conditioned UNet inside the denoiser."""

import math

import pytest
import torch
from fog_worldmodel.global_world_model import GlobalWorldModel
from fog_worldmodel.unet_inner_model import FourierFeatures, InnerModel, InnerModelConfig

torch.set_num_threads(1)

TINY = InnerModelConfig(
    block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
)


def tiny_inner(seed: int = 0, **kw) -> InnerModel:
    torch.manual_seed(seed)
    return InnerModel(kw.pop("cfg", TINY), image_size=8, context_length=2, action_dim=3, **kw)


def inputs(b: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, 8, 8, generator=g)
    c_noise = torch.randn(b, generator=g)
    obs = torch.rand(b, 6, 8, 8, generator=g) * 2 - 1
    act = torch.randn(b, 2, 3, generator=g)
    return x, c_noise, obs, act


def test_inner_model_shapes_and_action_conditioning(tiny_config):
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


def test_fourier_features_are_unit_cos_sin_pairs_of_a_fixed_frequency():
    torch.manual_seed(0)
    ff = FourierFeatures(8)
    x = torch.tensor([0.0, 0.25, -1.5])
    out = ff(x)
    assert out.shape == (3, 8)
    torch.testing.assert_close(out[:, :4] ** 2 + out[:, 4:] ** 2, torch.ones(3, 4))
    torch.testing.assert_close(out[0], torch.cat([torch.ones(4), torch.zeros(4)]))  # x = 0: cos 1, sin 0
    w = ff.weight.flatten()
    torch.testing.assert_close(out[1, :4], torch.cos(2 * math.pi * 0.25 * w))
    assert "weight" in dict(ff.named_buffers()) and not list(ff.parameters()), "a fixed buffer, not trained"
    with pytest.raises(ValueError, match="even"):
        FourierFeatures(7)


def test_inner_model_refuses_inconsistent_configs():
    with pytest.raises(ValueError, match="attention_levels needs 2 entries"):
        tiny_inner(cfg=InnerModelConfig(block_out_channels=(8, 16), attention_levels=(False,), norm_num_groups=4))
    with pytest.raises(ValueError, match="norm_num_groups 3 must divide"):
        tiny_inner(cfg=InnerModelConfig(block_out_channels=(8, 16), attention_levels=(False, False), norm_num_groups=3))


def test_inner_model_starts_as_predict_zero_with_the_right_unet_wiring():
    m = tiny_inner()
    cfg = m.unet.config
    assert cfg.in_channels == 3 * (2 + 1) and cfg.out_channels == 3 and cfg.sample_size == 8
    assert cfg.down_block_types == ("DownBlock2D", "DownBlock2D")
    out = m(*inputs())
    assert out.shape == (2, 3, 8, 8) and torch.equal(out, torch.zeros_like(out))
    attn = tiny_inner(
        cfg=InnerModelConfig(block_out_channels=(8, 16), attention_levels=(False, True), norm_num_groups=4)
    )
    assert attn.unet.config.down_block_types == ("DownBlock2D", "AttnDownBlock2D")
    assert attn.unet.config.up_block_types == ("AttnUpBlock2D", "UpBlock2D")


def test_inner_model_is_deterministic_under_a_seed():
    a, b, c = tiny_inner(0), tiny_inner(0), tiny_inner(1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    for m in (a, b):
        torch.nn.init.normal_(m.unet.conv_out.weight, std=0.1, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a(*inputs()), b(*inputs()))


def test_every_input_conditions_the_output_and_gradients_reach_every_part():
    m = tiny_inner()
    torch.nn.init.normal_(m.unet.conv_out.weight, std=0.1)
    x, c_noise, obs, act = inputs()
    y = m(x, c_noise, obs, act)
    changes = [(x + 1, c_noise, obs, act), (x, c_noise + 1, obs, act), (x, c_noise, -obs, act)]
    changes.append((x, c_noise, obs, act + 1))
    for changed in changes:
        assert (m(*changed) - y).abs().max() > 1e-5
    y.pow(2).mean().backward()
    for part in (m.act_emb, m.cond_proj, m.unet.conv_in, m.unet.conv_out):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0, part
    # each sample's output depends on its own inputs only
    y2 = m(x[:1], c_noise[:1], obs[:1], act[:1])
    torch.testing.assert_close(y2, y[:1].detach(), atol=1e-5, rtol=1e-4)
