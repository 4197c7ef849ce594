"""The tiny untrained world model for the dream tests (fog_training.untrained_dream): its cmd_vel store,
its run folder, its bundle; a model that reacts to the command, and the same seed gives the same model."""

import json

import numpy as np
import pytest
import torch
from fog_training.untrained_dream import HIGH, LOW, main, make_cmd_vel_store, make_untrained_world_model, tiny_config
from fog_worldmodel.dream import Dream, load_world
from fog_worldmodel.global_world_model import GlobalWorldModel

torch.set_num_threads(1)


def test_cmd_vel_store_has_the_go2_layout_and_a_pattern_that_follows_the_command(tmp_path):
    store = make_cmd_vel_store(tmp_path / "s.zarr", episodes=2, steps=5, size=8, seed=1)
    assert store.num_episodes == 2 and store.num_steps == 10 and store.action_dim == 3
    assert store.meta["action"] == {"names": ["vx", "vy", "yaw_rate"], "low": LOW, "high": HIGH}
    ep = store.episode(0)
    a = np.asarray(ep["action"])
    assert ep["image"].shape == (5, 8, 8, 3) and (a >= LOW).all() and (a <= HIGH).all()
    np.testing.assert_array_equal(ep["reward"], a[:, 0])  # reward[t] = vx[t]
    np.testing.assert_array_equal(ep["is_terminal"], [False] * 4 + [True])
    # the red channel's pattern moves by the command: frame t is frame 0 shifted by the summed command
    pos = np.cumsum(a[:, 2] * 8 + a[:, 0] * 4)
    x = np.arange(8)[None, :]
    np.testing.assert_array_equal(ep["image"][3, ..., 0], np.broadcast_to((8 * x + pos[3]).astype(int) % 256, (8, 8)))
    np.testing.assert_array_equal(ep["image"][:, 0, 0, 2], 40 + 10 * np.arange(5))


def test_world_model_run_loads_and_reacts_to_the_command(tmp_path):
    paths = make_untrained_world_model(tmp_path / "a", seed=2, size=16)
    assert set(paths) == {"data", "run", "model"}
    cfg = json.loads((paths["run"] / "config.json").read_text())
    assert cfg == {"data": str(paths["data"]), "untrained": True, "seed": 2}
    model = GlobalWorldModel.from_pretrained(paths["model"])
    assert model.cfg == tiny_config(16) and model.action_std.shape == (3,) and model.action_std.min() < 1.0
    # the run's config names its store: load_world finds the starts there
    model, spec = load_world(paths["run"])
    dream = Dream(model, spec)
    outs = []
    for command in ([0.5, 0.0, 0.8], [-0.2, 0.0, -0.8], [0.5, 0.0, 0.8]):
        dream.reset(start=0, seed=0)
        outs.append(dream.step(command).frame)
    assert not np.array_equal(outs[0], outs[1]), "two commands imagined the same frame"
    assert np.array_equal(outs[0], outs[2]), "the same command and seed must imagine the same frame"
    # the same seed writes the same weights
    again = GlobalWorldModel.from_pretrained(make_untrained_world_model(tmp_path / "b", seed=2)["model"])
    for (k, v), w in zip(GlobalWorldModel.from_pretrained(paths["model"]).state_dict().items(),
                         again.state_dict().values(), strict=True):
        assert torch.equal(v, w), k


def test_bundle_is_a_dream_bundle_and_main_prints_the_folders(tmp_path, capsys):
    assert main([str(tmp_path / "w")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"data", "run", "model", "bundle"}
    _, spec = load_world(printed["bundle"])
    assert len(spec.starts) == 3 and spec.action_low.tolist() == pytest.approx(LOW)
