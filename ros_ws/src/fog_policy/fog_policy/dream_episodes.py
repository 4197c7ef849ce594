"""The dream's episodes, pure: which start window and noise seed each one uses, when it ends, its
return, and the line it leaves in the episode log; the published camera's intrinsics and frame size
(no ROS, no torch).

Episode 0 uses window ``start`` and seed ``seed``. Each later episode is drawn by how the previous
one ended: ``next`` (dream/reset, a terminal frame, the time limit) takes the next window and seed,
``same`` (dream/restart) repeats the current ones, ``first`` (dream/rewind) goes back to ``start``,
``seed``. Window k is ``start + k`` (the dream wraps it modulo the number of windows) with seed
``seed + k``: the same parameters give the same dreams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

DRAWS = ("next", "same", "first")
REASONS = {"first": "dream/rewind", "same": "dream/restart", "next": "dream/reset"}
"""The service that asks for each kind of draw."""


@dataclass
class DreamEpisodes:
    start: int
    seed: int
    episode: int = 0
    draws: int = 0
    """Start windows drawn so far: the episode's window is start + draws, its seed seed + draws."""
    episode_return: float = 0.0
    _counts_at_start: dict[str, int] = field(default_factory=dict)

    @property
    def window(self) -> int:
        return self.start + self.draws

    @property
    def episode_seed(self) -> int:
        return self.seed + self.draws

    def begin(self, counters: dict[str, int]) -> None:
        """The current episode starts now; ``counters`` (e.g. clipped commands) are reported per episode."""
        self.episode_return = 0.0
        self._counts_at_start = dict(counters)

    def advance(self, which: str) -> None:
        """The next episode, drawn as ``which`` (one of DRAWS) says."""
        if which not in DRAWS:
            raise ValueError(f"unknown draw {which!r}: expected one of {', '.join(DRAWS)}")
        self.episode += 1
        self.draws = 0 if which == "first" else self.draws + (which == "next")

    def log_row(self, ended_by: str, window: int, dataset_episode: int, steps: int, rate: float,
                counters: dict[str, int]) -> dict:
        """The episode log's line for the episode that ends now (``window``: the dream's own index of
        its start window, wrapped to the number of windows)."""
        row = {
            "episode": self.episode,
            "start_window": window,
            "dataset_episode": dataset_episode,
            "seed": self.episode_seed,
            "steps": steps,
            "seconds": steps / rate,
            "return": self.episode_return,
            "terminated": ended_by == "terminal frame",
            "ended_by": ended_by,
        }
        row.update({k: v - self._counts_at_start.get(k, 0) for k, v in counters.items()})
        return row


def episode_end(terminated: bool, steps: int, limit_steps: int, reset_on_termination: bool,
                episode_seconds: float) -> str | None:
    """Why the current episode ends after its last step (a terminal frame, the time limit), or None."""
    if steps <= 0:
        return None
    if reset_on_termination and terminated:
        return "terminal frame"
    if limit_steps and steps >= limit_steps:
        return f"time limit {episode_seconds:g} s"
    return None


def camera_size(model_size: int, width: int, height: int) -> tuple[int, int]:
    """The published image size (width, height): the parameters, 0 meaning the model's frame size; it
    must be square and at least the model's (frames are upscaled, never shrunk)."""
    width, height = width or model_size, height or model_size
    if width != height or width < model_size:
        raise ValueError(
            f"camera_width x camera_height = {width}x{height}: expected a square image of at least the "
            f"model's {model_size}x{model_size} (the model's frames are square; it is upscaled, never shrunk)"
        )
    return width, height


def scaled_camera_info(
    info: dict | None, width: int, height: int, fovy_deg: float
) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) of the recorded camera rescaled to width x height (resize, no crop); without a
    recorded calibration, a pinhole with vertical field of view ``fovy_deg``."""
    if info and info.get("width") and info.get("height") and info.get("k"):
        sx, sy = width / float(info["width"]), height / float(info["height"])
        k = info["k"]
        return k[0] * sx, k[4] * sy, (k[2] + 0.5) * sx - 0.5, (k[5] + 0.5) * sy - 0.5
    fy = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
    return fy, fy, (width - 1) / 2.0, (height - 1) / 2.0


def upscale(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A model frame [H, W, 3] at the published size (nearest neighbour: no invented detail)."""
    if frame.shape[:2] == (height, width):
        return frame
    import cv2

    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_NEAREST)
