"""fog_worldmodel.edm_denoiser: EDM preconditioning, training noise levels, the (residual) denoiser and its loss."""

import math

import pytest
import torch
import torch.nn.functional as F
from fog_worldmodel.edm_denoiser import Denoiser, EDMConfig, edm_preconditioners

torch.set_num_threads(1)


class Const(torch.nn.Module):
    """An inner model that returns a constant k (with one parameter, so gradients have somewhere to go)."""

    def __init__(self, k: float = 0.7) -> None:
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(k))
        self.seen = {}

    def forward(self, x, c_noise, obs, act):
        self.seen.update(x=x, c_noise=c_noise, obs=obs, act=act)
        return torch.ones_like(x) * self.k


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


def test_preconditioners_are_float32_per_sample_and_keep_unit_variance():
    sigma = torch.tensor([0.01, 0.3, 3.0, 30.0], dtype=torch.float64)
    c = edm_preconditioners(sigma, 0.2)
    assert all(t.dtype == torch.float32 for t in c)
    assert c.c_skip.shape == c.c_out.shape == (4, 1, 1, 1)
    # unit-variance network input (c_in^2 (sigma^2 + sigma_data^2) = 1) and c_out^2 = sigma^2 c_skip
    s2 = sigma.float() ** 2
    torch.testing.assert_close(c.c_in.flatten() ** 2 * (s2 + 0.2**2), torch.ones(4))
    torch.testing.assert_close(c.c_out.flatten() ** 2, s2 * c.c_skip.flatten())
    assert c.c_skip[0] > 0.99 and c.c_skip[-1] < 1e-3, "low noise keeps the input, high noise predicts"


def test_training_noise_distribution():
    inner = torch.nn.Identity()
    d = Denoiser(inner, EDMConfig())
    s = d.sample_sigma(200_000, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert s.min() >= 2e-3 and s.max() <= 20.0
    assert s.log().median().item() == pytest.approx(-0.4, abs=0.02)
    inside = s.log()[(s > 0.01) & (s < 10)]
    assert inside.std().item() == pytest.approx(1.2, abs=0.1)


def test_sample_sigma_is_seeded_and_clipped_to_the_configured_range():
    d = Denoiser(torch.nn.Identity(), EDMConfig(loc=0.0, scale=10.0, sigma_min=0.1, sigma_max=2.0))
    a = d.sample_sigma(1000, torch.device("cpu"), torch.Generator().manual_seed(1))
    b = d.sample_sigma(1000, torch.device("cpu"), torch.Generator().manual_seed(1))
    c = d.sample_sigma(1000, torch.device("cpu"), torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (1000,) and a.min() == pytest.approx(0.1) and a.max() == pytest.approx(2.0)
    assert ((a == a.min()) | (a == a.max())).float().mean() > 0.8, "a scale of 10 clips most draws"


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


def test_base_is_zero_or_the_last_context_frame():
    ctx = torch.arange(2 * 6 * 2 * 2, dtype=torch.float64).reshape(2, 6, 2, 2)
    assert Denoiser(Const(), EDMConfig()).base(ctx, 3) == 0.0
    base = Denoiser(Const(), EDMConfig(residual=True)).base(ctx, 3)
    assert base.dtype == torch.float32
    torch.testing.assert_close(base, ctx[:, 3:].float())


def test_a_scalar_sigma_is_used_for_the_whole_batch_and_the_context_passes_unchanged():
    inner = Const()
    d = Denoiser(inner, EDMConfig())
    x, ctx, act = torch.randn(4, 3, 2, 2), torch.randn(4, 6, 2, 2), torch.randn(4, 2, 3)
    out = d(x, torch.tensor(0.8), ctx, act)
    torch.testing.assert_close(out, d(x, torch.full((4,), 0.8), ctx, act))
    assert inner.seen["c_noise"].shape == (4,) and inner.seen["obs"] is ctx and inner.seen["act"] is act
    torch.testing.assert_close(inner.seen["c_noise"], torch.full((4,), math.log(0.8) / 4))


def test_loss_is_the_mse_to_the_preconditioned_target_and_its_gradient_reaches_the_network():
    torch.manual_seed(0)
    target, ctx = torch.rand(3, 3, 4, 4) * 2 - 1, torch.rand(3, 6, 4, 4) * 2 - 1
    for residual in (False, True):
        cfg = EDMConfig(residual=residual)
        inner = Const(0.3)
        d = Denoiser(inner, cfg)
        torch.manual_seed(5)
        loss, metrics = d.compute_loss(ctx, torch.zeros(3, 2, 2), target)
        # the same draws by hand: sigma from the log-normal, then the noise
        torch.manual_seed(5)
        sigma = (torch.randn(3) * cfg.scale + cfg.loc).exp().clamp(cfg.sigma_min, cfg.sigma_max)
        noisy = target + torch.randn_like(target) * sigma.view(-1, 1, 1, 1)
        base = ctx[:, -3:] if residual else 0.0
        c = edm_preconditioners(sigma, cfg.sigma_data)
        goal = ((target - base) - c.c_skip * (noisy - base)) / c.c_out
        assert loss.item() == pytest.approx(F.mse_loss(torch.full_like(goal, 0.3), goal).item(), rel=1e-5)
        assert set(metrics) == {"denoiser/loss", "denoiser/x0_mse"} and metrics["denoiser/loss"] == loss.item()
        denoised = base + c.c_skip * (noisy - base) + c.c_out * 0.3
        assert metrics["denoiser/x0_mse"] == pytest.approx(F.mse_loss(denoised, target).item(), rel=1e-5)
        loss.backward()
        assert inner.k.grad is not None and inner.k.grad != 0


def test_offset_noise_changes_the_training_input_only_when_asked():
    target, ctx, act = torch.zeros(2, 3, 4, 4), torch.zeros(2, 6, 4, 4), torch.zeros(2, 2, 2)
    seen = []
    for offset in (0.0, 0.0, 0.3):
        inner = Const()
        torch.manual_seed(3)
        Denoiser(inner, EDMConfig(sigma_offset_noise=offset)).compute_loss(ctx, act, target)
        seen.append(inner.seen["x"])
    assert torch.equal(seen[0], seen[1]), "the loss is deterministic under a seed"
    assert not torch.equal(seen[0], seen[2])
