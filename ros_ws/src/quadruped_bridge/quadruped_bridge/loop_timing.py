"""Rate and jitter of a periodic stream (motor loop ticks, commands received), as pure numpy.

`interval_stats(times)` summarises the intervals between timestamps: rate, p50/p99/max interval
and how many exceed a deadline. `RateMeter` keeps the last N timestamps for /diagnostics.
"""

from __future__ import annotations

import numpy as np


def interval_stats(times, period: float | None = None) -> dict[str, float]:
    """Rate (Hz) and interval percentiles (ms) of increasing timestamps (s).

    With `period`, also the fraction of intervals longer than 1.5 periods ('late').
    """
    t = np.asarray(times, dtype=np.float64)
    if t.size < 2:
        return {"count": float(t.size), "rate_hz": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"),
                "max_ms": float("nan"), "late_fraction": float("nan")}
    dt = np.diff(t)
    out = {
        "count": float(t.size),
        "rate_hz": float((t.size - 1) / (t[-1] - t[0])) if t[-1] > t[0] else 0.0,
        "p50_ms": float(np.percentile(dt, 50) * 1e3),
        "p99_ms": float(np.percentile(dt, 99) * 1e3),
        "max_ms": float(dt.max() * 1e3),
        "late_fraction": float(np.mean(dt > 1.5 * period)) if period else float("nan"),
    }
    return out


class RateMeter:
    """The last `size` timestamps of a stream, summarised on demand."""

    def __init__(self, size: int = 1000):
        self._t = np.zeros(size)
        self._n = 0

    def tick(self, t: float) -> None:
        self._t[self._n % self._t.size] = t
        self._n += 1

    @property
    def total(self) -> int:
        return self._n

    def times(self) -> np.ndarray:
        """The kept timestamps in order (sorted: a reader racing the writer sees a consistent set)."""
        n = self._n
        return np.sort(self._t[: min(n, self._t.size)])

    def stats(self, period: float | None = None) -> dict[str, float]:
        return interval_stats(self.times(), period)
