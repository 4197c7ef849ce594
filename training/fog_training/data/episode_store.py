"""The episode store: a chunked, compressed Zarr v3 group of concatenated episodes.

Every training stage reads this one format (docs/DATASET.md is the specification; keep the two in
agreement). :class:`fog_training.data.episode_writer.EpisodeWriter` appends whole episodes; :class:`EpisodeStore`
reads them back and samples fixed-length windows that never cross an episode boundary.

Crash safety. The writer appends each episode's arrays first and only then commits it, by
rewriting the group attribute ``progress`` ({episodes, steps}). A writer killed mid-way therefore
leaves a store whose committed episodes are intact and whose arrays may hold a partial tail past
``progress.steps``. Readers refuse such a store by default (:class:`IncompleteStoreError` names it
and says how many episodes are committed); ``EpisodeStore(path, allow_incomplete=True)`` reads the
committed episodes and computes the normalization that ``close()`` never wrote.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

SCHEMA_VERSION = 1
"""Version of the layout in docs/DATASET.md. Bump it on any incompatible change."""

STEP_KEYS: tuple[str, ...] = ("image", "action", "proprio", "reward", "is_first", "is_last", "is_terminal")
"""Per-step arrays every store has, in this order."""

FLAG_KEYS = ("is_first", "is_last", "is_terminal")
NORM_KEYS = ("action", "proprio", "reward")
SMALL_CHUNK = 4096  # time steps per chunk for the small per-step arrays (action, reward, ...)
IMAGE_CHUNK_BYTES = 1 << 20  # ~1 MiB image chunks: big enough to compress, small enough to window


class SchemaVersionError(ValueError):
    """The store was written with a schema version this code does not know."""


class IncompleteStoreError(RuntimeError):
    """The writer never closed the store (killed, or an exception inside ``with EpisodeWriter``)."""


def _stats(x: np.ndarray) -> dict[str, list[float] | float]:
    """mean/std/min/max over time (axis 0) of an ``[N]`` or ``[N, D]`` array."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] == 0:
        raise ValueError("cannot compute statistics of an empty array")
    out = {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0)}
    return {k: (v.tolist() if x.ndim > 1 else float(v)) for k, v in out.items()}


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
            self.meta = {**self.meta, "normalization": {k: _stats(self._load(k)) for k in NORM_KEYS}}

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
