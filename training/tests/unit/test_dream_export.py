"""The dream engine (fog_worldmodel.dream) and `fog export-dream`, on an untrained tiny world model.

The bundle must load to the same start windows as the run and its dataset, keep its weights in
float16 with the measured effect recorded, and every bad input must be refused with an error that
names it and says what was expected.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from fog_training.cli import main as fog
from fog_training.untrained_dream import make_untrained_world_model
from fog_worldmodel.dream import Dream, WorldModelFolderError, load_world, model_folder
from safetensors import safe_open

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_untrained_world_model(tmp_path_factory.mktemp("dream"), seed=0, bundle=True)


def test_bundle_holds_float16_weights_starts_and_what_they_mean(world):
    b = world["bundle"]
    assert sorted(p.name for p in b.iterdir()) == ["config.json", "dream.json", "model.safetensors", "starts.npz"]
    info = json.loads((b / "dream.json").read_text())
    assert info["weights_dtype"] == "float16" and info["policy_rate_hz"] == 5.0
    assert info["action"]["names"] == ["vx", "vy", "yaw_rate"] and info["action"]["low"] == [-0.2, -0.25, -0.8]
    assert info["starts"]["episodes"] == [0, 1, 2]
    assert info["terminal_steps_in_dataset"]["terminal_steps"] == 3
    check = info["float16_check"]
    assert check["horizon"] == 4 and check["starts"] == 3 and np.isfinite(check["psnr_db_last_step"])
    with safe_open(str(b / "model.safetensors"), "pt") as f:
        dtypes = {k: f.get_tensor(k).dtype for k in f.keys()}
    model, _ = load_world(b)
    buffers = {k for k, _ in model.named_buffers()}
    assert {"action_mean", "reward_std"} <= buffers
    assert all(dtypes[k] == torch.float32 for k in buffers), "buffers (normalisation statistics) must stay float32"
    params = [k for k, _ in model.named_parameters()]
    assert params and all(dtypes[k] == torch.float16 for k in params)


def test_bundle_run_and_model_folder_give_the_same_starts(world):
    _, from_bundle = load_world(world["bundle"])
    _, from_run = load_world(world["run"])
    _, from_model = load_world(world["model"], dataset=world["data"])
    for spec in (from_run, from_model):
        assert np.array_equal(spec.starts.frames, from_bundle.starts.frames)
        assert np.array_equal(spec.starts.actions, from_bundle.starts.actions)
        assert spec.policy_rate_hz == 5.0 and spec.camera_info["width"] == 64
    assert model_folder(world["bundle"])[0] == world["bundle"]
    assert model_folder(world["run"])[0] == world["model"]


def test_float16_bundle_stays_close_to_float32(world):
    m16, spec = load_world(world["bundle"])
    m32, _ = load_world(world["run"])
    acts = np.random.default_rng(0).uniform(spec.action_low, spec.action_high, (6, 3))

    def roll(model):
        d = Dream(model, spec)
        d.reset(1, seed=3)
        return np.stack([d.step(a).frame for a in acts]).astype(int)

    a, b = roll(m16), roll(m32)
    assert np.abs(a[0] - b[0]).max() <= 3, "float16 weights moved the first imagined frame by more than 3 levels"
    assert np.abs(a - b).mean() < 2.0


def test_dream_steps_deterministically_clips_and_depends_on_the_action(world):
    model, spec = load_world(world["bundle"])
    dream = Dream(model, spec)
    first = dream.reset(0, seed=0)
    assert np.array_equal(first, spec.starts.frames[0, -1]), "reset returns the last real context frame"

    def roll(cmd, n=4):
        dream.reset(0, seed=0)
        return [dream.step(cmd) for _ in range(n)]

    a, a2, b = roll([0.4, 0.0, 0.0]), roll([0.4, 0.0, 0.0]), roll([-0.2, 0.0, 0.7])
    assert all(np.array_equal(x.frame, y.frame) and x.reward == y.reward for x, y in zip(a, a2, strict=True))
    assert not np.array_equal(a[-1].frame, b[-1].frame), "two different commands gave the same frames"
    out = dream.step([2.0, 0.0, -3.0])
    assert out.clipped and out.action.tolist() == [0.5, 0.0, -0.8]
    assert 0.0 <= out.termination_probability <= 1.0 and out.terminated == (out.termination_probability > 0.5)
    with pytest.raises(ValueError, match="action has 2 values, the world model takes 3"):
        dream.step([0.1, 0.2])


def test_bad_world_model_folders_and_datasets_are_refused_by_name(world, tmp_path):
    with pytest.raises(WorldModelFolderError, match="no such folder"):
        load_world(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorldModelFolderError, match=r"empty is not one: expected dream.json"):
        load_world(tmp_path / "empty")
    with pytest.raises(WorldModelFolderError, match=r"has episodes 0\.\.2, not \[7\]"):
        load_world(world["run"], episodes=[7])
    with pytest.raises(WorldModelFolderError, match=r"no start window of episode\(s\) \[7\]"):
        load_world(world["bundle"], episodes=[7])
    with pytest.raises(WorldModelFolderError, match="no such episode store"):
        load_world(world["model"], dataset=tmp_path / "nope.zarr")
    shutil.copytree(world["model"], tmp_path / "bare")  # a model folder outside its run: no recorded dataset
    with pytest.raises(WorldModelFolderError, match="none is known"):
        load_world(tmp_path / "bare")


def test_export_dream_cli_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert fog(["export-dream", "--run", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert f"--run {tmp_path}: no global world model there" in err
