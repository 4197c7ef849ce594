"""`fog collect-pusht` with worker processes (a spawn pool): the episodes do not depend on the worker
count, since episode i is seeded from (seed, i)."""

from __future__ import annotations

import numpy as np
from fog_training.data.episode_store import EpisodeStore
from fog_training.data.pusht_collect import main as collect_main


def test_workers_give_the_same_episodes(tmp_path):
    args = ["--episodes", "2", "--max-steps", "8", "--image-size", "32", "--seed", "5"]
    assert collect_main([*args, "--workers", "1", "--out", str(tmp_path / "a.zarr")]) == 0
    assert collect_main([*args, "--workers", "2", "--out", str(tmp_path / "b.zarr")]) == 0
    a, b = EpisodeStore(tmp_path / "a.zarr"), EpisodeStore(tmp_path / "b.zarr")
    for i in range(2):
        ea, eb = a.episode(i), b.episode(i)
        for key in ("image", "action", "reward", "extra/state"):
            np.testing.assert_array_equal(ea[key], eb[key])
