"""fog_worldmodel.dream: finding and loading a world model and its start windows, and stepping one imagined
robot, on a tiny untrained GlobalWorldModel and hand-made episode stores and bundles."""

import json
import shutil

import numpy as np
import pytest
import torch
import zarr
from fog_worldmodel.dream import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    STARTS_FILE,
    Dream,
    DreamSpec,
    DreamStarts,
    WorldModelFolderError,
    load_model,
    load_world,
    model_folder,
    psnr,
    read_store,
    spec_from_store,
    store_starts,
)
from fog_worldmodel.global_world_model import GlobalWorldModel

torch.set_num_threads(1)
S, L, A = 16, 4, 2  # the tiny model's image size, context length and action dimension


@pytest.fixture(scope="module")
def model(tiny_config):
    torch.manual_seed(0)
    m = GlobalWorldModel(tiny_config(image_size=S, action_dim=A))
    for p in m.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    m.set_normalization({"action": {"mean": [0.0] * A, "std": [1.0] * A}, "reward": {"mean": 1.0, "std": 0.5}})
    return m.eval()


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    d = tmp_path_factory.mktemp("wm") / "model"
    model.save_pretrained(d)
    return d


def write_store(path, lengths, size=S, action_dim=A, meta=None, committed=None, flat=False, seed=0):
    """A minimal episode store (docs/DATASET.md): image, action, episode_ends, meta and progress; ``flat``:
    frame i is one grey level, 9 * i (a resize keeps it)."""
    rng = np.random.default_rng(seed)
    total = int(sum(lengths))
    image = rng.integers(0, 256, (total, size, size, 3), dtype=np.uint8)
    if flat:
        image[:] = (9 * np.arange(total, dtype=np.uint8))[:, None, None, None]
    action = rng.normal(size=(total, action_dim)).astype(np.float32)
    g = zarr.open_group(str(path), mode="w")
    g.create_array("image", data=image)
    g.create_array("action", data=action)
    g.create_array("episode_ends", data=np.cumsum(lengths).astype(np.int64))
    base = {"schema_version": 1, "action": {"names": ["vx", "yaw"], "low": [-0.5, -1.0], "high": [0.5, 1.0]}}
    g.attrs["meta"] = {**base, "policy_rate_hz": 2.0, **(meta or {})}
    g.attrs["progress"] = {"episodes": len(lengths) if committed is None else committed, "steps": total}
    return image, action


def starts(n=3, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, L, S, S, 3), dtype=np.uint8)
    return DreamStarts(frames, rng.normal(size=(n, L, A)).astype(np.float32), np.arange(10, 10 + n, dtype=np.int64))


def spec(n=3):
    return DreamSpec(starts(n), ["vx", "yaw"], np.array([-0.5, -1.0]), np.array([0.5, 1.0]), 2.0, "test")


def write_bundle(d, saved, st=None, fmt=BUNDLE_FORMAT):
    shutil.copytree(saved, d)
    st = starts() if st is None else st
    action = {"names": ["vx", "yaw"], "low": [-0.5, -1.0], "high": [0.5, 1.0]}
    info = {"format": fmt, "action": action, "policy_rate_hz": 3.0, "camera_info": {"width": S}}
    (d / BUNDLE_FILE).write_text(json.dumps(info))
    np.savez(d / STARTS_FILE, frames=st.frames, actions=st.actions, episodes=st.episodes)
    return d


# ------------------------------------------------------------------ psnr and starts


def test_psnr_of_identical_and_off_by_one_frames():
    a = np.full((4, 4, 3), 100, np.uint8)
    assert psnr(a, a) == pytest.approx(10 * np.log10(255.0**2 / 1e-10))
    assert psnr(a, a + 1) == pytest.approx(20 * np.log10(255.0))  # MSE 1: 48.13 dB
    assert psnr(np.zeros_like(a), np.full_like(a, 255)) == pytest.approx(0.0)  # no uint8 wrap-around


