"""The dream's episode rules (fog_policy.dream_episodes); the dream node over ROS is tested in
training/tests/integration/fog_policy/test_dream_node.py (it needs a trained world model)."""

from __future__ import annotations

import numpy as np
import pytest
from fog_policy.dream_episodes import DreamEpisodes, camera_size, episode_end, scaled_camera_info, upscale


def test_windows_and_seeds_follow_the_draws():
    eps = DreamEpisodes(start=3, seed=10)
    assert (eps.episode, eps.window, eps.episode_seed) == (0, 3, 10)
    seen = []
    for which in ("next", "next", "same", "first", "next"):
        eps.advance(which)
        seen.append((eps.episode, eps.window, eps.episode_seed))
    assert seen == [(1, 4, 11), (2, 5, 12), (3, 5, 12), (4, 3, 10), (5, 4, 11)]
    with pytest.raises(ValueError, match="unknown draw 'again'"):
        eps.advance("again")


def test_log_row_counts_per_episode():
    eps = DreamEpisodes(start=0, seed=0)
    eps.begin({"clipped_commands": 4, "lockstep_timeouts": 1})
    eps.episode_return = 2.5
    row = eps.log_row("terminal frame", window=7, dataset_episode=2, steps=10, rate=5.0,
                      counters={"clipped_commands": 6, "lockstep_timeouts": 1})
    assert row == {"episode": 0, "start_window": 7, "dataset_episode": 2, "seed": 0, "steps": 10, "seconds": 2.0,
                   "return": 2.5, "terminated": True, "ended_by": "terminal frame", "clipped_commands": 2,
                   "lockstep_timeouts": 0}
    eps.begin({})
    assert eps.episode_return == 0.0


def test_episode_end():
    assert episode_end(True, 5, 0, True, 0.0) == "terminal frame"
    assert episode_end(True, 5, 0, False, 0.0) is None  # reset_on_termination off
    assert episode_end(False, 150, 150, True, 30.0) == "time limit 30 s"
    assert episode_end(False, 149, 150, True, 30.0) is None
    assert episode_end(True, 0, 0, True, 0.0) is None  # nothing imagined yet


def test_camera_intrinsics_scale_with_the_image_and_fall_back_to_the_fov():
    info = {"width": 128, "height": 128, "k": [100.0, 0, 63.5, 0, 100.0, 63.5, 0, 0, 1]}
    fx, fy, cx, cy = scaled_camera_info(info, 64, 64, 58.0)
    assert (fx, fy) == (50.0, 50.0) and (cx, cy) == pytest.approx((31.5, 31.5))
    fx, fy, cx, cy = scaled_camera_info(None, 64, 64, 90.0)
    assert fx == fy == pytest.approx(32.0) and (cx, cy) == (31.5, 31.5)


def test_upscale_is_nearest_neighbour():
    frame = np.arange(4 * 3, dtype=np.uint8).reshape(2, 2, 3)
    big = upscale(frame, 4, 4)
    assert big.shape == (4, 4, 3) and set(np.unique(big)) == set(np.unique(frame))
    assert upscale(frame, 2, 2) is frame


def test_camera_size_defaults_to_the_model_and_refuses_shrinking_or_non_square():
    assert camera_size(32, 0, 0) == (32, 32)
    assert camera_size(32, 128, 128) == (128, 128)
    with pytest.raises(ValueError, match="expected a square image of at least the model's 32x32"):
        camera_size(32, 16, 16)
    with pytest.raises(ValueError, match="camera_width x camera_height = 64x48"):
        camera_size(32, 64, 48)
