"""RSSM: state handling, straight-through gradients, KL balancing with free bits, heads, persistence."""

import pytest
import torch
from fog_worldmodel.rssm import (
    RSSM,
    RSSMConfig,
    RSSMState,
    kl_balanced_loss,
    kl_categorical,
    prev_actions_from,
    symexp,
    symlog,
    twohot,
)

torch.set_num_threads(1)


def tiny(**kw) -> RSSM:
    torch.manual_seed(0)
    return RSSM(
        RSSMConfig(
            image_size=16, deter=24, stoch=4, classes=5, hidden=24, cnn_depth=4, decoder_depth=4, reward_bins=31, **kw
        )
    )


def batch(b=2, t=6, hw=16):
    g = torch.Generator().manual_seed(0)
    is_first = torch.zeros(b, t, dtype=torch.bool)
    is_first[:, 0] = True
    is_first[0, 3] = True
    return {
        "image": torch.randint(0, 256, (b, t, hw, hw, 3), dtype=torch.uint8, generator=g),
        "action": torch.randn(b, t, 2, generator=g),
        "reward": torch.randn(b, t, generator=g),
        "is_first": is_first,
        "is_terminal": torch.zeros(b, t, dtype=torch.bool),
    }


def test_state_shapes_and_steps():
    m = tiny()
    s = m.initial_state(3)
    assert isinstance(s, RSSMState) and s.deter.shape == (3, 24) and s.stoch.shape == (3, 4, 5)
    s2, logits = m.img_step(s, torch.randn(3, 2))
    assert s2.deter.shape == (3, 24) and logits.shape == (3, 4, 5)
    assert torch.allclose(s2.stoch.sum(-1), torch.ones(3, 4))  # one-hot (value) per latent
    emb = m.encode(torch.randint(0, 256, (3, 16, 16, 3), dtype=torch.uint8))
    post, prior, pl, ql = m.obs_step(s2, torch.randn(3, 2), emb, torch.tensor([True, False, False]))
    assert post.stoch.shape == (3, 4, 5) and torch.equal(post.deter, prior.deter)
    assert m.feat(post).shape == (3, 24 + 20)


def test_unimix_keeps_every_class_possible():
    m = tiny()
    with torch.no_grad():  # a prior net that is certain: class 0 of every latent
        m.prior_net[-1].weight.zero_()
        m.prior_net[-1].bias.copy_(torch.tensor([100.0, -100, -100, -100, -100] * 4))
    logits = m.prior_logits(torch.randn(1, 24))
    probs = logits.softmax(-1)
    assert probs.min().item() == pytest.approx(0.01 / 5, rel=1e-3)


def test_public_step_pieces_compose_img_step_and_obs_step():
    """recurrent_step, prior_logits, posterior_logits, sample_latent: exactly what the steps compute."""
    m = tiny()
    m.set_normalization({"action": {"mean": [0.5, -0.5], "std": [2.0, 2.0]}})
    s = RSSMState(torch.randn(3, 24), torch.nn.functional.one_hot(torch.randint(0, 5, (3, 4)), 5).float())
    a = torch.randn(3, 2)
    emb = torch.randn(3, m.embed_dim)
    prior, prior_logits = m.img_step(s, a, sample=False)
    deter = m.recurrent_step(s, a)
    assert torch.equal(deter, prior.deter) and torch.equal(m.prior_logits(deter), prior_logits)
    assert torch.equal(m.sample_latent(prior_logits, False), prior.stoch)
    post, _, post_logits, _ = m.obs_step(s, a, emb, torch.zeros(3, dtype=torch.bool), sample=False)
    assert torch.equal(m.posterior_logits(deter, emb), post_logits)
    assert torch.equal(m.sample_latent(post_logits, False), post.stoch)
    torch.manual_seed(5)
    drawn = m.sample_latent(prior_logits, True)
    torch.manual_seed(5)
    assert torch.equal(m.img_step(s, a, sample=True)[0].stoch, drawn)  # same draws from the same generator


def test_is_first_resets_state():
    m = tiny()
    emb = torch.randn(1, m.embed_dim)
    a = torch.randn(1, 2)
    busy = RSSMState(torch.randn(1, 24), torch.nn.functional.one_hot(torch.randint(0, 5, (1, 4)), 5).float())
    p1, _, l1, _ = m.obs_step(busy, a, emb, torch.tensor([True]), sample=False)
    p2, _, l2, _ = m.obs_step(m.initial_state(1), torch.zeros(1, 2), emb, torch.tensor([True]), sample=False)
    torch.testing.assert_close(p1.deter, p2.deter)
    torch.testing.assert_close(l1, l2)


def test_observe_and_imagine_shapes_and_carry():
    m = tiny()
    b = batch()
    prev = prev_actions_from(b["action"], b["is_first"])
    assert torch.equal(prev[:, 1], b["action"][:, 0]) and prev[0, 3].abs().sum() == 0
    posts, priors, pl, ql = m.observe(b["image"], prev, b["is_first"], sample=False)
    assert posts.deter.shape == (2, 6, 24) and pl.shape == (2, 6, 4, 5)
    # Chunked observation with the carried state equals one pass.
    p1, _, _, _ = m.observe(b["image"][:, :3], prev[:, :3], b["is_first"][:, :3], sample=False)
    carry = RSSMState(p1.deter[:, -1], p1.stoch[:, -1])
    p2, _, _, _ = m.observe(b["image"][:, 3:], prev[:, 3:], b["is_first"][:, 3:], carry, sample=False)
    torch.testing.assert_close(torch.cat([p1.deter, p2.deter], 1), posts.deter)
    states, logits = m.imagine(carry, torch.randn(2, 7, 2))
    assert states.deter.shape == (2, 7, 24) and states.stoch.shape == (2, 7, 4, 5) and logits.shape == (2, 7, 4, 5)
    assert m.reward(m.feat(states)).shape == (2, 7) and m.cont(m.feat(states)).shape == (2, 7)