def test_dream_starts_length_is_the_number_of_windows():
    assert len(starts(5)) == 5 and len(DreamStarts(np.zeros((0, L, S, S, 3), np.uint8), np.zeros((0, L, A)), [])) == 0


# ------------------------------------------------------------------ finding and loading a model


def test_model_folder_finds_a_model_folder_a_run_and_a_pipeline_work_folder(saved, tmp_path):
    assert model_folder(saved) == (saved, {})
    run = tmp_path / "runs" / "r1"
    shutil.copytree(saved, run / "model")
    (tmp_path / "stores" / "fogwm_test_store.zarr").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": "stores/fogwm_test_store.zarr", "steps": 3}))
    d, info = model_folder(run)
    assert d == run / "model" and info["steps"] == 3
    assert info["data"] == str((tmp_path / "stores" / "fogwm_test_store.zarr").resolve()), "resolved from a parent"
    shutil.copytree(saved, tmp_path / "work" / "global" / "model")
    assert model_folder(tmp_path / "work") == (tmp_path / "work" / "global" / "model", {})
    with pytest.raises(WorldModelFolderError, match="is not one: expected dream.json"):
        model_folder(tmp_path / "stores")


def test_model_folder_reads_a_bundles_dream_json(saved, tmp_path):
    d, info = model_folder(write_bundle(tmp_path / "bundle", saved))
    assert d == tmp_path / "bundle" and info["format"] == BUNDLE_FORMAT and info["policy_rate_hz"] == 3.0


def test_load_model_names_the_folder_it_cannot_load(model, saved, tmp_path):
    loaded = load_model(saved)
    assert loaded.cfg == model.cfg and not loaded.training
    (tmp_path / "config.json").write_text((saved / "config.json").read_text())
    with pytest.raises(WorldModelFolderError, match="no model.safetensors beside config.json"):
        load_model(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WorldModelFolderError, match=f"{tmp_path}: cannot load the global world model"):
        load_model(tmp_path)


def test_load_world_refuses_a_missing_folder_and_a_model_without_starts(saved, tmp_path):
    with pytest.raises(WorldModelFolderError, match="no such folder"):
        load_world(tmp_path / "nowhere")
    with pytest.raises(WorldModelFolderError, match="is not one"):
        load_world(tmp_path)
    shutil.copytree(saved, tmp_path / "run" / "model")
    with pytest.raises(WorldModelFolderError, match="none is known: give the episode store"):
        load_world(tmp_path / "run")


def test_load_world_from_a_run_takes_its_starts_from_the_recorded_dataset(saved, tmp_path):
    image, action = write_store(tmp_path / "data.zarr", [6, 2, 5])  # episode 1 is shorter than the context
    shutil.copytree(saved, tmp_path / "run" / "model")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"data": str(tmp_path / "data.zarr")}))
    m, sp = load_world(tmp_path / "run")
    assert m.cfg.image_size == S and sp.policy_rate_hz == 2.0 and sp.action_names == ["vx", "yaw"]
    assert sp.starts.episodes.tolist() == [0, 2]
    np.testing.assert_array_equal(sp.starts.frames[1], image[8:12])
    np.testing.assert_allclose(sp.starts.actions[0], action[:4])
    np.testing.assert_array_equal(sp.action_low, [-0.5, -1.0])
    assert "starts from" in sp.source
    _, only = load_world(saved, dataset=tmp_path / "data.zarr", episodes=[2])  # a model folder + --dataset
    assert only.starts.episodes.tolist() == [2]


# ------------------------------------------------------------------ bundles


def test_load_world_from_a_bundle_and_a_choice_of_its_episodes(model, saved, tmp_path):
    b = write_bundle(tmp_path / "bundle", saved)
    m, sp = load_world(b)
    assert m.cfg == model.cfg and len(sp.starts) == 3 and sp.policy_rate_hz == 3.0
    assert sp.camera_info == {"width": S} and sp.info["format"] == BUNDLE_FORMAT and sp.source == str(b)
    np.testing.assert_array_equal(sp.starts.frames, starts().frames)
    _, picked = load_world(b, episodes=[12, 10])
    assert picked.starts.episodes.tolist() == [12, 10]
    np.testing.assert_array_equal(picked.starts.frames[0], starts().frames[2])
    with pytest.raises(WorldModelFolderError, match=r"no start window of episode\(s\) \[7\]"):
        load_world(b, episodes=[10, 7])


