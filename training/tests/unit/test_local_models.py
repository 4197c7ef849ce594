"""The decoupled swap (fog_training.fog) and the local models (fog_training.local_models): forward value
from the global model, gradient from the local model's Jacobian."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training.fog import DecoupledSwap, SwapConfig, decoupled  # noqa: E402
from fog_training.local_models import MLPLocalModel, RSSMLocalModel  # noqa: E402
from fog_worldmodel.rssm import RSSM, RSSMConfig  # noqa: E402


@pytest.mark.parametrize("swap", [decoupled, DecoupledSwap.apply])
def test_swap_value_is_global_gradient_is_local_jacobian(swap):
    # Local model f_hat(s, a) = s^2 + 3a (Jacobians 2s and 3); the "simulator" is something else entirely.
    s = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    a = torch.tensor([0.1, 0.2, -0.3], requires_grad=True)
    local = s**2 + 3 * a
    sim = torch.sin(s.detach()) + 5.0
    nxt = swap(local, sim)
    assert torch.allclose(nxt.detach(), sim, atol=1e-6)
    if swap is DecoupledSwap.apply:
        assert torch.equal(nxt.detach(), sim)  # the custom function is exact
    nxt.sum().backward()
    assert torch.allclose(s.grad, 2 * s.detach())
    assert torch.allclose(a.grad, torch.full((3,), 3.0))


def test_two_step_chain_uses_local_jacobians_at_the_global_states():
    # s1 = swap(f(s0), g1), s2 = swap(f(s1), g2) with f(s) = s^3:
    # ds2/ds0 = 3 g1^2 * 3 s0^2, the Jacobian taken at the *global* s1.
    s0 = torch.tensor(0.7, requires_grad=True)
    g1, g2 = torch.tensor(1.3), torch.tensor(-0.4)
    s1 = decoupled(s0**3, g1)
    s2 = decoupled(s1**3, g2)
    assert s1.item() == pytest.approx(1.3) and s2.item() == pytest.approx(-0.4)
    s2.backward()
    assert s0.grad.item() == pytest.approx(3 * 1.3**2 * 3 * 0.7**2, rel=1e-5)


def test_rssm_step_values_global_gradients_local():
    torch.manual_seed(0)
    rssm = RSSM(
        RSSMConfig(image_size=16, deter=16, stoch=4, classes=4, hidden=16, cnn_depth=4, decoder=False, reward_bins=31)
    )
    local = RSSMLocalModel(rssm, SwapConfig())
    rssm.requires_grad_(False)
    state = local.start(
        {
            "frames": torch.randint(0, 255, (3, 2, 16, 16, 3), dtype=torch.uint8),
            "actions": torch.rand(3, 2, 2),
            "is_first": torch.zeros(3, 2, dtype=torch.bool),
        }
    )
    action = torch.rand(3, 2, requires_grad=True)
    frame = torch.randint(0, 255, (3, 16, 16, 3), dtype=torch.uint8)
    r_global = torch.tensor([0.3, -0.2, 0.9])
    nxt, reward = local.step(state, action, frame, r_global)

    # Values: z is the posterior mode for the global frame, the reward is the global one.
    post, _, _, _ = rssm.obs_step(
        state.model, action.detach(), rssm.encode(frame), torch.zeros(3, dtype=torch.bool), sample=False
    )
    assert torch.equal(nxt.model.stoch.detach(), post.stoch)
    assert torch.allclose(nxt.model.deter.detach(), post.deter)
    assert torch.allclose(reward.detach(), r_global)

    # Gradients: those of the prior probabilities and of the local reward head.
    w = torch.randn_like(nxt.model.stoch)
    (g_z,) = torch.autograd.grad((nxt.model.stoch * w).sum(), action, retain_graph=True)
    a2 = action.detach().clone().requires_grad_(True)
    prior, prior_logits = rssm.img_step(state.model, a2, sample=False)
    (g_ref,) = torch.autograd.grad((torch.softmax(prior_logits, -1) * w).sum(), a2)
    assert torch.allclose(g_z, g_ref, atol=1e-6) and g_z.abs().sum() > 0
    (g_r,) = torch.autograd.grad(reward.sum(), action)
    a3 = action.detach().clone().requires_grad_(True)
    nxt3, _ = local.step(state, a3, frame, r_global)
    (g_r_ref,) = torch.autograd.grad(rssm.reward(rssm.feat(nxt3.model)).sum(), a3)
    assert torch.allclose(g_r, g_r_ref, atol=1e-6)


def test_rssm_switches_local_reward_and_unswapped_latent():
    torch.manual_seed(1)
    rssm = RSSM(
        RSSMConfig(image_size=16, deter=16, stoch=4, classes=4, hidden=16, cnn_depth=4, decoder=False, reward_bins=31)
    )
    frames = {
        "frames": torch.randint(0, 255, (2, 2, 16, 16, 3), dtype=torch.uint8),
        "actions": torch.rand(2, 2, 2),
        "is_first": torch.zeros(2, 2, dtype=torch.bool),
    }
    local = RSSMLocalModel(rssm, SwapConfig(swap_stoch=False, swap_deter=True, reward_value="local"))
    state = local.start(frames)
    assert state.filt is not None
    frame = torch.randint(0, 255, (2, 16, 16, 3), dtype=torch.uint8)
    nxt, reward = local.step(state, torch.rand(2, 2), frame, torch.tensor([5.0, 5.0]))
    assert torch.allclose(reward, rssm.reward(rssm.feat(nxt.model)))  # local value
    assert torch.allclose(nxt.model.deter, nxt.filt.deter)  # h from the filter over global frames


def test_mlp_local_model_swap_jacobian():
    torch.manual_seed(0)
    model = MLPLocalModel(4, 2, hidden=(16,))
    s = torch.randn(1, 4)
    a = torch.randn(1, 2, requires_grad=True)
    sim_next = torch.randn(1, 4)
    nxt, reward = model.step(s, a, sim_next, torch.tensor([0.25]))
    assert torch.equal(nxt.detach(), sim_next) and reward.item() == pytest.approx(0.25)
    jac = torch.stack([torch.autograd.grad(nxt[0, i], a, retain_graph=True)[0][0] for i in range(4)])
    ref = torch.autograd.functional.jacobian(lambda x: model.predict(s, x)[0][0], a.detach())[:, 0]
    assert torch.allclose(jac, ref, atol=1e-6)
