"""The global world model as a robot (no ROS): imagined frames, reward and termination from real starts.

``load_world(path)`` reads a world model and the real context windows it starts from, from any of:

  - a dream bundle (``fog export-dream``): ``dream.json``, ``config.json`` + ``model.safetensors``
    (the global model, weights in float16) and ``starts.npz`` (start windows cut from the dataset);
  - a global model folder (``RUN/model``: ``config.json`` of a ``fog_worldmodel.GlobalWorldModel``
    + ``model.safetensors``) with an episode store (``dataset``);
  - a training run (``fog train world-model --out RUN``: ``RUN/model`` and ``RUN/config.json``,
    whose ``data`` names the episode store it was trained on; ``dataset`` overrides it).

``Dream`` steps one imagined robot::

    model, spec = load_world("artifacts/goal/world_model")
    dream = Dream(model, spec)
    frame = dream.reset(start=3, seed=0)       # the start window's last real frame, uint8 [S, S, 3]
    out = dream.step([0.3, 0.0, 0.2])          # DreamStep: next imagined frame, reward, termination

A start window is an episode's first ``L`` frames and the actions taken between them (the dataset's
convention: ``action[t]`` is taken at frame t). Actions are clipped to the dataset's action bounds
(the model never saw others) and the clipping is reported. Torch only: the ROS node is
``fog_policy.dream_node``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fog_worldmodel.global_world_model import FORMAT as MODEL_FORMAT
from fog_worldmodel.global_world_model import GlobalWorldModel
from fog_worldmodel.image_ops import float_to_frames, frames_to_float
from fog_worldmodel.world_model_env import WorldModelEnv

BUNDLE_FORMAT = "fog_worldmodel.DreamBundle/1"
BUNDLE_FILE = "dream.json"
STARTS_FILE = "starts.npz"


class WorldModelFolderError(ValueError):
    """A world-model folder or dataset that cannot be used; the message names it and what was expected."""


@dataclass
class DreamStarts:
    """Real context windows to start imagined episodes from."""

    frames: np.ndarray
    """uint8 [N, L, S, S, 3] at the model's resolution."""
    actions: np.ndarray
    """float32 [N, L, A]: action[i] taken at frame i (the last one is not used)."""
    episodes: np.ndarray
    """int64 [N]: the dataset episode each window comes from."""

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass
class DreamSpec:
    """What a dream needs besides the model: its starts and the robot's contract facts."""

    starts: DreamStarts
    action_names: list[str]
    action_low: np.ndarray
    action_high: np.ndarray
    policy_rate_hz: float
    source: str
    """Where the model and the starts came from (for logs and /diagnostics)."""
    camera_info: dict[str, Any] | None = None
    """The recorded camera's calibration (dataset meta.camera_info), if known."""
    info: dict[str, Any] = field(default_factory=dict)
    """The bundle's dream.json (empty for a run or model folder)."""


@dataclass
class DreamStep:
    frame: np.ndarray
    """The next imagined frame, uint8 [S, S, 3]."""
    reward: float
    """Imagined reward of the transition (dataset units)."""
    termination_probability: float
    """The head's probability that the new frame is terminal."""
    terminated: bool
    """termination_probability > the done threshold (0.5)."""
    action: np.ndarray
    """The action the model was stepped with (after clipping)."""
    clipped: bool
    """The commanded action was outside the dataset's bounds and was clipped."""


# ------------------------------------------------------------------ loading


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise WorldModelFolderError(f"{path}: cannot read {what} ({e})") from e


def is_model_dir(d: Path) -> bool:
    """Whether ``d`` holds a saved global world model (a config.json of this package's format)."""
    if not (d / "config.json").is_file():
        return False
    try:
        return json.loads((d / "config.json").read_text()).get("format") == MODEL_FORMAT
    except (OSError, ValueError):
        return False