def test_straight_through_gradient_flows_to_logits():
    m = tiny()
    logits = torch.randn(3, 4, 5, requires_grad=True)
    sample = m.sample_latent(logits, sample=True)
    assert torch.allclose(sample.detach().sum(-1), torch.ones(3, 4))
    v = sample.detach()
    assert torch.all((v.abs() < 1e-6) | ((v - 1).abs() < 1e-6))
    (sample * torch.randn(3, 4, 5)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    # and through the whole imagination to the GRU weights, from a reward at the end
    s = m.initial_state(2)
    states, _ = m.imagine(s, torch.randn(2, 4, 2))
    m.reward_head[-1].weight.data.normal_()
    m.reward(m.feat(states))[:, -1].sum().backward()
    assert m.prior_net[0].weight.grad.abs().sum() > 0 and m.gru.linear.weight.grad.abs().sum() > 0


def test_kl_free_bits():
    prior = torch.zeros(2, 4, 5, requires_grad=True)
    near = prior.detach() + 0.01 * torch.randn(2, 4, 5)
    loss, m = kl_balanced_loss(near.requires_grad_(), prior, free_nats=1.0, dyn_scale=1.0, rep_scale=0.1)
    assert loss.item() == pytest.approx(1.1)  # both terms clipped at the free bits
    loss.backward()
    assert prior.grad.abs().sum() == 0  # no gradient below the free bits
    far_post = torch.randn(2, 4, 5) * 5
    prior2 = torch.zeros(2, 4, 5, requires_grad=True)
    post2 = far_post.clone().requires_grad_()
    loss2, m2 = kl_balanced_loss(post2, prior2, 1.0, 1.0, 0.1)
    kl = kl_categorical(far_post, torch.zeros(2, 4, 5))
    assert kl.min() > 1.0
    assert loss2.item() == pytest.approx(1.1 * kl.mean().item(), rel=1e-5)
    loss2.backward()
    assert prior2.grad.abs().sum() > 0 and post2.grad.abs().sum() > 0
    # balancing: dyn (weight 1) only trains the prior, rep (weight 0.1) only the posterior
    prior3 = torch.zeros(2, 4, 5, requires_grad=True)
    post3 = far_post.clone().requires_grad_()
    kl_balanced_loss(post3, prior3, 1.0, 1.0, 0.0)[0].backward()
    assert post3.grad.abs().sum() == 0 and prior3.grad.abs().sum() > 0


def test_symlog_twohot():
    x = torch.tensor([-30.0, -2.5, 0.0, 0.3, 7.0])
    torch.testing.assert_close(symexp(symlog(x)), x)
    bins = torch.linspace(-20, 20, 41)
    th = twohot(symlog(x), bins)
    torch.testing.assert_close(th.sum(-1), torch.ones(5))
    torch.testing.assert_close((th * bins).sum(-1), symlog(x).clamp(-20, 20))


def test_compute_loss_and_backward():
    m = tiny()
    loss, metrics = m.compute_loss(batch())
    assert torch.isfinite(loss) and {"rssm/kl", "rssm/reward_nll", "rssm/cont_bce", "rssm/recon_sse"} <= set(metrics)
    loss.backward()
    assert all(
        p.grad is not None for n, p in m.named_parameters() if not n.startswith("decoder") or m.decoder is not None
    )


def test_save_load_round_trip(tmp_path):
    m = tiny()
    m.set_normalization({"action": {"mean": [1.0, 2.0], "std": [3.0, 4.0]}})
    m.save_pretrained(tmp_path / "rssm")
    m2 = RSSM.from_pretrained(tmp_path / "rssm")
    b = batch()
    prev = prev_actions_from(b["action"], b["is_first"])
    p1 = m.eval().observe(b["image"], prev, b["is_first"], sample=False)[0]
    p2 = m2.observe(b["image"], prev, b["is_first"], sample=False)[0]
    torch.testing.assert_close(p1.deter, p2.deter)


def test_policy_step_path_exports_to_onnx(tmp_path):
    """encode + obs_step (the on-robot filter step) exports with the TorchScript exporter and matches onnxruntime."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import warnings

    import numpy as np

    m = tiny().eval()
    m.set_normalization({"action": {"mean": [0.5, -0.5], "std": [2.0, 2.0]}})

    class Step(torch.nn.Module):
        def __init__(self, rssm):
            super().__init__()
            self.rssm = rssm

        def forward(self, image, deter, stoch, prev_action, is_first):
            post, _, _, _ = self.rssm.obs_step(
                RSSMState(deter, stoch), prev_action, self.rssm.encode(image), is_first, sample=False
            )
            return post.deter, post.stoch

    g = torch.Generator().manual_seed(0)
    args = (
        torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8, generator=g),
        torch.randn(2, 24, generator=g),
        torch.nn.functional.one_hot(torch.randint(0, 5, (2, 4), generator=g), 5).float(),
        torch.randn(2, 2, generator=g),
        torch.tensor([False, True]),
    )
    names = ["image", "deter", "stoch", "prev_action", "is_first"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Step(m), args, str(tmp_path / "step.onnx"), dynamo=False, input_names=names, opset_version=17)
    feeds = {k: v.numpy() for k, v in zip(names, args, strict=True)}
    out = ort.InferenceSession(str(tmp_path / "step.onnx")).run(None, feeds)
    ref = Step(m)(*args)
    for o, r in zip(out, ref, strict=False):
        np.testing.assert_allclose(o, r.detach().numpy(), atol=1e-4)