def test_a_bundle_with_another_format_or_unusable_starts_is_refused(saved, tmp_path):
    with pytest.raises(WorldModelFolderError, match="format 'other/1', expected"):
        load_world(write_bundle(tmp_path / "fmt", saved, fmt="other/1"))
    wrong = starts()
    wrong.frames = wrong.frames[:, :, :8, :8]
    with pytest.raises(WorldModelFolderError, match=r"start frames are uint8 \(3, 4, 8, 8, 3\), expected uint8"):
        load_world(write_bundle(tmp_path / "size", saved, st=wrong))
    wrong = starts()
    wrong.actions = wrong.actions[:, :, :1]
    with pytest.raises(WorldModelFolderError, match=r"start actions are \(3, 4, 1\), expected \[N, 4, 2\]"):
        load_world(write_bundle(tmp_path / "act", saved, st=wrong))
    empty = DreamStarts(np.zeros((0, L, S, S, 3), np.uint8), np.zeros((0, L, A), np.float32), np.zeros(0, np.int64))
    with pytest.raises(WorldModelFolderError, match="holds no start window"):
        load_world(write_bundle(tmp_path / "empty", saved, st=empty))
    (write_bundle(tmp_path / "torn", saved) / STARTS_FILE).write_bytes(b"torn")
    with pytest.raises(WorldModelFolderError, match="cannot read the start windows"):
        load_world(tmp_path / "torn")


# ------------------------------------------------------------------ episode stores


def test_read_store_refuses_what_is_not_a_committed_episode_store(tmp_path):
    with pytest.raises(WorldModelFolderError, match="no such episode store"):
        read_store(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "bare.zarr"), mode="w").attrs["meta"] = {"source": "x"}
    with pytest.raises(WorldModelFolderError, match="no meta.schema_version"):
        read_store(tmp_path / "bare.zarr")
    write_store(tmp_path / "none.zarr", [5], committed=0)
    with pytest.raises(WorldModelFolderError, match="holds no committed episode"):
        read_store(tmp_path / "none.zarr")
    write_store(tmp_path / "ok.zarr", [5, 6, 7], committed=2)  # the third episode is an uncommitted tail
    _g, meta, ends = read_store(tmp_path / "ok.zarr")
    assert ends.tolist() == [5, 11] and meta["schema_version"] == 1


def test_store_starts_cuts_resizes_and_refuses_short_or_missing_episodes(tmp_path):
    _, action = write_store(tmp_path / "big.zarr", [4, 3, 7], size=32, flat=True)
    st = store_starts(tmp_path / "big.zarr", L, S)
    assert st.frames.shape == (2, L, S, S, 3) and st.frames.dtype == np.uint8 and st.episodes.tolist() == [0, 2]
    # episode 2 starts at step 7: its first L frames are the grey levels 63, 72, 81, 90, resized to S x S
    np.testing.assert_array_equal(
        st.frames[1], np.broadcast_to((9 * np.arange(7, 11))[:, None, None, None], st.frames[1].shape)
    )
    np.testing.assert_allclose(st.actions[1], action[7:11])
    assert st.actions.dtype == np.float32 and st.episodes.dtype == np.int64
    with pytest.raises(WorldModelFolderError, match=r"has episodes 0..2, not \[3\]"):
        store_starts(tmp_path / "big.zarr", L, S, episodes=[0, 3])
    with pytest.raises(WorldModelFolderError, match=r"episode\(s\) \[1\] have fewer than the model's 4"):
        store_starts(tmp_path / "big.zarr", L, S, episodes=[1])
    with pytest.raises(WorldModelFolderError, match="no episode has the model's 8 context frames"):
        store_starts(tmp_path / "big.zarr", 8, S)