def load_model(model_dir: str | Path, threads: int | None = None) -> GlobalWorldModel:
    d = Path(model_dir)
    if not (d / "model.safetensors").is_file():
        raise WorldModelFolderError(f"{d}: no model.safetensors beside config.json (an incomplete world-model folder)")
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return GlobalWorldModel.from_pretrained(d)
    except Exception as e:  # safetensors/torch raise their own types; name the folder
        raise WorldModelFolderError(f"{d}: cannot load the global world model ({type(e).__name__}: {e})") from e


def resolve_data(run: Path, data: str) -> Path:
    """The run's recorded dataset path: as written, else relative to the run's parent folders."""
    p = Path(data)
    if p.is_absolute() or p.exists():
        return p
    for parent in run.resolve().parents:
        if (parent / p).exists():
            return parent / p
    return p


def model_folder(path: str | Path) -> tuple[Path, dict]:
    """(model folder, what is known about it: the bundle's dream.json, or the run's config.json) of a
    bundle, a model folder, a run or a pipeline work folder (WORK/global)."""
    p = Path(path)
    if (p / BUNDLE_FILE).is_file() and is_model_dir(p):
        return p, _read_json(p / BUNDLE_FILE, BUNDLE_FILE)
    for model_dir, run in ((p, p.parent), (p / "model", p), (p / "global" / "model", p / "global")):
        if is_model_dir(model_dir):
            try:
                info = json.loads((run / "config.json").read_text())
            except (OSError, ValueError):
                info = {}
            info = info if isinstance(info, dict) and "data" in info else {}
            if info.get("data"):
                info["data"] = str(resolve_data(run, info["data"]))
            return model_dir, info
    raise WorldModelFolderError(
        f"world model {p} is not one: expected {BUNDLE_FILE} (a dream bundle from `fog export-dream`), "
        f"config.json of a {MODEL_FORMAT} (a global model folder), or model/config.json (a "
        "`fog train world-model` run)"
    )


def load_world(
    path: str | Path, dataset: str | Path | None = None, episodes: list[int] | None = None, threads: int | None = None
) -> tuple[GlobalWorldModel, DreamSpec]:
    """The model and its spec from a bundle, a model folder or a training run (module docstring)."""
    p = Path(path)
    if not p.is_dir():
        raise WorldModelFolderError(
            f"world model {p}: no such folder (expected a dream bundle from `fog export-dream`, a global model "
            "folder with config.json + model.safetensors, or a `fog train world-model` run folder)"
        )
    if (p / BUNDLE_FILE).is_file():
        if dataset:
            model = load_model(p, threads)
            return model, spec_from_store(dataset, model, episodes, source=f"{p} + starts from {dataset}")
        return load_bundle(p, episodes, threads)
    if is_model_dir(p):
        model_dir, run = p, p.parent
    elif is_model_dir(p / "model"):
        model_dir, run = p / "model", p
    else:
        raise WorldModelFolderError(
            f"world model {p} is not one: expected {BUNDLE_FILE} (a dream bundle from `fog export-dream`), "
            f"config.json of a {MODEL_FORMAT} (a global model folder), or model/config.json (a "
            "`fog train world-model` run)"
        )
    model = load_model(model_dir, threads)
    if not dataset:
        cfg = run / "config.json"
        data = _read_json(cfg, "the run's config").get("data") if cfg.is_file() else None
        if not data:
            raise WorldModelFolderError(
                f"world model {p}: the start contexts come from a dataset, and none is known: give the "
                f"episode store (dataset:=, --dataset), or use a dream bundle (`fog export-dream`)"
            )
        dataset = resolve_data(run, data)
    return model, spec_from_store(dataset, model, episodes, source=f"{model_dir} + starts from {dataset}")


