"""fog_worldmodel.global_world_model: normalization, the joint loss, next-frame prediction, save/load."""

import json

import pytest
import torch
from fog_worldmodel.diffusion_sampler import quantize
from fog_worldmodel.global_world_model import FORMAT, GlobalWorldModel

torch.set_num_threads(1)


def batch(b: int = 2, size: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    terminal = torch.zeros(b, 3, dtype=torch.bool)
    terminal[0, -1] = True
    return {
        "frames": torch.randint(0, 256, (b, 5, size, size, 3), dtype=torch.uint8, generator=g),
        "actions": torch.randn(b, 5, 2, generator=g),
        "head_frames": torch.randint(0, 256, (b, 3, size, size, 3), dtype=torch.uint8, generator=g),
        "head_actions": torch.randn(b, 3, 2, generator=g),
        "head_reward": torch.randn(b, 3, generator=g),
        "head_is_terminal": terminal,
    }


def test_sampler_is_seeded_and_quantized(tiny_config):
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config()).eval()
    ctx, act = torch.rand(2, 4, 3, 16, 16) * 2 - 1, torch.randn(2, 4, 2)
    a = m.predict_next(ctx, act, torch.Generator().manual_seed(3))
    b = m.predict_next(ctx, act, torch.Generator().manual_seed(3))
    c = m.predict_next(ctx, act, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (2, 3, 16, 16) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(quantize(a), a)


def test_save_load_round_trip_gives_identical_samples(tmp_path, tiny_config):
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


def test_the_saved_folder_names_its_format_and_another_format_is_refused(tmp_path, tiny_config):
    m = GlobalWorldModel(tiny_config(context_length=3, action_dim=3))
    m.save_pretrained(tmp_path / "model")
    info = json.loads((tmp_path / "model" / "config.json").read_text())
    assert info["format"] == FORMAT and info["config"]["context_length"] == 3
    loaded = GlobalWorldModel.from_pretrained(tmp_path / "model")
    assert loaded.cfg.action_dim == 3 and not loaded.training
    info["format"] = "fog_worldmodel.Rssm/1"
    (tmp_path / "model" / "config.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="holds 'fog_worldmodel.Rssm/1', not a fog_worldmodel.GlobalWorldModel/1"):
        GlobalWorldModel.from_pretrained(tmp_path / "model")


def test_normalization_round_trips_and_floors_the_std(tiny_config):
    m = GlobalWorldModel(tiny_config())
    a = torch.tensor([[1.0, 2.0], [-3.0, 0.5]])
    torch.testing.assert_close(m.normalize_actions(a), a)  # identity before statistics are set
    m.set_normalization({"action": {"mean": [1.0, -2.0], "std": [2.0, 0.0]}, "reward": {"mean": -1.0, "std": 4.0}})
    assert m.action_std.tolist() == pytest.approx([2.0, 1e-6]), "a constant action dimension does not divide by 0"
    torch.testing.assert_close(m.normalize_actions(torch.tensor([[3.0, -2.0]])), torch.tensor([[1.0, 0.0]]))
    r = torch.tensor([-5.0, -1.0, 7.0])
    torch.testing.assert_close(m.normalize_rewards(r), torch.tensor([-1.0, 0.0, 2.0]))
    torch.testing.assert_close(m.denormalize_rewards(m.normalize_rewards(r)), r)
    m.set_normalization({"action": {"mean": [0.0, 0.0], "std": [1.0, 1.0]}, "reward": {"mean": 0.0, "std": 0.0}})
    assert m.reward_std.item() == pytest.approx(1e-6)
    assert {"action_mean", "action_std", "reward_mean", "reward_std"} <= set(m.state_dict()), "saved with the model"


def test_prepare_frames_resizes_uint8_frames_to_the_model(tiny_config):
    m = GlobalWorldModel(tiny_config())
    frames = torch.full((2, 3, 32, 32, 3), 255, dtype=torch.uint8)
    out = m.prepare_frames(frames)
    assert out.shape == (2, 3, 3, 16, 16) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.ones_like(out))
    with pytest.raises(TypeError, match="uint8"):
        m.prepare_frames(frames.float())


def test_joint_loss_is_seeded_weights_the_head_and_trains_both_parts(tiny_config):
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config())
    torch.manual_seed(1)
    loss, metrics = m.compute_loss(batch())
    torch.manual_seed(1)
    again, _ = m.compute_loss(batch())
    assert loss.item() == again.item() and torch.isfinite(loss)
    assert {"loss", "denoiser/loss", "denoiser/x0_mse", "reward_head/reward_mse", "reward_head/termination_bce"} <= set(
        metrics
    )
    hb = batch()  # the head's share: its own loss on the head's part of the batch
    hf = m.prepare_frames(hb["head_frames"])
    h_loss, _ = m.head.compute_loss(
        hf[:, :-1],
        m.normalize_actions(hb["head_actions"][:, :-1]),
        hf[:, 1:],
        m.normalize_rewards(hb["head_reward"][:, :-1]),
        hb["head_is_terminal"][:, 1:],
    )
    assert loss.item() == pytest.approx(metrics["denoiser/loss"] + h_loss.item(), rel=1e-5)
    m.cfg.head_weight = 0.0
    torch.manual_seed(1)
    no_head, metrics0 = m.compute_loss(batch())
    assert no_head.item() == pytest.approx(metrics0["denoiser/loss"], rel=1e-6)
    m.cfg.head_weight = 1.0
    loss.backward()
    assert m.denoiser.inner_model.unet.conv_out.weight.grad.abs().sum() > 0
    assert m.head.reward_out[-1].weight.grad.abs().sum() > 0


def test_predict_next_takes_stacked_context_frames_and_actions_matter(tiny_config):
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config()).eval()
    for p in m.denoiser.inner_model.unet.conv_out.parameters():  # zero-init: make the output depend on inputs
        torch.nn.init.normal_(p, std=0.1)
    ctx = torch.rand(1, 4, 3, 16, 16) * 2 - 1
    a = m.predict_next(ctx, torch.zeros(1, 4, 2), torch.Generator().manual_seed(0))
    b = m.predict_next(ctx, torch.ones(1, 4, 2), torch.Generator().manual_seed(0))
    assert a.shape == (1, 3, 16, 16) and not torch.equal(a, b)
    direct = m.sampler.sample(ctx.reshape(1, 12, 16, 16), torch.zeros(1, 4, 2), torch.Generator().manual_seed(0))
    assert torch.equal(a, direct)
