"""The episode store: a chunked, compressed Zarr v3 group of concatenated episodes.

Every training stage reads this one format (docs/DATASET.md is the specification; keep the two in
agreement). :class:`EpisodeWriter` appends whole episodes; :class:`EpisodeStore` reads them back
and samples fixed-length windows that never cross an episode boundary.

Crash safety. The writer appends each episode's arrays first and only then commits it, by
rewriting the group attribute ``progress`` ({episodes, steps}). A writer killed mid-way therefore
leaves a store whose committed episodes are intact and whose arrays may hold a partial tail past
``progress.steps``. Readers refuse such a store by default (:class:`IncompleteStoreError` names it
and says how many episodes are committed); ``EpisodeStore(path, allow_incomplete=True)`` reads the
committed episodes and computes the normalization that ``close()`` never wrote.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

SCHEMA_VERSION = 1
"""Version of the layout in docs/DATASET.md. Bump it on any incompatible change."""

STEP_KEYS: tuple[str, ...] = ("image", "action", "proprio", "reward", "is_first", "is_last", "is_terminal")
"""Per-step arrays every store has, in this order."""

_FLAG_KEYS = ("is_first", "is_last", "is_terminal")
_NORM_KEYS = ("action", "proprio", "reward")
_SMALL_CHUNK = 4096  # time steps per chunk for the small per-step arrays (action, reward, ...)
_IMAGE_CHUNK_BYTES = 1 << 20  # ~1 MiB image chunks: big enough to compress, small enough to window


class SchemaVersionError(ValueError):
    """The store was written with a schema version this code does not know."""


class IncompleteStoreError(RuntimeError):
    """The writer never closed the store (killed, or an exception inside ``with EpisodeWriter``)."""


def _image_codecs() -> list:
    # LZ4 decodes several GB/s: the window sampler is bound by decompression, not by disk.
    return [BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")]


def _small_codecs() -> list:
    return [BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")]


def _jsonable(value: Any) -> Any:
    """Numpy scalars/arrays and paths -> plain JSON types (Zarr attributes are JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _stats(x: np.ndarray) -> dict[str, list[float] | float]:
    """mean/std/min/max over time (axis 0) of an ``[N]`` or ``[N, D]`` array."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] == 0:
        raise ValueError("cannot compute statistics of an empty array")
    out = {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0)}
    return {k: (v.tolist() if x.ndim > 1 else float(v)) for k, v in out.items()}


class _RunningStats:
    """Exact mean/std/min/max accumulated episode by episode (float64 sums)."""

    def __init__(self) -> None:
        self.n = 0
        self.s: np.ndarray | None = None
        self.ss: np.ndarray | None = None
        self.lo: np.ndarray | None = None
        self.hi: np.ndarray | None = None
        self.scalar = False

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.scalar = x.ndim == 1
        x = x.reshape(x.shape[0], -1)
        if self.s is None:
            self.s, self.ss = x.sum(0), (x * x).sum(0)
            self.lo, self.hi = x.min(0), x.max(0)
        else:
            self.s += x.sum(0)
            self.ss += (x * x).sum(0)
            self.lo = np.minimum(self.lo, x.min(0))
            self.hi = np.maximum(self.hi, x.max(0))
        self.n += x.shape[0]

    def result(self) -> dict[str, Any]:
        mean = self.s / self.n
        std = np.sqrt(np.maximum(self.ss / self.n - mean * mean, 0.0))
        out = {"mean": mean, "std": std, "min": self.lo, "max": self.hi}
        if self.scalar:
            return {k: float(v[0]) for k, v in out.items()}
        return {k: v.tolist() for k, v in out.items()}


class EpisodeWriter:
    """Append whole episodes to a new episode store.

    Example::

        with EpisodeWriter("data/x.zarr", meta, image_shape=(64, 64), action_dim=2, proprio_dim=4) as w:
            w.add_episode(image=img, action=act, proprio=prop, reward=rew,
                          is_terminal=term, extra={"coverage": cov})
        # leaving the block without an exception calls close()

    ``meta`` is stored as the group attribute ``meta``; the writer fills in ``schema_version``,
    ``image`` and, at ``close()``, ``normalization``. Every episode must carry the same set of
    extras with the same trailing shapes and dtypes.
    """

    def __init__(
        self,
        path: str | Path,
        meta: Mapping[str, Any],
        *,
        image_shape: tuple[int, int],
        action_dim: int,
        proprio_dim: int,
        overwrite: bool = False,
        image_chunk_frames: int | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"episode store {self.path} already exists (pass overwrite=True to replace it)")
        meta = dict(meta)
        version = meta.setdefault("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path}: this writer writes schema_version {SCHEMA_VERSION}, meta says {version}"
            )
        h, w = (int(v) for v in image_shape)
        meta["image"] = {"height": h, "width": w, **dict(meta.get("image", {}))}
        for key, dim in (("action", action_dim), ("proprio", proprio_dim)):
            names = dict(meta.get(key, {})).get("names")
            if names is not None and len(names) != dim:
                raise ValueError(f"meta.{key}.names has {len(names)} names but {key}_dim is {dim}")
        self.meta = meta
        self.image_shape = (h, w)
        self.action_dim = int(action_dim)
        self.proprio_dim = int(proprio_dim)
        frame_bytes = h * w * 3
        self.image_chunk_frames = int(image_chunk_frames or max(1, min(256, _IMAGE_CHUNK_BYTES // frame_bytes)))

        self._group = zarr.open_group(str(self.path), mode="w")
        self._group.attrs.update({"meta": _jsonable(meta), "complete": False, "progress": {"episodes": 0, "steps": 0}})
        self._arrays: dict[str, zarr.Array] = {}
        self._create("image", (h, w, 3), np.uint8, self.image_chunk_frames, _image_codecs())
        self._create("action", (self.action_dim,), np.float32)
        self._create("proprio", (self.proprio_dim,), np.float32)
        self._create("reward", (), np.float32)
        for key in _FLAG_KEYS:
            self._create(key, (), np.bool_)
        self._ends = self._group.create_array(
            "episode_ends",
            shape=(0,),
            chunks=(_SMALL_CHUNK,),
            dtype=np.int64,
            compressors=_small_codecs(),
            fill_value=0,
        )
        self._extra_spec: dict[str, tuple[tuple[int, ...], np.dtype]] | None = None
        self._stats = {k: _RunningStats() for k in _NORM_KEYS}
        self.num_steps = 0
        self.num_episodes = 0
        self._closed = False

    def _create(self, name: str, trailing: tuple[int, ...], dtype, chunk_t: int = _SMALL_CHUNK, codecs=None) -> None:
        self._arrays[name] = self._group.create_array(
            name,
            shape=(0, *trailing),
            chunks=(chunk_t, *trailing),
            dtype=dtype,
            compressors=codecs or _small_codecs(),
            fill_value=0,
        )

    def add_episode(
        self,
        *,
        image: np.ndarray,
        action: np.ndarray,
        proprio: np.ndarray,
        reward: np.ndarray,
        is_terminal: np.ndarray | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> tuple[int, int]:
        """Append one episode of T steps and commit it. Returns its (start, end) in the store.

        ``image`` uint8 [T, H, W, 3], ``action`` [T, A], ``proprio`` [T, P], ``reward`` [T],
        ``is_terminal`` bool [T] (default all False), ``extra`` {name: [T, ...]}. ``is_first`` and
        ``is_last`` are set from the episode boundaries.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: writer is closed")
        image = np.asarray(image)
        t = image.shape[0] if image.ndim == 4 else -1
        if image.dtype != np.uint8 or image.shape[1:] != (*self.image_shape, 3):
            raise ValueError(
                f"image must be uint8 [T, {self.image_shape[0]}, {self.image_shape[1]}, 3], "
                f"got {image.dtype} {image.shape}"
            )
        if t == 0:
            raise ValueError("an episode needs at least one step")
        data: dict[str, np.ndarray] = {"image": image}
        data["action"] = np.asarray(action, dtype=np.float32).reshape(t, self.action_dim)
        data["proprio"] = np.asarray(proprio, dtype=np.float32).reshape(t, self.proprio_dim)
        data["reward"] = np.asarray(reward, dtype=np.float32).reshape(t)
        term = np.zeros(t, bool) if is_terminal is None else np.asarray(is_terminal, dtype=bool).reshape(t)
        if term[:-1].any():
            # is_terminal[t] says the transition from o_t ended the episode: only the last step can.
            raise ValueError("is_terminal may only be set on an episode's last step")
        first = np.zeros(t, bool)
        first[0] = True
        last = np.zeros(t, bool)
        last[-1] = True
        data.update(is_first=first, is_last=last, is_terminal=term)
        for key in _NORM_KEYS:
            if not np.all(np.isfinite(data[key])):
                raise ValueError(f"{key} has non-finite values")

        extra = {k: np.asarray(v) for k, v in (extra or {}).items()}
        spec = {k: (v.shape[1:], v.dtype) for k, v in extra.items()}
        for k, v in extra.items():
            if v.shape[:1] != (t,):
                raise ValueError(f"extra/{k} has {v.shape[:1]} steps, the episode has {t}")
            if v.dtype.kind not in "biuf":
                raise ValueError(f"extra/{k}: only numeric/bool extras are stored, got {v.dtype}")
        if self._extra_spec is None:
            self._extra_spec = spec
            for k, (trailing, dtype) in spec.items():
                self._create(f"extra/{k}", trailing, dtype)
        elif spec != self._extra_spec:
            raise ValueError(f"extras {spec} differ from the first episode's {self._extra_spec}")
        data.update({f"extra/{k}": v for k, v in extra.items()})

        # Data first, commit record last: a kill between the two leaves an ignored tail.
        for key, arr in data.items():
            self._arrays[key].append(arr, axis=0)
        start, end = self.num_steps, self.num_steps + t
        self._ends.append(np.array([end], np.int64), axis=0)
        for key in _NORM_KEYS:
            self._stats[key].add(data[key])
        self.num_steps, self.num_episodes = end, self.num_episodes + 1
        self._group.attrs["progress"] = {"episodes": self.num_episodes, "steps": self.num_steps}
        return start, end

    def close(self) -> None:
        """Write the normalization statistics and mark the store complete. Idempotent."""
        if self._closed:
            return
        if self.num_episodes == 0:
            raise ValueError(f"{self.path}: no episodes were added")
        self.meta["normalization"] = {k: s.result() for k, s in self._stats.items()}
        self._group.attrs.update({"meta": _jsonable(self.meta), "complete": True})
        self._closed = True

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # On an exception the store stays incomplete (committed episodes readable on request).
        if exc_type is None:
            self.close()


class _ChunkCache:
    """LRU cache of decoded time-chunks of one large array (the images)."""

    def __init__(self, array: zarr.Array, limit: int, max_bytes: int) -> None:
        self.array = array
        self.limit = limit
        self.chunk = array.chunks[0]
        self.max_bytes = max_bytes
        self.bytes = 0
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, k: int) -> np.ndarray:
        hit = self.cache.get(k)
        if hit is not None:
            self.cache.move_to_end(k)
            return hit
        # One contiguous read per chunk: Zarr decodes the whole chunk anyway.
        data = self.array[k * self.chunk : min((k + 1) * self.chunk, self.limit)]
        self.cache[k] = data
        self.bytes += data.nbytes
        while self.bytes > self.max_bytes and len(self.cache) > 1:
            _, old = self.cache.popitem(last=False)
            self.bytes -= old.nbytes
        return data

    def read(self, start: int, stop: int) -> np.ndarray:
        c = self.chunk
        parts = []
        for k in range(start // c, (stop - 1) // c + 1):
            lo = max(start, k * c) - k * c
            hi = min(stop, (k + 1) * c) - k * c
            parts.append(self.get(k)[lo:hi])
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


class EpisodeStore:
    """Read-only view of an episode store.

    Small per-step arrays (action, proprio, reward, flags, extras) are loaded into memory on first
    use; images are read by whole chunks through an LRU cache of ``cache_bytes``, so sampling a
    batch of windows costs a few chunk decodes, not one read per frame.

    ``sample_windows`` and ``read_windows`` return ``{key: [B, L, ...]}`` for the per-step arrays
    (``image``, ``action``, ``proprio``, ``reward``, ``is_first``, ``is_last``, ``is_terminal``, and
    ``extra/<name>`` when asked for by ``keys``), plus ``start`` (int64 [B], store index of each
    window's first step) and ``episode`` (int64 [B]).
    """

    def __init__(self, path: str | Path, *, allow_incomplete: bool = False, cache_bytes: int = 512 << 20) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"episode store {self.path} does not exist")
        try:
            self._group = zarr.open_group(str(self.path), mode="r")
            attrs = dict(self._group.attrs)
        except Exception as e:  # corrupt or half-written zarr.json
            raise ValueError(f"{self.path} is not a readable episode store: {e}") from e
        meta = attrs.get("meta")
        if not isinstance(meta, dict) or "schema_version" not in meta:
            raise ValueError(f"{self.path} is not an episode store (no meta.schema_version attribute)")
        if meta["schema_version"] != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"episode store {self.path} has schema_version {meta['schema_version']!r}; this code reads "
                f"schema_version {SCHEMA_VERSION} only (re-create the dataset, or use a matching fog_training)"
            )
        progress = attrs.get("progress", {})
        self.complete = bool(attrs.get("complete", False))
        n_ep, n = int(progress.get("episodes", 0)), int(progress.get("steps", 0))
        if not self.complete and not allow_incomplete:
            raise IncompleteStoreError(
                f"episode store {self.path} was never closed (writer killed?); {n_ep} episodes / {n} steps "
                "are committed: open it with EpisodeStore(path, allow_incomplete=True) to read them"
            )
        if n_ep == 0:
            raise ValueError(f"episode store {self.path} holds no committed episode")
        self.meta: dict[str, Any] = meta
        ends = np.asarray(self._group["episode_ends"][:n_ep], dtype=np.int64)
        if ends.shape[0] != n_ep or int(ends[-1]) != n:
            raise ValueError(f"episode store {self.path}: episode_ends disagrees with progress {progress}")
        self.episode_ends = ends
        self.keys: tuple[str, ...] = (
            tuple(STEP_KEYS) + tuple(f"extra/{k}" for k in sorted(self._group["extra"].array_keys()))
            if "extra" in self._group
            else tuple(STEP_KEYS)
        )
        self._arrays: dict[str, zarr.Array] = {}
        for key in self.keys:
            arr = self._group[key]
            if arr.shape[0] < n:
                raise ValueError(f"episode store {self.path}: array {key} has {arr.shape[0]} steps, expected {n}")
            self._arrays[key] = arr
        self._memory: dict[str, np.ndarray] = {}
        self._images = _ChunkCache(self._arrays["image"], n, cache_bytes)
        if "normalization" not in self.meta:
            # Incomplete store: close() never ran, so compute what it would have written.
            self.meta = {**self.meta, "normalization": {k: _stats(self._load(k)) for k in _NORM_KEYS}}

    # ---- shape and bookkeeping ----
    @property
    def num_steps(self) -> int:
        return int(self.episode_ends[-1])

    @property
    def num_episodes(self) -> int:
        return int(self.episode_ends.shape[0])

    @property
    def episode_bounds(self) -> list[tuple[int, int]]:
        starts = np.concatenate([[0], self.episode_ends[:-1]])
        return [(int(s), int(e)) for s, e in zip(starts, self.episode_ends, strict=True)]

    @property
    def episode_lengths(self) -> np.ndarray:
        return np.diff(np.concatenate([[0], self.episode_ends]))

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self._arrays["image"].shape[1:3])

    @property
    def action_dim(self) -> int:
        return int(self._arrays["action"].shape[1])

    @property
    def proprio_dim(self) -> int:
        return int(self._arrays["proprio"].shape[1])

    @property
    def normalization(self) -> dict[str, dict[str, Any]]:
        return self.meta["normalization"]

    def __len__(self) -> int:
        return self.num_steps

    def __repr__(self) -> str:
        return f"EpisodeStore({str(self.path)!r}, episodes={self.num_episodes}, steps={self.num_steps})"

    # ---- reading ----
    def _load(self, key: str) -> np.ndarray:
        """A non-image array, whole, in memory (small: N x a few floats)."""
        if key not in self._arrays:
            raise KeyError(f"{self.path} has no array {key!r} (has {', '.join(self.keys)})")
        if key not in self._memory:
            self._memory[key] = np.asarray(self._arrays[key][: self.num_steps])
        return self._memory[key]

    def array(self, key: str) -> np.ndarray:
        """A whole per-step array over all committed steps (images: reads them all)."""
        if key == "image":
            return self._images.read(0, self.num_steps)
        return self._load(key)

    def episode(self, i: int) -> dict[str, np.ndarray]:
        """All per-step arrays of episode ``i`` (negative indexes count from the end)."""
        i = range(self.num_episodes)[i]
        start, end = self.episode_bounds[i]
        out = {"image": np.asarray(self._arrays["image"][start:end])}
        out.update({k: self._load(k)[start:end] for k in self.keys if k != "image"})
        return out

    def _valid_starts(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        lengths = self.episode_lengths
        counts = np.maximum(lengths - length + 1, 0)
        if counts.sum() == 0:
            raise ValueError(
                f"{self.path}: no episode is at least {length} steps long (longest is {int(lengths.max())})"
            )
        return counts, np.concatenate([[0], self.episode_ends[:-1]])

    def sample_windows(
        self,
        batch: int,
        length: int,
        rng: np.random.Generator | int | None = None,
        keys: Iterable[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """``batch`` windows of ``length`` consecutive steps, each fully inside one episode.

        Start positions are uniform over every valid window in the store (so a long episode is
        sampled in proportion to its length).
        """
        if length < 1 or batch < 1:
            raise ValueError("batch and length must be >= 1")
        rng = np.random.default_rng(rng)
        counts, ep_starts = self._valid_starts(length)
        cum = np.cumsum(counts)
        u = rng.integers(0, int(cum[-1]), size=batch)
        ep = np.searchsorted(cum, u, side="right")
        offset = u - (cum[ep] - counts[ep])
        return self.read_windows(ep_starts[ep] + offset, length, keys)

    def read_windows(
        self, starts: Sequence[int] | np.ndarray, length: int, keys: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Windows ``[s, s + length)`` for the given store indexes; each must lie in one episode."""
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        ep = np.searchsorted(self.episode_ends, starts, side="right")
        if (
            np.any(starts < 0)
            or np.any(ep >= self.num_episodes)
            or np.any(starts + length > self.episode_ends[np.minimum(ep, self.num_episodes - 1)])
        ):
            raise ValueError(f"a window [s, s+{length}) crosses an episode end or the store's end")
        keys = list(STEP_KEYS if keys is None else keys)
        idx = starts[:, None] + np.arange(length)[None, :]
        out: dict[str, np.ndarray] = {}
        for key in keys:
            if key == "image":
                h, w = self.image_shape
                img = np.empty((len(starts), length, h, w, 3), np.uint8)
                for b, s in enumerate(starts):
                    img[b] = self._images.read(int(s), int(s) + length)
                out[key] = img
            else:
                out[key] = self._load(key)[idx]
        out["start"] = starts
        out["episode"] = ep.astype(np.int64)
        return out


def make_synthetic_store(
    path: str | Path,
    episodes: int = 4,
    steps: int | Sequence[int] = 32,
    image_hw: tuple[int, int] = (32, 32),
    seed: int = 0,
    *,
    overwrite: bool = True,
) -> EpisodeStore:
    """A small store with real structure, for tests of anything that reads datasets.

    A square moves on a dark image; the action (vx, vy) in [-1, 1]^2 (a smooth random walk)
    moves it by ``0.08 * action`` per step, clipped to the unit square. ``proprio`` is
    (x, y, dx, dy) (position and last displacement), ``extra/state`` the position after the step,
    and ``reward[t] = -|| pos[t+1] - (0.5, 0.5) ||`` depends on the state the action leads to.
    ``steps`` is one length for every episode or a length per episode. Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    lengths = [int(steps)] * episodes if np.isscalar(steps) else [int(s) for s in steps]
    if len(lengths) != episodes:
        raise ValueError(f"{len(lengths)} lengths given for {episodes} episodes")
    h, w = (int(v) for v in image_hw)
    side = max(2, min(h, w) // 6)
    goal = np.array([0.5, 0.5])
    meta = {
        "source": "synthetic",
        "policy_rate_hz": 5.0,
        "action": {"names": ["vx", "vy"], "low": [-1.0, -1.0], "high": [1.0, 1.0]},
        "proprio": {"names": ["x", "y", "dx", "dy"]},
        "reward_source": "synthetic: reward[t] = -||pos[t+1] - (0.5, 0.5)||, "
        "pos[t+1] = clip(pos[t] + 0.08 * action[t], 0, 1)",
        "created_by": "fog_training.data.episode_store.make_synthetic_store",
        "config": {"episodes": episodes, "steps": lengths, "image_hw": [h, w], "seed": seed},
    }
    with EpisodeWriter(path, meta, image_shape=(h, w), action_dim=2, proprio_dim=4, overwrite=overwrite) as writer:
        for t_len in lengths:
            pos = rng.uniform(0.1, 0.9, size=2)
            prev = pos.copy()
            a = rng.uniform(-1, 1, size=2)
            imgs = np.full((t_len, h, w, 3), 30, np.uint8)
            act = np.zeros((t_len, 2), np.float32)
            prop = np.zeros((t_len, 4), np.float32)
            rew = np.zeros(t_len, np.float32)
            state = np.zeros((t_len, 2), np.float32)
            for t in range(t_len):
                py, px = int(round(pos[1] * (h - side))), int(round(pos[0] * (w - side)))
                imgs[t, py : py + side, px : px + side] = (230, 60, 40)
                prop[t] = [*pos, *(pos - prev)]
                a = np.clip(0.8 * a + 0.4 * rng.normal(size=2), -1, 1)
                act[t] = a
                prev, pos = pos, np.clip(pos + 0.08 * a, 0.0, 1.0)
                state[t] = pos
                rew[t] = -np.linalg.norm(pos - goal)
            writer.add_episode(image=imgs, action=act, proprio=prop, reward=rew, extra={"state": state})
    return EpisodeStore(path)


def describe(path: str | Path) -> str:
    """One-paragraph human summary of a store (used by the CLIs after writing)."""
    store = EpisodeStore(path)
    lengths = store.episode_lengths
    return (
        f"{store.path}: {store.num_episodes} episodes, {store.num_steps} steps "
        f"(length min/mean/max {lengths.min()}/{lengths.mean():.1f}/{lengths.max()}), image {store.image_shape}, "
        f"action {store.action_dim}, proprio {store.proprio_dim}, extras "
        f"{[k[6:] for k in store.keys if k.startswith('extra/')]}; meta keys {json.dumps(sorted(store.meta))}"
    )