def load_bundle(d: Path, episodes: list[int] | None = None, threads: int | None = None):
    info = _read_json(d / BUNDLE_FILE, BUNDLE_FILE)
    if info.get("format") != BUNDLE_FORMAT:
        raise WorldModelFolderError(f"{d / BUNDLE_FILE}: format {info.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    model = load_model(d, threads)
    try:
        with np.load(d / STARTS_FILE) as z:
            starts = DreamStarts(z["frames"], z["actions"].astype(np.float32), z["episodes"].astype(np.int64))
    except (OSError, KeyError, ValueError) as e:
        raise WorldModelFolderError(f"{d / STARTS_FILE}: cannot read the start windows ({e})") from e
    _check_starts(starts, model, str(d / STARTS_FILE))
    if episodes is not None:
        starts = _select(starts, episodes, str(d / STARTS_FILE))
    a = info["action"]
    return model, DreamSpec(
        starts=starts,
        action_names=list(a["names"]),
        action_low=np.asarray(a["low"], np.float64),
        action_high=np.asarray(a["high"], np.float64),
        policy_rate_hz=float(info["policy_rate_hz"]),
        source=str(d),
        camera_info=info.get("camera_info"),
        info=info,
    )


def _select(starts: DreamStarts, episodes: list[int], where: str) -> DreamStarts:
    have = [int(e) for e in starts.episodes]
    missing = [e for e in episodes if e not in have]
    if missing:
        raise WorldModelFolderError(f"{where}: no start window of episode(s) {missing} (it has episodes {have})")
    idx = [have.index(e) for e in episodes]
    return DreamStarts(starts.frames[idx], starts.actions[idx], starts.episodes[idx])


def _check_starts(starts: DreamStarts, model: GlobalWorldModel, where: str) -> None:
    c = model.cfg
    want = (c.context_length, c.image_size, c.image_size, 3)
    if starts.frames.ndim != 5 or tuple(starts.frames.shape[1:]) != want or starts.frames.dtype != np.uint8:
        raise WorldModelFolderError(
            f"{where}: start frames are {starts.frames.dtype} {tuple(starts.frames.shape)}, expected uint8 [N, "
            f"{', '.join(map(str, want))}] for this model"
        )
    if starts.actions.shape != (len(starts), c.context_length, c.action_dim):
        raise WorldModelFolderError(
            f"{where}: start actions are {tuple(starts.actions.shape)}, "
            f"expected [N, {c.context_length}, {c.action_dim}]"
        )
    if len(starts) == 0:
        raise WorldModelFolderError(f"{where}: holds no start window")


def read_store(dataset: str | Path) -> tuple[Any, dict, np.ndarray]:
    """(zarr group, meta, episode_ends) of an episode store (docs/DATASET.md), read without fog_training."""
    import zarr

    d = Path(dataset)
    if not d.exists():
        raise WorldModelFolderError(f"dataset {d}: no such episode store (a `fog dataset` Zarr folder)")
    try:
        g = zarr.open_group(str(d), mode="r")
        attrs = dict(g.attrs)
    except Exception as e:
        raise WorldModelFolderError(f"dataset {d} is not a readable episode store ({e})") from e
    meta = attrs.get("meta")
    if not isinstance(meta, dict) or "schema_version" not in meta:
        raise WorldModelFolderError(f"dataset {d} is not an episode store (no meta.schema_version attribute)")
    n_ep = int(attrs.get("progress", {}).get("episodes", 0))
    if n_ep == 0:
        raise WorldModelFolderError(f"dataset {d} holds no committed episode")
    ends = np.asarray(g["episode_ends"][:n_ep], np.int64)
    return g, meta, ends


def store_starts(
    dataset: str | Path, context_length: int, image_size: int, episodes: list[int] | None = None
) -> DreamStarts:
    """The first ``context_length`` frames and actions of each episode (all, or ``episodes``), resized."""
    g, _meta, ends = read_store(dataset)
    begins = np.concatenate([[0], ends[:-1]])
    lengths = ends - begins
    n = len(ends)
    if episodes is None:
        chosen = [e for e in range(n) if lengths[e] >= context_length]
    else:
        bad = [e for e in episodes if not 0 <= e < n]
        if bad:
            raise WorldModelFolderError(f"dataset {dataset} has episodes 0..{n - 1}, not {bad}")
        short = [e for e in episodes if lengths[e] < context_length]
        if short:
            raise WorldModelFolderError(
                f"dataset {dataset}: episode(s) {short} have fewer than the model's {context_length} context frames"
            )
        chosen = list(episodes)
    if not chosen:
        raise WorldModelFolderError(f"dataset {dataset}: no episode has the model's {context_length} context frames")
    frames = np.stack([np.asarray(g["image"][begins[e] : begins[e] + context_length]) for e in chosen])
    actions = np.stack([np.asarray(g["action"][begins[e] : begins[e] + context_length]) for e in chosen])
    if frames.shape[2:4] != (image_size, image_size):
        frames = float_to_frames(frames_to_float(torch.from_numpy(frames), image_size)).numpy()
    return DreamStarts(frames.astype(np.uint8), actions.astype(np.float32), np.asarray(chosen, np.int64))


def spec_from_store(dataset, model: GlobalWorldModel, episodes=None, source: str = "") -> DreamSpec:
    _g, meta, _ends = read_store(dataset)
    c = model.cfg
    a = meta.get("action", {})
    if "low" not in a or "high" not in a:
        raise WorldModelFolderError(f"dataset {dataset}: meta.action has no low/high bounds")
    if len(a["low"]) != c.action_dim:
        raise WorldModelFolderError(
            f"dataset {dataset}: actions have {len(a['low'])} dimensions, the world model takes {c.action_dim}"
        )
    starts = store_starts(dataset, c.context_length, c.image_size, episodes)
    return DreamSpec(
        starts=starts,
        action_names=list(a.get("names", [f"a{i}" for i in range(c.action_dim)])),
        action_low=np.asarray(a["low"], np.float64),
        action_high=np.asarray(a["high"], np.float64),
        policy_rate_hz=float(meta.get("policy_rate_hz", 5.0)),
        source=source or str(dataset),
        camera_info=meta.get("camera_info"),
    )


# ------------------------------------------------------------------ stepping


class Dream:
    """One imagined robot: reset from a start window, step with actions (batch 1, no gradients)."""

    def __init__(self, model: GlobalWorldModel, spec: DreamSpec, device: str = "cpu", done_threshold: float = 0.5):
        self.model = model
        self.spec = spec
        self.env = WorldModelEnv(model, device=device, done_threshold=done_threshold, as_numpy=True)
        self.done_threshold = done_threshold
        self.start: int | None = None
        self.steps = 0

    @property
    def image_size(self) -> int:
        return int(self.model.cfg.image_size)

    @property
    def num_starts(self) -> int:
        return len(self.spec.starts)

    def reset(self, start: int = 0, seed: int = 0) -> np.ndarray:
        """Start from window ``start % num_starts`` with sampler seed ``seed``; the last real frame."""
        i = int(start) % self.num_starts
        s = self.spec.starts
        frame = self.env.reset(s.frames[i : i + 1], s.actions[i : i + 1], seed=int(seed))
        self.start, self.steps = i, 0
        return frame[0]

    def clip(self, action) -> tuple[np.ndarray, bool]:
        a = np.asarray(action, np.float64).reshape(-1)
        if a.shape[0] != self.model.cfg.action_dim:
            raise ValueError(f"action has {a.shape[0]} values, the world model takes {self.model.cfg.action_dim}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action {a.tolist()} is not finite")
        c = np.clip(a, self.spec.action_low, self.spec.action_high)
        return c, bool(np.any(c != a))

    def step(self, action) -> DreamStep:
        if self.start is None:
            raise RuntimeError("call reset() before step()")
        a, clipped = self.clip(action)
        with torch.no_grad():
            frames, rewards, _dones = self.env.step(a[None].astype(np.float32))
        p = float(self.env.last_termination_probability[0])
        self.steps += 1
        return DreamStep(frames[0], float(rewards[0]), p, p > self.done_threshold, a, clipped)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB) of two uint8 frames; identical frames give 148 dB (the MSE is floored at 1e-10)."""
    mse = max(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)), 1e-10)
    return float(10 * np.log10(255.0**2 / mse))
