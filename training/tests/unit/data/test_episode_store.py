"""fog_training.data.episode_store: the round trip with the writer, the schema check, reading what a
crashed writer left, window sampling. The writer's own checks: test_episode_writer.py."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from fog_training.data.episode_store import SCHEMA_VERSION, EpisodeStore, IncompleteStoreError, SchemaVersionError
from fog_training.data.episode_writer import EpisodeWriter
from fog_training.data.synthetic_store import RANDOM_META, make_synthetic_store, random_episode


def test_round_trip_exact(tmp_path):
    lengths = [5, 9, 1, 7]
    eps = [random_episode(t, i) for i, t in enumerate(lengths)]
    # A tiny image chunk (3 frames) so episodes straddle chunk boundaries.
    with EpisodeWriter(
        tmp_path / "s.zarr", RANDOM_META, image_shape=(8, 6), action_dim=2, proprio_dim=3, image_chunk_frames=3
    ) as w:
        for ep in eps:
            w.add_episode(**ep)
    store = EpisodeStore(tmp_path / "s.zarr")
    assert store.num_episodes == 4 and store.num_steps == 22 and len(store) == 22
    assert store.episode_bounds == [(0, 5), (5, 14), (14, 15), (15, 22)]
    assert store.meta["schema_version"] == SCHEMA_VERSION
    assert store.meta["image"] == {"height": 8, "width": 6}
    assert store.keys[-2:] == ("extra/state", "extra/success")
    for i, ep in enumerate(eps):
        got = store.episode(i)
        np.testing.assert_array_equal(got["image"], ep["image"])
        np.testing.assert_array_equal(got["action"], ep["action"])
        np.testing.assert_array_equal(got["proprio"], ep["proprio"])
        np.testing.assert_array_equal(got["reward"], ep["reward"])
        np.testing.assert_array_equal(got["is_terminal"], ep["is_terminal"])
        np.testing.assert_array_equal(got["extra/state"], ep["extra"]["state"])
        assert got["extra/success"].dtype == bool
        assert got["is_first"][0] and not got["is_first"][1:].any()
        assert got["is_last"][-1] and not got["is_last"][:-1].any()
    # Normalization is exact over the whole store.
    all_action = np.concatenate([e["action"] for e in eps]).astype(np.float64)
    norm = store.normalization
    np.testing.assert_allclose(norm["action"]["mean"], all_action.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm["action"]["std"], all_action.std(0), rtol=1e-6)
    np.testing.assert_allclose(norm["reward"]["max"], max(e["reward"].max() for e in eps))
    np.testing.assert_array_equal(store.episode(-1)["action"], eps[-1]["action"])


def test_schema_mismatch_names_store(tmp_path):
    path = tmp_path / "old.zarr"
    make_synthetic_store(path, episodes=1, steps=4, image_hw=(8, 8))
    group = zarr.open_group(str(path), mode="r+")
    group.attrs["meta"] = {**group.attrs["meta"], "schema_version": 99}
    with pytest.raises(SchemaVersionError, match=r"old\.zarr.*schema_version 99"):
        EpisodeStore(path)


def test_not_a_store_and_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.zarr"):
        EpisodeStore(tmp_path / "nope.zarr")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(ValueError, match="plain.zarr is not an episode store"):
        EpisodeStore(tmp_path / "plain.zarr")


def test_unclosed_writer_keeps_committed_episodes(tmp_path):
    path = tmp_path / "crash.zarr"
    w = EpisodeWriter(path, RANDOM_META, image_shape=(8, 6), action_dim=2, proprio_dim=3, image_chunk_frames=4)
    eps = [random_episode(6, 1), random_episode(3, 2)]
    for ep in eps:
        w.add_episode(**ep)
    # Simulate a kill in the middle of the third episode: its images were appended, nothing else.
    w._arrays["image"].append(random_episode(5, 3)["image"], axis=0)  # noqa: SLF001  (the kill, from inside)
    del w
    with pytest.raises(IncompleteStoreError, match=r"crash\.zarr was never closed.*2 episodes / 9 steps"):
        EpisodeStore(path)
    store = EpisodeStore(path, allow_incomplete=True)
    assert store.num_episodes == 2 and store.num_steps == 9 and not store.complete
    np.testing.assert_array_equal(store.episode(1)["image"], eps[1]["image"])
    np.testing.assert_allclose(store.normalization["reward"]["min"], min(e["reward"].min() for e in eps), rtol=1e-6)
    # The partial tail is never sampled.
    batch = store.sample_windows(64, 2, np.random.default_rng(0))
    assert batch["start"].max() + 2 <= 9


def test_sample_windows_inside_episodes(tmp_path):
    store = make_synthetic_store(tmp_path / "syn.zarr", episodes=5, steps=[3, 20, 7, 12, 2], image_hw=(16, 16), seed=3)
    rng = np.random.default_rng(0)
    length = 6
    seen_eps = set()
    for _ in range(20):
        batch = store.sample_windows(16, length, rng, keys=["image", "action", "extra/state", "is_first"])
        assert batch["image"].shape == (16, length, 16, 16, 3)
        assert batch["action"].shape == (16, length, 2)
        for b, (s, e) in enumerate(zip(batch["start"], batch["episode"], strict=True)):
            lo, hi = store.episode_bounds[e]
            assert lo <= s and s + length <= hi
            ep = store.episode(int(e))
            np.testing.assert_array_equal(batch["image"][b], ep["image"][s - lo : s - lo + length])
            np.testing.assert_array_equal(batch["extra/state"][b], ep["extra/state"][s - lo : s - lo + length])
            # is_first only at the window's first step, and only if the window starts the episode.
            assert batch["is_first"][b, 1:].sum() == 0
            seen_eps.add(int(e))
    assert seen_eps == {1, 2, 3}  # episodes shorter than the window are never drawn
    with pytest.raises(ValueError, match="no episode is at least 21 steps"):
        store.sample_windows(1, 21, rng)
    with pytest.raises(ValueError, match="crosses an episode end"):
        store.read_windows([1], 3)
