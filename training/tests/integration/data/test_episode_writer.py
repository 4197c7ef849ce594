"""fog_training.data.episode_writer in a real process: a writer killed mid-way (os._exit) leaves
every committed episode readable (EpisodeStore(allow_incomplete=True))."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from fog_training.data.episode_store import EpisodeStore


def test_killed_writer_process(tmp_path):
    """A real process that dies (os._exit) mid-way through writing."""
    path = tmp_path / "killed.zarr"
    code = textwrap.dedent(
        f"""
        import os, numpy as np
        from fog_training.data.episode_writer import EpisodeWriter
        w = EpisodeWriter({str(path)!r}, {{"source": "t"}}, image_shape=(4, 4), action_dim=1, proprio_dim=1)
        for i in range(3):
            t = 5 + i
            w.add_episode(image=np.full((t, 4, 4, 3), i, np.uint8), action=np.zeros((t, 1)),
                          proprio=np.zeros((t, 1)), reward=np.full(t, float(i)))
        w._arrays["image"].append(np.zeros((2, 4, 4, 3), np.uint8), axis=0)
        os._exit(1)
        """
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 1
    store = EpisodeStore(path, allow_incomplete=True)
    assert store.episode_bounds == [(0, 5), (5, 11), (11, 18)]
    assert (store.episode(2)["image"] == 2).all()
