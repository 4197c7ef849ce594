"""The Push-T task, defined once: gym-pusht's geometry, the action encodings, the dense training
reward and the image preprocessing (pure: numpy, plus OpenCV for the resize).

gym-pusht: a disc agent (radius 15 px) pushes a T-shaped block in a 512 x 512 arena towards a fixed
goal pose; success is a coverage of the goal region above 0.95. The collector
(fog_training.data.pusht_collect), the state simulator for DMO (fog_training.pusht_state_env), the
evaluation in the true environment (fog_training.eval_policy) and the benchmark all read it from here.
The dense reward and why: docs/METHOD.md section 6.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

ENV_ID = "gym_pusht/PushT-v0"
ARENA = 512.0
"""gym-pusht's arena and action range: absolute agent targets in [0, 512]^2."""
SUCCESS_COVERAGE = 0.95
NATIVE_SIZE = 96
"""gym-pusht's own observation size; other sizes are made from it (see ``preprocess_pixels``)."""

# The T as gym-pusht builds it (PushTEnv.add_tee, scale 30, length 4): the bar's and the stem's
# corners in the body frame, in the order get_keypoints returns them (pymunk stores each
# rectangle's vertices counter-clockwise from its lowest-left corner): 0..3 bar, 4..7 stem.
T_LOCAL_KEYPOINTS = np.array(
    [(-60.0, 0.0), (60.0, 0.0), (60.0, 30.0), (-60.0, 30.0), (-15.0, 30.0), (15.0, 30.0), (15.0, 120.0), (-15.0, 120.0)]
)
T_CENTER_LOCAL = np.array([0.0, 45.0])
"""Centre of mass of the T in its body frame (both rectangles weigh the same)."""
AGENT_RADIUS = 15.0

ACTION_ENCODINGS = ("relative", "absolute")
DEFAULT_ACTION_SCALE_PX = 60.0
"""Relative encoding's scale: the scripted pusher's steps are at most 60 px (plus 10 px noise), so
at 60 px about 5 % of its per-axis action values clip (20 % at 40 px, 11 % at 50 px; measured on
24 episodes of the default collection)."""


@dataclasses.dataclass(frozen=True)
class PushTAction:
    """How a normalised Push-T action a in [-1, 1]^2 becomes gym-pusht's agent target (pixels).

    - ``relative``: target = clip(agent + scale_px * a, 0, 512): a small move from where the agent
      is (the paper's Push-T acts with small relative moves); a = 0 holds the agent still.
    - ``absolute``: target = (a + 1) * 256 anywhere in the arena; holding still is a = agent / 256 - 1.

    Every consumer (collection, the state env and DMO simulator, evaluation, SB3) steps gym-pusht
    through :meth:`target`, with the encoding read from the dataset's ``meta.action``
    (:meth:`from_meta`) or from a run's recorded ``action`` meta.
    """

    encoding: str = "relative"
    scale_px: float = DEFAULT_ACTION_SCALE_PX

    def __post_init__(self) -> None:
        if self.encoding not in ACTION_ENCODINGS:
            raise ValueError(f"Push-T action encoding must be one of {ACTION_ENCODINGS}, got {self.encoding!r}")
        if not self.scale_px > 0:
            raise ValueError(f"Push-T action scale must be positive, got {self.scale_px}")

    @property
    def relative(self) -> bool:
        return self.encoding == "relative"

    def target(self, action: np.ndarray, agent: np.ndarray) -> np.ndarray:
        """gym-pusht's env action (target pixels) for action(s) [..., 2] at agent position(s) [..., 2]."""
        a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        if self.relative:
            return np.clip(np.asarray(agent, np.float64) + self.scale_px * a, 0.0, ARENA)
        return (a + 1.0) * (ARENA / 2)

    def unclipped_action(self, target: np.ndarray, agent: np.ndarray) -> np.ndarray:
        """The action that would give ``target`` (may leave [-1, 1] in the relative encoding)."""
        t = np.asarray(target, np.float64)
        if self.relative:
            return (t - np.asarray(agent, np.float64)) / self.scale_px
        return t / (ARENA / 2) - 1.0

    def action(self, target: np.ndarray, agent: np.ndarray) -> np.ndarray:
        """The action in [-1, 1]^2 closest to ``target`` (relative moves longer than scale_px are clipped)."""
        return np.clip(self.unclipped_action(target, agent), -1.0, 1.0)

    def hold(self, agent: np.ndarray) -> np.ndarray:
        """The do-nothing action: the agent's target is where it is."""
        return self.action(agent, agent)

    def describe(self) -> str:
        if self.relative:
            return (
                f"relative move of the agent target: env action (pixels) = clip(agent position + {self.scale_px:g} "
                "* action, 0, 512); action 0 holds the agent still"
            )
        return "normalised absolute agent target: env action (pixels, [0, 512]) = (action + 1) * 256"

    def to_meta(self) -> dict:
        """The fields of ``meta.action`` (and of a run's recorded ``action``) that define the encoding."""
        names = ["target_dx", "target_dy"] if self.relative else ["target_x", "target_y"]
        m: dict = {"names": names, "encoding": self.encoding, "description": self.describe()}
        if self.relative:
            m["scale_px"] = float(self.scale_px)
        return m

    @classmethod
    def from_meta(cls, action_meta: dict | None) -> PushTAction:
        """Read ``meta.action`` (or a run's recorded ``action``) back; anything but ``relative`` is absolute.

        Stores written before the switch hold a sentence ("normalised absolute agent target: ...") in
        ``encoding``, or nothing: they were all absolute.
        """
        m = action_meta or {}
        if m.get("encoding") == "relative":
            return cls("relative", float(m["scale_px"]))
        return cls("absolute")

    @classmethod
    def from_store_meta(cls, meta: dict) -> PushTAction:
        return cls.from_meta(meta.get("action"))


