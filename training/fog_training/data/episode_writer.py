"""Writing the episode store (the format: fog_training.data.episode_store and docs/DATASET.md).

:class:`EpisodeWriter` appends whole episodes and commits each one only after its arrays are
written (the ``progress`` attribute), so a killed writer leaves every committed episode intact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from fog_training.data.episode_store import (
    FLAG_KEYS,
    IMAGE_CHUNK_BYTES,
    NORM_KEYS,
    SCHEMA_VERSION,
    SMALL_CHUNK,
    SchemaVersionError,
)


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
        self.image_chunk_frames = int(image_chunk_frames or max(1, min(256, IMAGE_CHUNK_BYTES // frame_bytes)))

        self._group = zarr.open_group(str(self.path), mode="w")
        self._group.attrs.update({"meta": _jsonable(meta), "complete": False, "progress": {"episodes": 0, "steps": 0}})
        self._arrays: dict[str, zarr.Array] = {}
        self._create("image", (h, w, 3), np.uint8, self.image_chunk_frames, _image_codecs())
        self._create("action", (self.action_dim,), np.float32)
        self._create("proprio", (self.proprio_dim,), np.float32)
        self._create("reward", (), np.float32)
        for key in FLAG_KEYS:
            self._create(key, (), np.bool_)
        self._ends = self._group.create_array(
            "episode_ends",
            shape=(0,),
            chunks=(SMALL_CHUNK,),
            dtype=np.int64,
            compressors=_small_codecs(),
            fill_value=0,
        )
        self._extra_spec: dict[str, tuple[tuple[int, ...], np.dtype]] | None = None
        self._stats = {k: _RunningStats() for k in NORM_KEYS}
        self.num_steps = 0
        self.num_episodes = 0
        self._closed = False

    def _create(self, name: str, trailing: tuple[int, ...], dtype, chunk_t: int = SMALL_CHUNK, codecs=None) -> None:
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
        for key in NORM_KEYS:
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
        for key in NORM_KEYS:
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
