"""fog_training.data.synthetic_store: the small store tests read: deterministic in its seed, the
action drives the state, the reward is the documented function of the state, the square is drawn
where proprio says, per-episode lengths, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
from fog_training.data.synthetic_store import make_synthetic_store


def test_synthetic_store_structure(tmp_path):
    store = make_synthetic_store(tmp_path / "a.zarr", episodes=2, steps=10, image_hw=(24, 24), seed=7)
    again = make_synthetic_store(tmp_path / "b.zarr", episodes=2, steps=10, image_hw=(24, 24), seed=7)
    ep = store.episode(0)
    np.testing.assert_array_equal(ep["image"], again.episode(0)["image"])
    # The action drives the state, and the reward is a function of the state it leads to.
    state = ep["extra/state"]
    np.testing.assert_allclose(ep["reward"], -np.linalg.norm(state - 0.5, axis=1), atol=1e-6)
    np.testing.assert_allclose(state[1:], np.clip(state[:-1] + 0.08 * ep["action"][1:], 0, 1), atol=1e-6)
    # The square is drawn where proprio says it is (frames differ when it moves).
    moved = np.abs(np.diff(ep["proprio"][:, :2], axis=0)).sum(1) > 0.05
    differs = np.abs(np.diff(ep["image"].astype(int), axis=0)).sum((1, 2, 3)) > 0
    assert differs[moved].all()


def test_lengths_per_episode_shapes_and_meta(tmp_path):
    store = make_synthetic_store(tmp_path / "s.zarr", episodes=3, steps=[2, 5, 3], image_hw=(12, 18), seed=1)
    assert store.episode_bounds == [(0, 2), (2, 7), (7, 10)]
    assert store.image_shape == (12, 18) and store.action_dim == 2 and store.proprio_dim == 4
    meta = store.meta
    assert meta["source"] == "synthetic" and meta["action"]["names"] == ["vx", "vy"]
    assert meta["config"] == {"episodes": 3, "steps": [2, 5, 3], "image_hw": [12, 18], "seed": 1}
    action, proprio = store.array("action"), store.array("proprio")
    assert np.abs(action).max() <= 1.0 and proprio[:, :2].min() >= 0.0 and proprio[:, :2].max() <= 1.0
    # proprio's displacement is the step from the previous position (0 at an episode's start)
    ep = store.episode(1)
    np.testing.assert_allclose(ep["proprio"][0, 2:], 0.0)
    np.testing.assert_allclose(ep["proprio"][1:, 2:], np.diff(ep["proprio"][:, :2], axis=0), atol=1e-6)


def test_seeds_give_different_stores(tmp_path):
    a = make_synthetic_store(tmp_path / "a.zarr", episodes=1, steps=6, image_hw=(8, 8), seed=0)
    b = make_synthetic_store(tmp_path / "b.zarr", episodes=1, steps=6, image_hw=(8, 8), seed=1)
    assert not np.array_equal(a.array("action"), b.array("action"))


def test_wrong_number_of_lengths_is_refused(tmp_path):
    with pytest.raises(ValueError, match="2 lengths given for 3 episodes"):
        make_synthetic_store(tmp_path / "x.zarr", episodes=3, steps=[4, 4])
    assert not (tmp_path / "x.zarr").exists()


def test_existing_store_is_replaced_unless_overwrite_is_off(tmp_path):
    path = tmp_path / "s.zarr"
    make_synthetic_store(path, episodes=2, steps=4, image_hw=(8, 8))
    assert make_synthetic_store(path, episodes=1, steps=3, image_hw=(8, 8)).num_steps == 3
    with pytest.raises(FileExistsError, match="already exists"):
        make_synthetic_store(path, episodes=1, steps=3, image_hw=(8, 8), overwrite=False)


def test_random_episode_is_seeded_and_fits_the_random_meta():
    from fog_training.data.synthetic_store import RANDOM_META, random_episode

    a, b, c = random_episode(5, seed=3), random_episode(5, seed=3), random_episode(5, seed=4)
    assert a["image"].shape == (5, 8, 6, 3) and a["image"].dtype == np.uint8
    assert a["action"].shape == (5, len(RANDOM_META["action"]["names"])) and a["action"].dtype == np.float32
    assert a["proprio"].shape == (5, len(RANDOM_META["proprio"]["names"]))
    assert a["is_terminal"].tolist() == [False] * 4 + [True] and a["extra"]["state"].shape == (5, 4)
    assert all(np.array_equal(a[k], b[k]) for k in ("image", "action", "proprio", "reward"))
    assert not np.array_equal(a["action"], c["action"])
