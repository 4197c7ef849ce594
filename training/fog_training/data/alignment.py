"""Pure time-alignment logic for bag -> dataset: policy ticks, episode spans, sample selection.

Everything here works on int64 nanosecond stamps in NumPy arrays, has no I/O and is unit-tested
on its own. The rule everywhere is causal: the value of a stream at tick t is its latest sample
stamped at or before t (what a policy running at t could have seen), never a later one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NS = 1_000_000_000

START, SUCCESS, FAIL, RESET = "start", "success", "fail", "reset"
EVENTS = (START, SUCCESS, FAIL, RESET)
TERMINAL_EVENTS = (SUCCESS, FAIL)


def latest_at_or_before(stamps: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Index of the last stamp <= each tick (``stamps`` sorted ascending); -1 where none is."""
    return np.searchsorted(np.asarray(stamps, np.int64), np.asarray(ticks, np.int64), side="right") - 1


def policy_ticks(start_ns: int, end_ns: int, rate_hz: float) -> np.ndarray:
    """Ticks ``start + round(k * 1e9 / rate)`` for k = 0, 1, ... while <= ``end`` (int64 ns).

    Computed from k, not accumulated, so long episodes do not drift.
    """
    if end_ns < start_ns:
        return np.zeros(0, np.int64)
    period = NS / rate_hz
    n = int(np.floor((end_ns - start_ns) / period + 1e-9)) + 1
    ticks = start_ns + np.round(np.arange(n) * period).astype(np.int64)
    return ticks[ticks <= end_ns]


@dataclass(frozen=True)
class EpisodeSpan:
    """One episode's time span on the bag clock and how it ended."""

    start_ns: int
    end_ns: int
    outcome: str
    """"success" or "fail" (terminal), "reset" (ended by the operator), "start" (a new start
    came first) or "end" (the bag ended)."""

    @property
    def terminal(self) -> bool:
        return self.outcome in TERMINAL_EVENTS


def episode_spans(events: list[tuple[int, str]], bag_start_ns: int, bag_end_ns: int) -> list[EpisodeSpan]:
    """Split a bag into episodes from its ``episode/event`` messages (time-sorted ``(ns, text)``).

    - No events: one episode over the whole bag.
    - Some "start" events: an episode runs from each "start" to the next success / fail / reset
      (its outcome), or to the next "start" or the end of the bag (not terminal); time outside
      such spans (resetting the scene) belongs to no episode.
    - Events but no "start": episodes are the intervals between consecutive end events
      (bag start -> first end -> second end ... -> bag end).
    Unknown event texts are ignored (the converter lists them in the report).
    """
    events = sorted((int(t), e.strip().lower()) for t, e in events)
    events = [(t, e) for t, e in events if e in EVENTS]
    if not events:
        return [EpisodeSpan(bag_start_ns, bag_end_ns, "end")]
    spans: list[EpisodeSpan] = []
    if any(e == START for _, e in events):
        open_at: int | None = None
        for t, e in events:
            if e == START:
                if open_at is not None:
                    spans.append(EpisodeSpan(open_at, t, START))
                open_at = t
            elif open_at is not None:
                spans.append(EpisodeSpan(open_at, t, e))
                open_at = None
        if open_at is not None:
            spans.append(EpisodeSpan(open_at, bag_end_ns, "end"))
    else:
        begin = bag_start_ns
        for t, e in events:
            spans.append(EpisodeSpan(begin, t, e))
            begin = t
        if begin < bag_end_ns:
            spans.append(EpisodeSpan(begin, bag_end_ns, "end"))
    return [s for s in spans if s.end_ns > s.start_ns]


def map_to_clock(recv_ns: np.ndarray, clock_recv_ns: np.ndarray, clock_value_ns: np.ndarray) -> np.ndarray:
    """Receive times (recorder clock) -> the ``/clock`` time base of the header stamps.

    Between two ``/clock`` messages time advances at the recorder's rate from the last clock
    value, but never past the next one (a paused simulator does not advance). Before the first
    clock message the first offset is used. ``clock_recv_ns`` must be sorted.
    """
    recv_ns = np.asarray(recv_ns, np.int64)
    if len(clock_recv_ns) == 0:
        return recv_ns.copy()
    cr, cv = np.asarray(clock_recv_ns, np.int64), np.asarray(clock_value_ns, np.int64)
    k = np.searchsorted(cr, recv_ns, side="right") - 1
    before = k < 0
    k = np.maximum(k, 0)
    mapped = cv[k] + (recv_ns - cr[k])
    nxt = np.minimum(k + 1, len(cv) - 1)
    cap = np.where(k + 1 < len(cv), cv[nxt], np.iinfo(np.int64).max)
    mapped = np.minimum(mapped, cap)
    return np.where(before, recv_ns + (cv[0] - cr[0]), mapped)


def fresh(ticks: np.ndarray, stamps: np.ndarray, idx: np.ndarray, max_age_ns: int) -> np.ndarray:
    """True where a stream has a sample at or before the tick that is at most ``max_age_ns`` old."""
    ok = np.asarray(idx) >= 0
    age = np.full(ok.shape, np.iinfo(np.int64).max, np.int64)  # no sample (an empty stream too): never fresh
    age[ok] = np.asarray(ticks)[ok] - np.asarray(stamps)[np.asarray(idx)[ok]]
    return ok & (age <= max_age_ns)


def contiguous_runs(mask: np.ndarray, min_length: int = 1) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` (end exclusive) of the runs of True in ``mask`` at least ``min_length`` long."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    return [(a, b) for a, b in runs if b - a >= min_length]


def gaps(stamps: np.ndarray, period_ns: float, factor: float = 2.0) -> np.ndarray:
    """Indices i where ``stamps[i+1] - stamps[i] > factor * period`` (stamps sorted)."""
    return np.flatnonzero(np.diff(np.asarray(stamps, np.int64)) > factor * period_ns)


def dropped_frames(stamps: np.ndarray, period_ns: float) -> int:
    """Frames missing from a nominally periodic stream: sum of round(gap / period) - 1 over gaps > 1.5 periods."""
    d = np.diff(np.asarray(stamps, np.int64)).astype(np.float64)
    big = d[d > 1.5 * period_ns]
    return int(np.sum(np.maximum(np.round(big / period_ns) - 1, 0)))


def median_period_ns(stamps: np.ndarray) -> float:
    d = np.diff(np.asarray(stamps, np.int64))
    d = d[d > 0]
    return float(np.median(d)) if len(d) else float("nan")