def test_spec_from_store_checks_the_action_bounds_against_the_model(model, tmp_path):
    write_store(tmp_path / "plain.zarr", [5], meta={"action": {"low": [-1.0, -1.0], "high": [1.0, 1.0]}})
    group = zarr.open_group(str(tmp_path / "plain.zarr"), mode="r+")
    meta = dict(group.attrs["meta"])
    del meta["policy_rate_hz"]  # a store that does not say its rate: the policy's default 5 Hz
    group.attrs["meta"] = meta
    sp = spec_from_store(tmp_path / "plain.zarr", model)
    assert sp.action_names == ["a0", "a1"] and sp.policy_rate_hz == 5.0 and sp.source == str(tmp_path / "plain.zarr")
    assert sp.camera_info is None and sp.info == {}
    write_store(tmp_path / "nobounds.zarr", [5], meta={"action": {"names": ["vx", "yaw"]}})
    with pytest.raises(WorldModelFolderError, match="meta.action has no low/high bounds"):
        spec_from_store(tmp_path / "nobounds.zarr", model)
    write_store(tmp_path / "3d.zarr", [5], action_dim=3, meta={"action": {"low": [0, 0, 0], "high": [1, 1, 1]}})
    with pytest.raises(WorldModelFolderError, match="actions have 3 dimensions, the world model takes 2"):
        spec_from_store(tmp_path / "3d.zarr", model)


# ------------------------------------------------------------------ stepping


def test_reset_returns_the_last_real_frame_of_the_chosen_window(model):
    dream = Dream(model, spec())
    assert dream.image_size == S and dream.num_starts == 3
    frame = dream.reset(start=4, seed=0)  # 4 % 3 = window 1
    assert dream.start == 1 and dream.steps == 0
    np.testing.assert_array_equal(frame, starts().frames[1, -1])


def test_clip_keeps_actions_inside_the_dataset_bounds_and_refuses_bad_ones(model):
    dream = Dream(model, spec())
    a, clipped = dream.clip([0.2, -0.3])
    assert a.tolist() == [0.2, -0.3] and not clipped
    a, clipped = dream.clip(np.array([[2.0, -5.0]]))
    assert a.tolist() == [0.5, -1.0] and clipped
    with pytest.raises(ValueError, match="action has 3 values, the world model takes 2"):
        dream.clip([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="is not finite"):
        dream.clip([np.nan, 0.0])


def test_step_imagines_a_frame_reward_and_termination_seeded_by_reset(model):
    dream = Dream(model, spec())
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        dream.step([0.0, 0.0])

    def roll(seed, actions=([0.1, 0.2], [3.0, 0.0], [0.0, -0.5])):
        dream.reset(start=0, seed=seed)
        return [dream.step(a) for a in actions]

    first = roll(3)
    assert dream.steps == 3
    for out in first:
        assert out.frame.shape == (S, S, 3) and out.frame.dtype == np.uint8
        assert isinstance(out.reward, float) and 0.0 <= out.termination_probability <= 1.0
        assert out.terminated == (out.termination_probability > 0.5)
    assert [o.clipped for o in first] == [False, True, False] and first[1].action.tolist() == [0.5, 0.0]
    again, other = roll(3), roll(4)
    assert all(np.array_equal(a.frame, b.frame) and a.reward == b.reward for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0].frame, other[0].frame), "the seed draws the sampler's noise"


def test_the_done_threshold_decides_termination(model):
    always, never = Dream(model, spec(), done_threshold=0.0), Dream(model, spec(), done_threshold=1.0)
    always.reset(0, seed=0)
    never.reset(0, seed=0)
    a, n = always.step([0.0, 0.0]), never.step([0.0, 0.0])
    assert a.termination_probability == pytest.approx(n.termination_probability)
    assert a.terminated and not n.terminated
