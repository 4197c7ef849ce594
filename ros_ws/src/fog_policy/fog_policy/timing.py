"""Timing of a periodic control loop: latency, compute time and missed deadlines (pure).

A tick misses its deadline when it comes more than half a period late on the node's clock
(simulated time under use_sim_time), or when its own computation takes longer than a period.
Ticks that come more than half a period late in wall time are counted apart (`late_wall`): under
simulated time this separates a node that was late (both counts rise) from a simulator whose clock
advanced in bursts (only the clock count rises). A loop that stops on purpose (stale input, not
yet standing) calls `pause()`, so its first tick after resuming is not counted late.
The nodes report these on /diagnostics; benchmarks/deploy_latency.py reads them.
"""

from __future__ import annotations

from collections import deque

import numpy as np


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
