"""Quality figures of a converted bag: per-topic rate, gaps and latency, per-episode dropped frames
and camera-to-joint skew, and the warnings a user should see (the report in
fog_training.data.quality_report draws them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fog_training.data import alignment as al
from fog_training.data.bag_topics import IMAGE, IMU, JOINTS


@dataclass
class Stream:
    """One topic's timing: header stamps (sorted) and where each came from."""

    stamps: np.ndarray  # int64 ns, sorted
    ordinals: np.ndarray  # original message ordinal of each sorted stamp
    recv: np.ndarray  # receive times in the same (sorted) order

    @staticmethod
    def build(stamps: list[int], recv: list[int]) -> Stream:
        s = np.asarray(stamps, np.int64)
        order = np.argsort(s, kind="stable")
        return Stream(s[order], order.astype(np.int64), np.asarray(recv, np.int64)[order])


@dataclass
class BagResult:
    """Episodes and quality figures of one converted bag."""

    path: Path
    episodes: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    camera_info: dict[str, Any] | None = None
    streams: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    namespace: str = ""


def topic_quality(
    stamps: np.ndarray, recv: np.ndarray | None, nominal_period_ns: float | None, t0_ns: int = 0
) -> dict[str, Any]:
    """Rate, gaps (> 2x nominal period; the median period when no nominal is known) and latency of
    one topic; gap times in seconds from ``t0_ns`` (the bag's start)."""
    n = len(stamps)
    q: dict[str, Any] = {"count": int(n)}
    if n < 2:
        return q
    med = al.median_period_ns(stamps)
    period = nominal_period_ns or med
    g = al.gaps(stamps, period)
    d = np.diff(stamps)
    q.update(
        rate_hz=float((n - 1) / ((stamps[-1] - stamps[0]) / 1e9)) if stamps[-1] > stamps[0] else float("nan"),
        median_period_ms=med / 1e6,
        nominal_period_ms=period / 1e6,
        gaps=int(len(g)),
        max_gap_ms=float(d.max() / 1e6),
        gap_times_s=[float((stamps[i] - t0_ns) / 1e9) for i in g[:20]],
    )
    if recv is not None:
        lat = (recv - stamps) / 1e6
        q.update(latency_ms_median=float(np.median(lat)), latency_ms_p95=float(np.percentile(lat, 95)))
    return q


def span_timing(streams: dict[str, Stream], span: al.EpisodeSpan, cam_period_ns: float) -> dict[str, Any]:
    """Per-episode camera figures: dropped frames (against the camera's nominal period),
    camera-to-joint-state skew (nearest joint state)."""
    cam = streams[IMAGE].stamps
    cam = cam[(cam >= span.start_ns) & (cam <= span.end_ns)]
    js = streams[JOINTS].stamps
    dropped = al.dropped_frames(cam, cam_period_ns) if math.isfinite(cam_period_ns) else 0
    out: dict[str, Any] = {"frames": int(len(cam)), "dropped_frames": dropped}
    if len(cam) and len(js):
        i = np.searchsorted(js, cam)  # js[i - 1] <= cam < js[i]: the neighbours, clipped at both ends
        after, before = js[np.minimum(i, len(js) - 1)], js[np.maximum(i - 1, 0)]
        nearest = np.where(np.abs(after - cam) < np.abs(before - cam), after, before)
        skew = np.abs(cam - nearest) / 1e6
        out["skew_ms"] = {"mean": float(skew.mean()), "p95": float(np.percentile(skew, 95)), "max": float(skew.max())}
    return out


WARN_TOPICS = (IMAGE, JOINTS, IMU)
"""Topics whose gaps are warnings (stderr and report): the sensors every tick needs."""


def bag_warnings(res: BagResult) -> list[str]:
    """What a converted bag's user should know: problems tolerated (salvaged, corrupt parts skipped,
    no camera_info, ...), gaps in the sensor streams, ticks dropped and episodes split."""
    out = list(res.problems)
    for rel in WARN_TOPICS:
        q = res.quality.get("topics", {}).get(rel, {})
        if q.get("gaps"):
            at = ", ".join(f"{t:.1f}" for t in q["gap_times_s"][:5]) + (", ..." if q["gaps"] > 5 else "")
            out.append(
                f"{rel}: {q['gaps']} gap(s) longer than 2x its period of {q['nominal_period_ms']:.1f} ms "
                f"(longest {q['max_gap_ms']:.0f} ms; starting at {at} s into the bag)"
            )
    for e in res.quality.get("episodes", []):
        dropped = e["ticks"] - e["valid_ticks"]
        if dropped:
            out.append(
                f"episode span {e['span']} ({e['start_s']:.1f} s into the bag): {dropped} of {e['ticks']} ticks "
                f"dropped (a sensor older than --max-sensor-age); kept as {e['pieces']} piece(s)"
            )
    return out
