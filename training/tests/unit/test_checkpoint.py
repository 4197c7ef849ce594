"""Training checkpoints (fog_training.checkpoint): one safetensors file round-trips the model, the
optimizer (tensor and plain state), the scheduler, both RNGs and the config; a foreign file is refused."""


import numpy as np
import pytest
import torch
from fog_training.checkpoint import CHECKPOINT_NAME, checkpoint_path, load_checkpoint, save_checkpoint

torch.set_num_threads(1)


def _trained_parts():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5**s)
    for _ in range(3):
        loss = model(torch.randn(4, 3)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_checkpoint_path_is_the_run_folders_file(tmp_path):
    assert checkpoint_path(tmp_path) == tmp_path / CHECKPOINT_NAME == tmp_path / "checkpoint.safetensors"


def test_round_trip_restores_model_optimizer_scheduler_and_rngs(tmp_path):
    model, opt, sched = _trained_parts()
    rng = np.random.default_rng(7)
    rng.integers(0, 10, 5)
    config = {"loop": {"steps": 10}, "name": "lin"}
    path = checkpoint_path(tmp_path)
    torch_state = torch.get_rng_state()
    save_checkpoint(path, step=3, config=config, model=model, optimizer=opt, scheduler=sched, numpy_rng=rng)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME], "no temporary file left beside it"

    ck = load_checkpoint(path)
    assert ck.step == 3 and ck.config == config
    assert set(ck.model_state) == {"weight", "bias"}
    for k, v in model.state_dict().items():
        assert torch.equal(ck.model_state[k], v), k
    assert torch.equal(ck.torch_rng, torch_state)
    restored = np.random.default_rng()
    restored.bit_generator.state = ck.numpy_rng
    assert np.array_equal(restored.integers(0, 1000, 8), rng.integers(0, 1000, 8))

    # a fresh optimizer and scheduler loaded from it (as train_loop does: the schedule built first, since
    # building it sets the learning rate) step exactly like the saved ones
    model2 = torch.nn.Linear(3, 2)
    model2.load_state_dict(ck.model_state)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-2)
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 0.5**s)
    opt2.load_state_dict(ck.optim_state)
    sched2.load_state_dict(ck.scheduler_state)
    assert ck.optim_state["state"][0]["step"] == opt.state_dict()["state"][0]["step"]  # plain (non-tensor) state
    assert torch.equal(ck.optim_state["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    x = torch.randn(4, 3)
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        loss = m(x).square().mean()
        o.zero_grad()
        loss.backward()
        o.step()
        s.step()
    assert torch.equal(model.weight, model2.weight) and sched.get_last_lr() == sched2.get_last_lr()


def test_a_second_save_replaces_the_first_and_no_scheduler_is_allowed(tmp_path):
    model, opt, _ = _trained_parts()
    path = checkpoint_path(tmp_path)
    rng = np.random.default_rng(0)
    save_checkpoint(path, step=1, config={}, model=model, optimizer=opt, scheduler=None, numpy_rng=rng)
    save_checkpoint(path, step=2, config={"a": 1}, model=model, optimizer=opt, scheduler=None, numpy_rng=rng)
    ck = load_checkpoint(path)
    assert (ck.step, ck.config, ck.scheduler_state) == (2, {"a": 1}, {})


def test_a_file_that_is_not_a_checkpoint_is_refused_by_name(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "something/else"})
    with pytest.raises(ValueError, match=r"model.safetensors is not a fog_training.checkpoint/1 checkpoint "
                                         r"\(format 'something/else'\)"):
        load_checkpoint(other)
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="format None"):
        load_checkpoint(other)
