"""fog_worldmodel.reward_termination_head: the frame-pair encoder + GRU that predicts reward and termination."""

import pytest
import torch
import torch.nn.functional as F
from fog_worldmodel.reward_termination_head import RewardTerminationConfig, RewardTerminationHead

torch.set_num_threads(1)

CFG = RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=12)


def head(seed: int = 0, image_size: int = 16, cfg: RewardTerminationConfig = CFG) -> RewardTerminationHead:
    torch.manual_seed(seed)
    return RewardTerminationHead(cfg, image_size=image_size, action_dim=2)


def sequence(b: int = 2, t: int = 5, size: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(b, t + 1, 3, size, size, generator=g) * 2 - 1
    return frames[:, :-1], torch.randn(b, t, 2, generator=g), frames[:, 1:]


def convs(h: RewardTerminationHead) -> list[torch.nn.Conv2d]:
    return [m for m in h.encoder if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("size", [4, 12, 24, 20])
def test_refuses_an_image_size_that_does_not_halve_down_to_4x4(size):
    with pytest.raises(ValueError, match=f"image_size must be 4 \\* 2\\^k with k >= 1, got {size}"):
        head(image_size=size)


def test_encoder_halves_down_to_4x4_repeating_the_last_channel_count():
    assert [c.out_channels for c in convs(head(image_size=8))] == [8]
    assert [c.out_channels for c in convs(head(image_size=64))] == [8, 8, 8, 8]
    big = head(image_size=64, cfg=RewardTerminationConfig(channels=(4, 6), embed_dim=16, hidden_dim=12))
    assert [c.out_channels for c in convs(big)] == [4, 6, 6, 6]
    assert convs(big)[0].in_channels == 6, "the two frames of a transition, stacked"
    assert big.encoder(torch.zeros(3, 6, 64, 64)).shape == (3, 16)


def test_step_and_forward_shapes_and_the_initial_state():
    h = head()
    assert torch.equal(h.initial_state(3), torch.zeros(3, 12))
    obs, act, nxt = sequence(b=3, t=4)
    r, logit, hidden = h.step(obs[:, 0], act[:, 0], nxt[:, 0], h.initial_state(3))
    assert r.shape == logit.shape == (3,) and hidden.shape == (3, 12)
    assert r.dtype == logit.dtype == torch.float32
    rs, logits, last = h(obs, act, nxt)
    assert rs.shape == logits.shape == (3, 4) and last.shape == (3, 12)


def test_forward_over_a_sequence_equals_stepping_one_transition_at_a_time():
    h = head().eval()
    obs, act, nxt = sequence()
    rs, logits, last = h(obs, act, nxt)
    hidden = h.initial_state(2)
    for i in range(obs.shape[1]):
        r, logit, hidden = h.step(obs[:, i], act[:, i], nxt[:, i], hidden)
        torch.testing.assert_close(r, rs[:, i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logit, logits[:, i], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hidden, last, atol=1e-5, rtol=1e-5)


def test_the_hidden_state_carries_across_calls_and_matters():
    h = head().eval()
    obs, act, nxt = sequence(t=6)
    rs, _, last = h(obs, act, nxt)
    _, _, mid = h(obs[:, :3], act[:, :3], nxt[:, :3])
    rs2, _, last2 = h(obs[:, 3:], act[:, 3:], nxt[:, 3:], hidden=mid)
    torch.testing.assert_close(rs2, rs[:, 3:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(last2, last, atol=1e-5, rtol=1e-5)
    fresh, _, _ = h(obs[:, 3:], act[:, 3:], nxt[:, 3:])
    assert (fresh - rs[:, 3:]).abs().max() > 1e-6, "the recurrent core remembers earlier transitions"


def test_outputs_depend_on_the_frames_and_the_action_and_are_seeded():
    h = head()
    obs, act, nxt = sequence()
    rs, logits, _ = h(obs, act, nxt)
    assert (h(obs, -act, nxt)[0] - rs).abs().max() > 1e-6
    assert (h(obs, act, -nxt)[1] - logits).abs().max() > 1e-6
    assert torch.equal(head(seed=0)(obs, act, nxt)[0], rs)
    assert not torch.equal(head(seed=1)(obs, act, nxt)[0], rs)


def test_loss_is_reward_mse_plus_weighted_termination_bce_and_trains_every_part():
    cfg = RewardTerminationConfig(
        channels=(8, 8), embed_dim=16, hidden_dim=12, termination_weight=0.5, termination_pos_weight=4.0
    )
    h = head(cfg=cfg)
    obs, act, nxt = sequence()
    reward = torch.randn(2, 5)
    terminal = torch.zeros(2, 5, dtype=torch.bool)
    terminal[1, -1] = True
    loss, metrics = h.compute_loss(obs, act, nxt, reward, terminal)
    with torch.no_grad():
        pred, logit, _ = h(obs, act, nxt)
    mse = F.mse_loss(pred, reward).item()
    bce = F.binary_cross_entropy_with_logits(logit, terminal.float(), pos_weight=torch.tensor(4.0)).item()
    assert metrics == pytest.approx({"reward_head/reward_mse": mse, "reward_head/termination_bce": bce}, rel=1e-5)
    assert loss.item() == pytest.approx(mse + 0.5 * bce, rel=1e-5)
    loss.backward()
    for part in (h.encoder, h.act_emb, h.core, h.reward_out, h.done_out):
        assert all(p.grad is not None for p in part.parameters()), part
        assert sum(p.grad.abs().sum() for p in part.parameters()) > 0, part


def test_a_few_steps_of_training_fit_a_constant_reward():
    h = head()
    obs, act, nxt = sequence()
    reward, terminal = torch.full((2, 5), 1.5), torch.zeros(2, 5)
    opt = torch.optim.Adam(h.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss, metrics = h.compute_loss(obs, act, nxt, reward, terminal)
        first = metrics if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert metrics["reward_head/reward_mse"] < 0.1 * first["reward_head/reward_mse"], (first, metrics)
    assert metrics["reward_head/termination_bce"] < first["reward_head/termination_bce"]