def t_keypoints(x: float, y: float, angle: float) -> np.ndarray:
    """The T's 8 keypoints [8, 2] in the arena for body position (x, y) and angle (gym-pusht's state)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return T_LOCAL_KEYPOINTS @ rot.T + np.array([x, y])


GOAL_POSE = np.array([256.0, 256.0, math.pi / 4])
"""gym-pusht's fixed goal pose (x, y, angle)."""
GOAL_KEYPOINTS = t_keypoints(*GOAL_POSE)


_NEXT_CORNER = np.array([1, 2, 3, 0])


def point_to_t_distance(point: np.ndarray, keypoints: np.ndarray) -> float:
    """Euclidean distance from a point to the T (0 inside): min over its two convex rectangles."""
    quads = np.asarray(keypoints, float).reshape(2, 4, 2)
    edges = quads[:, _NEXT_CORNER] - quads
    rel = np.asarray(point, float) - quads
    cross = edges[..., 0] * rel[..., 1] - edges[..., 1] * rel[..., 0]
    if np.any(np.all(cross >= 0, axis=1) | np.all(cross <= 0, axis=1)):
        return 0.0
    t = np.clip((rel * edges).sum(-1) / (edges * edges).sum(-1), 0.0, 1.0)
    return float(np.sqrt(((rel - t[..., None] * edges) ** 2).sum(-1)).min())


def reward_terms(agent_xy: np.ndarray, block_pose: np.ndarray) -> tuple[float, float]:
    """(agent-to-T distance, mean keypoint-to-goal distance), both divided by 512."""
    kp = t_keypoints(*block_pose)
    d_agent = max(point_to_t_distance(np.asarray(agent_xy, float), kp) - AGENT_RADIUS, 0.0) / ARENA
    d_kp = float(np.linalg.norm(kp - GOAL_KEYPOINTS, axis=1).mean()) / ARENA
    return d_agent, d_kp


def dense_reward(
    coverage: float, agent_xy: np.ndarray, block_pose: np.ndarray, w_c: float, w_a: float, w_k: float
) -> float:
    """The training reward of a transition, from the state it leads to (docs/METHOD.md section 6).

    ``w_c * coverage - w_a * max(d(agent centre, T) - 15, 0) / 512 - w_k * mean_i |kp_i - goal_kp_i| / 512``
    where d is the distance from the agent's centre to the T (0 inside; 15 is the agent's radius,
    so the term is 0 in contact) and kp are the T's 8 corner keypoints.
    """
    d_agent, d_kp = reward_terms(agent_xy, block_pose)
    return w_c * coverage - w_a * d_agent - w_k * d_kp


def preprocess_pixels(pixels: np.ndarray, size: int) -> np.ndarray:
    """gym-pusht's 96x96 observation -> the stored ``size`` x ``size`` image (INTER_AREA).

    Evaluation in the true environment must apply the same function to ``obs["pixels"]``.
    """
    import cv2

    if pixels.shape[:2] == (size, size):
        return np.ascontiguousarray(pixels)
    return cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA)
