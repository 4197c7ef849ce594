"""Loop timing, the one helper of every periodic loop (pure numpy).

- `interval_stats(times)` summarises the intervals between timestamps: rate, p50/p99/max interval
  and how many exceed a deadline; `RateMeter` keeps the last N timestamps of a stream (motor loop
  ticks, commands received) for /diagnostics.
- `LoopTiming`: latency, compute time and missed deadlines of a control loop (locomotion, policy).
  A tick misses its deadline when it comes more than half a period late on the node's clock
  (simulated time under use_sim_time), or when its own computation takes longer than a period.
  Ticks that come more than half a period late in wall time are counted apart (`late_wall`): under
  simulated time this separates a node that was late (both counts rise) from a simulator whose
  clock advanced in bursts (only the clock count rises). A loop that stops on purpose (stale
  input, not yet standing) calls `pause()`, so its first tick after resuming is not counted late.
  benchmarks/deploy_latency.py reads these from /diagnostics.
- `Every`: fires once per period of a clock (the simulator's publishing schedule).
"""

from __future__ import annotations

from collections import deque

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


class LoopTiming:
    def __init__(self, period: float, keep: int = 20000):
        self.period = period
        self.ticks = 0
        self.missed = 0
        self.late_wall = 0
        self._last_tick: float | None = None
        self._last_wall: float | None = None
        self.compute = deque(maxlen=keep)
        self.latency = deque(maxlen=keep)

    def tick(self, t: float, compute_s: float, wall: float | None = None) -> None:
        """A tick at clock time t (wall time `wall`, monotonic) whose work took compute_s (wall) seconds."""
        late = self._last_tick is not None and t - self._last_tick > 1.5 * self.period
        if late or compute_s > self.period:
            self.missed += 1
        if wall is not None and self._last_wall is not None and wall - self._last_wall > 1.5 * self.period:
            self.late_wall += 1
        self._last_tick, self._last_wall = t, wall
        self.ticks += 1
        self.compute.append(compute_s)

    def pause(self) -> None:
        """The loop stopped acting on purpose: no deadline until the next tick."""
        self._last_tick = self._last_wall = None

    def add_latency(self, seconds: float) -> None:
        self.latency.append(seconds)

    def report(self) -> dict[str, str]:
        out = {"ticks": str(self.ticks), "missed_deadlines": str(self.missed), "late_wall": str(self.late_wall)}
        for name, values in (("compute", self.compute), ("latency", self.latency)):
            if values:
                ms = np.asarray(values) * 1e3
                out[f"{name}_ms_p50"] = f"{np.percentile(ms, 50):.2f}"
                out[f"{name}_ms_p99"] = f"{np.percentile(ms, 99):.2f}"
                out[f"{name}_ms_max"] = f"{ms.max():.2f}"
        return out


class Every:
    """Fires once per `period` of a clock (simulated time in the simulator; period <= 0 never fires)."""

    def __init__(self, rate_hz: float, t0: float):
        self.period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self.next = t0

    def due(self, t: float) -> bool:
        if self.period <= 0.0 or t + 1e-9 < self.next:
            return False
        self.next = max(self.next + self.period, t)
        return True
