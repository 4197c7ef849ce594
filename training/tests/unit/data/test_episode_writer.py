"""fog_training.data.episode_writer: the writer's refusals (shapes, dtypes, flags, extras, meta,
schema), what it commits episode by episode (progress, bounds), the normalization statistics, the
context manager and close(), and the JSON conversion of meta. The killed-process case is
integration/data/test_episode_writer.py's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import zarr
from fog_training.data.episode_store import SCHEMA_VERSION, EpisodeStore, IncompleteStoreError, SchemaVersionError
from fog_training.data.episode_writer import EpisodeWriter, _jsonable, _RunningStats
from fog_training.data.synthetic_store import RANDOM_META, random_episode


def _writer(path, **kw) -> EpisodeWriter:
    return EpisodeWriter(path, RANDOM_META, image_shape=(8, 6), action_dim=2, proprio_dim=3, **kw)


def test_writer_validates_inputs(tmp_path):
    w = EpisodeWriter(tmp_path / "v.zarr", RANDOM_META, image_shape=(8, 6), action_dim=2, proprio_dim=3)
    ep = random_episode(4, 0)
    with pytest.raises(ValueError, match="image must be uint8"):
        w.add_episode(**{**ep, "image": ep["image"].astype(np.float32)})
    bad = dict(ep, extra={"state": ep["extra"]["state"][:3]})
    with pytest.raises(ValueError, match="extra/state"):
        w.add_episode(**bad)
    with pytest.raises(ValueError, match="is_terminal may only be set on an episode's last step"):
        w.add_episode(**dict(ep, is_terminal=np.array([False, True, False, False])))
    w.add_episode(**ep)
    with pytest.raises(ValueError, match="differ from the first episode"):
        w.add_episode(**dict(ep, extra={"state": ep["extra"]["state"]}))
    with pytest.raises(FileExistsError):
        EpisodeWriter(tmp_path / "v.zarr", RANDOM_META, image_shape=(8, 6), action_dim=2, proprio_dim=3)


def test_add_episode_returns_its_bounds_and_commits_progress(tmp_path):
    w = _writer(tmp_path / "p.zarr")
    assert w.add_episode(**random_episode(4, 0)) == (0, 4)
    assert zarr.open_group(str(tmp_path / "p.zarr"), mode="r").attrs["progress"] == {"episodes": 1, "steps": 4}
    assert w.add_episode(**random_episode(3, 1)) == (4, 7)
    attrs = zarr.open_group(str(tmp_path / "p.zarr"), mode="r").attrs
    assert attrs["progress"] == {"episodes": 2, "steps": 7} and attrs["complete"] is False
    assert (w.num_episodes, w.num_steps) == (2, 7)
    w.close()
    assert zarr.open_group(str(tmp_path / "p.zarr"), mode="r").attrs["complete"] is True


def test_default_flags_extras_and_dtypes(tmp_path):
    ep = random_episode(3, 0)
    with _writer(tmp_path / "d.zarr") as w:
        # no is_terminal, no extras; float64 action/proprio/reward are stored as float32
        w.add_episode(image=ep["image"], action=ep["action"].astype(np.float64),
                      proprio=ep["proprio"].astype(np.float64), reward=ep["reward"].astype(np.float64))
    store = EpisodeStore(tmp_path / "d.zarr")
    got = store.episode(0)
    assert not got["is_terminal"].any() and got["is_first"].tolist() == [True, False, False]
    assert got["is_last"].tolist() == [False, False, True]
    assert got["action"].dtype == np.float32 and got["reward"].dtype == np.float32
    assert not any(k.startswith("extra/") for k in store.keys)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": np.zeros((0, 8, 6, 3), np.uint8)}, "at least one step"),
        ({"image": np.zeros((3, 6, 8, 3), np.uint8)}, r"image must be uint8 \[T, 8, 6, 3\]"),
        ({"reward": np.array([0.0, np.nan, 0.0, 0.0])}, "reward has non-finite values"),
        ({"action": np.full((4, 2), np.inf)}, "action has non-finite values"),
        ({"extra": {"label": np.array(["a", "b", "c", "d"])}}, "only numeric/bool extras"),
    ],
)
def test_bad_episodes_are_refused_and_nothing_is_written(tmp_path, change, message):
    w = _writer(tmp_path / "b.zarr")
    with pytest.raises(ValueError, match=message):
        w.add_episode(**{**random_episode(4, 0), **change})
    assert (w.num_episodes, w.num_steps) == (0, 0)
    assert zarr.open_group(str(tmp_path / "b.zarr"), mode="r")["image"].shape[0] == 0


def test_meta_is_checked_and_completed(tmp_path):
    with pytest.raises(SchemaVersionError, match="writes schema_version 1, meta says 7"):
        EpisodeWriter(tmp_path / "a.zarr", {"schema_version": 7}, image_shape=(4, 4), action_dim=1, proprio_dim=1)
    with pytest.raises(ValueError, match="meta.action.names has 2 names but action_dim is 3"):
        EpisodeWriter(tmp_path / "b.zarr", RANDOM_META, image_shape=(4, 4), action_dim=3, proprio_dim=3)
    with pytest.raises(ValueError, match="meta.proprio.names has 3 names but proprio_dim is 1"):
        EpisodeWriter(tmp_path / "c.zarr", RANDOM_META, image_shape=(4, 4), action_dim=2, proprio_dim=1)
    w = EpisodeWriter(tmp_path / "d.zarr", {**RANDOM_META, "image": {"preprocess": "none"}}, image_shape=(8, 6),
                      action_dim=2, proprio_dim=3)
    assert w.meta["schema_version"] == SCHEMA_VERSION
    assert w.meta["image"] == {"height": 8, "width": 6, "preprocess": "none"}
    assert "schema_version" not in RANDOM_META  # the caller's meta is not changed


def test_overwrite_replaces_an_existing_store(tmp_path):
    path = tmp_path / "o.zarr"
    with _writer(path) as w:
        w.add_episode(**random_episode(5, 0))
    with _writer(path, overwrite=True) as w:
        w.add_episode(**random_episode(2, 1))
    store = EpisodeStore(path)
    assert store.num_episodes == 1 and store.num_steps == 2


def test_image_chunks_hold_about_a_mebibyte_of_frames(tmp_path):
    assert _writer(tmp_path / "a.zarr").image_chunk_frames == 256  # tiny frames: capped at 256
    big = EpisodeWriter(tmp_path / "b.zarr", {}, image_shape=(256, 256), action_dim=1, proprio_dim=1)
    assert big.image_chunk_frames == (1 << 20) // (256 * 256 * 3) == 5
    huge = EpisodeWriter(tmp_path / "c.zarr", {}, image_shape=(1024, 1024), action_dim=1, proprio_dim=1)
    assert huge.image_chunk_frames == 1
    assert _writer(tmp_path / "d.zarr", image_chunk_frames=3).image_chunk_frames == 3


def test_close_needs_an_episode_is_idempotent_and_ends_the_writer(tmp_path):
    w = _writer(tmp_path / "c.zarr")
    with pytest.raises(ValueError, match="no episodes were added"):
        w.close()
    w.add_episode(**random_episode(2, 0))
    w.close()
    w.close()  # idempotent
    with pytest.raises(RuntimeError, match="writer is closed"):
        w.add_episode(**random_episode(2, 1))
    assert EpisodeStore(tmp_path / "c.zarr").num_episodes == 1


def test_an_exception_in_the_with_block_leaves_the_store_incomplete(tmp_path):
    path = tmp_path / "e.zarr"
    with pytest.raises(KeyError), _writer(path) as w:
        w.add_episode(**random_episode(3, 0))
        raise KeyError("boom")
    with pytest.raises(IncompleteStoreError, match="never closed"):
        EpisodeStore(path)
    assert EpisodeStore(path, allow_incomplete=True).num_steps == 3


def test_normalization_is_exact_over_all_episodes(tmp_path):
    eps = [random_episode(t, i) for i, t in enumerate([3, 1, 6])]
    with _writer(tmp_path / "n.zarr") as w:
        for ep in eps:
            w.add_episode(**ep)
    norm = w.meta["normalization"]
    proprio = np.concatenate([e["proprio"] for e in eps]).astype(np.float64)
    reward = np.concatenate([e["reward"] for e in eps]).astype(np.float64)
    np.testing.assert_allclose(norm["proprio"]["std"], proprio.std(0), rtol=1e-6)
    np.testing.assert_allclose(norm["proprio"]["min"], proprio.min(0))
    assert isinstance(norm["reward"]["mean"], float) and norm["reward"]["mean"] == pytest.approx(reward.mean())
    assert norm["reward"]["max"] == pytest.approx(reward.max())
    assert EpisodeStore(tmp_path / "n.zarr").meta["normalization"] == norm


def test_running_stats_match_numpy_and_a_constant_has_zero_std():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(50, 4))
    stats = _RunningStats()
    for part in np.split(x, [7, 8, 30]):
        stats.add(part)
    out = stats.result()
    np.testing.assert_allclose(out["mean"], x.mean(0))
    np.testing.assert_allclose(out["std"], x.std(0))
    assert out["min"] == x.min(0).tolist() and out["max"] == x.max(0).tolist()
    const = _RunningStats()
    const.add(np.full(10, 7.7))  # E[x^2] - E[x]^2 rounds to -7e-15 here: clipped to 0, not a NaN std
    out = const.result()
    assert out["std"] == 0.0 and out["mean"] == pytest.approx(7.7) and out["min"] == out["max"] == 7.7


def test_jsonable_turns_numpy_paths_and_non_finite_floats_into_json_types():
    value = {
        1: np.float32(0.5),
        "arr": np.arange(3, dtype=np.int64),
        "nested": ({"p": Path("/a/b")}, [np.bool_(True), math.inf, math.nan, 2.5]),
    }
    assert _jsonable(value) == {"1": 0.5, "arr": [0, 1, 2], "nested": [{"p": "/a/b"}, [True, None, None, 2.5]]}
    out = _jsonable({"x": np.int16(3)})
    assert type(out["x"]) is int
