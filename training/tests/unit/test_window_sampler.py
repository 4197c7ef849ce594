"""Windows of consecutive steps (fog_training.window_sampler): the train/val split of episodes, windows
that never cross an episode's end, images resized once, seeded sampling, a clear refusal."""

import numpy as np
import pytest
from fog_training.data.synthetic_store import make_synthetic_store
from fog_training.window_sampler import KEYS, WindowSampler, split_episodes


@pytest.mark.parametrize(
    ("episodes", "fraction", "val"),
    [(10, 0.2, [8, 9]), (10, 0.05, [9]), (10, 0.0, []), (1, 0.5, []), (2, 0.9, [1]), (3, 0.99, [1, 2])],
)
def test_split_holds_out_the_last_episodes_and_keeps_one_for_training(episodes, fraction, val):
    train, held = split_episodes(episodes, fraction)
    assert held == val and train == list(range(episodes - len(val)))


@pytest.fixture(scope="module")
def sampler(tmp_path_factory):
    store = make_synthetic_store(tmp_path_factory.mktemp("ws") / "s.zarr", episodes=3, steps=[6, 3, 5],
                                 image_hw=(32, 32), seed=0)
    return WindowSampler(store, image_size=16, val_fraction=0.3)


def test_images_are_resized_once_and_split_by_episode(sampler):
    assert sampler.images.shape == (14, 16, 16, 3) and sampler.images.dtype == np.uint8
    assert sampler.episodes("train") == [0, 1] and sampler.episodes("val") == [2]
    assert sampler.episodes("all") == [0, 1, 2]
    # a downscaled frame keeps the frame's mean colour (the moving square on a dark background)
    full = np.asarray(sampler.store.episode(0)["image"][0], float)
    assert abs(sampler.images[0].mean() - full.mean()) < 3


def test_windows_fit_inside_one_episode_of_their_split(sampler):
    # train: episode 0 (steps 0..5) has 3 windows of 4, episode 1 (6..8) none; val: episode 2 (9..13) 2
    np.testing.assert_array_equal(sampler.valid_starts(4, "train"), [0, 1, 2])
    np.testing.assert_array_equal(sampler.valid_starts(4, "val"), [9, 10])
    np.testing.assert_array_equal(sampler.valid_starts(3, "all"), [0, 1, 2, 3, 6, 9, 10, 11])
    with pytest.raises(ValueError, match="no train episode is at least 7 steps long"):
        sampler.valid_starts(7, "train")


def test_read_and_sample_gather_consecutive_steps(sampler):
    w = sampler.read(np.array([9, 10]), 4)
    assert set(w) == {"image", *KEYS} and w["image"].shape == (2, 4, 16, 16, 3) and w["action"].shape == (2, 4, 2)
    np.testing.assert_array_equal(w["image"][1, :3], w["image"][0, 1:])  # overlapping windows share frames
    np.testing.assert_array_equal(w["is_first"][0], [True, False, False, False])
    s = sampler.sample(np.random.default_rng(3), 20, 4)
    assert s["reward"].shape == (20, 4) and not s["is_last"][:, :-1].any()  # no window runs past an end
    assert not s["is_first"][:, 1:].any(), "no window runs into the next episode"
    again = sampler.sample(np.random.default_rng(3), 20, 4)
    np.testing.assert_array_equal(again["image"], s["image"])
    val = sampler.sample(np.random.default_rng(0), 6, 4, "val")["image"][:, 0]
    assert all(any(np.array_equal(f, sampler.images[k]) for k in (9, 10)) for f in val), "val windows start at 9, 10"
