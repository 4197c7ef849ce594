"""The quality report written beside a converted dataset: ``<out>.report/report.md`` + PNG plots.

Per bag: message rate of every topic over time, gaps longer than twice the nominal period,
receive latency; per episode: ticks kept and dropped, dropped camera frames, camera-to-joint-state
skew. Failed bags are listed with their errors.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np

MAX_RATE_PLOTS = 12  # one rate figure per bag, for the first bags only (each costs a few 100 ms)


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _header(*names: str) -> list[str]:
    return [_row(*names), _row(*["---"] * len(names))]


def write_report(report_dir: Path, cfg, results: list, summary) -> Path:
    """Write the report for ``results`` (converted bags) and ``summary.failed``; returns the folder."""
    import matplotlib

    matplotlib.use("Agg")
    report_dir.mkdir(parents=True, exist_ok=True)
    lines = _intro_section(cfg, summary)
    lines += _bags_section(results)
    lines += _topics_section(results)
    lines += _episodes_section(results)
    lines += _plots_section(report_dir, results)
    (report_dir / "report.md").write_text("\n".join(lines))
    return report_dir


def _intro_section(cfg, summary) -> list[str]:
    """Title, run settings and totals, then the failed bags and the warnings."""
    lines = [
        f"# Dataset quality report: {cfg.out}",
        "",
        f"Written {datetime.datetime.now().isoformat(timespec='seconds')} by `fog dataset` in {summary.seconds:.1f} s. "
        f"Policy clock {cfg.rate} Hz, images {cfg.image_size}x{cfg.image_size}, action `{cfg.action}`, "
        f"reward source `{cfg.reward_source}`, max sensor age {cfg.max_sensor_age} s.",
        "",
        f"**{len(summary.converted)} bag(s) converted, {len(summary.failed)} failed; "
        f"{summary.episodes} episodes, {summary.steps} steps.**",
        "",
    ]
    if summary.failed:
        lines += ["## Failed bags", ""]
        lines += [f"- `{bag}`: {err}" for bag, err in summary.failed]
        lines += [""]
    warnings = getattr(summary, "warnings", [])
    if warnings:
        lines += ["## Warnings", "", "Converted, but worth a look (also printed on stderr).", ""]
        lines += [f"- `{bag}`: {w}" for bag, w in warnings]
        lines += [""]
    return lines


def _bags_section(results: list) -> list[str]:
    """One row per converted bag: episodes, pieces, steps, duration, messages, problems."""
    lines = [
        "## Bags",
        "",
        "| bag | episodes (spans) | pieces | steps | duration (s) | messages | problems |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        eps = r.quality.get("episodes", [])
        dur = sum(e["duration_s"] for e in eps)
        pieces, steps = sum(e["pieces"] for e in eps), sum(e["steps"] for e in eps)
        problems = "; ".join(r.problems) or "-"
        lines.append(
            _row(f"`{r.path}`", len(eps), pieces, steps, f"{dur:.1f}", r.quality.get("messages", "-"), problems)
        )
    lines += [""]
    return lines


def _topics_section(results: list) -> list[str]:
    """Per bag, one row per topic: rate, period, gaps and receive latency."""
    lines = [
        "## Topics",
        "",
        "Gaps: intervals longer than 2x the nominal period (camera: --camera-rate if given; cmd_vel: --rate; "
        "otherwise the topic's median period in that bag). Latency: receive time minus header stamp "
        "(stamped topics).",
        "",
    ]
    for r in results:
        lines += [
            f"### `{r.path}`",
            "",
            *_header(
                "topic",
                "messages",
                "rate (Hz)",
                "median period (ms)",
                "gaps > 2x",
                "max gap (ms)",
                "latency median / p95 (ms)",
            ),
        ]
        for topic, q in sorted(r.quality.get("topics", {}).items()):
            lat = (
                f"{_fmt(q.get('latency_ms_median'), 2)} / {_fmt(q.get('latency_ms_p95'), 2)}"
                if "latency_ms_median" in q
                else "-"
            )
            period = _fmt(q.get("median_period_ms"), 2)
            lines.append(
                _row(
                    topic,
                    q["count"],
                    _fmt(q.get("rate_hz")),
                    period,
                    q.get("gaps", "-"),
                    _fmt(q.get("max_gap_ms")),
                    lat,
                )
            )
        lines += [""]
    return lines


def _episodes_section(results: list) -> list[str]:
    """One row per episode: span, timing, outcome, ticks kept, frames dropped, camera-joint skew."""
    lines = [
        "## Episodes",
        "",
        "Ticks are dropped (and the episode split into pieces) where a sensor sample is older than "
        "--max-sensor-age. Start: seconds from the bag's first stamp. "
        "Skew: |camera stamp - nearest joint_states stamp| over the episode's frames.",
        "",
        *_header(
            "bag",
            "span",
            "start (s)",
            "duration (s)",
            "outcome",
            "ticks",
            "kept",
            "pieces",
            "frames",
            "dropped frames",
            "skew mean / p95 / max (ms)",
        ),
    ]
    for bi, r in enumerate(results):
        for e in r.quality.get("episodes", []):
            sk = e.get("skew_ms")
            skew = f"{sk['mean']:.2f} / {sk['p95']:.2f} / {sk['max']:.2f}" if sk else "-"
            lines.append(
                _row(
                    bi,
                    e["span"],
                    f"{e['start_s']:.2f}",
                    f"{e['duration_s']:.2f}",
                    e["outcome"],
                    e["ticks"],
                    e["valid_ticks"],
                    e["pieces"],
                    e["frames"],
                    e["dropped_frames"],
                    skew,
                )
            )
    lines += [""]
    return lines


def _plots_section(report_dir: Path, results: list) -> list[str]:
    """The plots (rates per bag, gaps, skew and drops), written to ``report_dir``, and the section linking them."""
    plots = []
    if results:
        plots += _rate_plots(report_dir, results)
        plots.append(_gap_plot(report_dir, results))
        plots.append(_skew_plot(report_dir, results))
    if not plots:
        return []
    return ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]


def _rate_plots(report_dir: Path, results: list) -> list[Path]:
    """Per bag: each topic's message rate in 1 s bins (one axes, log scale: a drop shows as a dip)."""
    import matplotlib.pyplot as plt

    out = []
    for bi, r in enumerate(results[:MAX_RATE_PLOTS]):
        starts = [s[0] for s in r.streams.values() if len(s)]
        if not starts:  # a bag with no messages on the roles the converter reads: nothing to plot
            continue
        fig, ax = plt.subplots(figsize=(9, 3.6))
        t0 = min(starts)
        for topic in sorted(t for t, s in r.streams.items() if len(s) > 1):
            t = (r.streams[topic] - t0) / 1e9
            edges = np.arange(0, max(t.max(), 1.0) + 1.0, 1.0)
            counts, _ = np.histogram(t, edges)
            ax.step(edges[:-1], np.maximum(counts, 0.5), where="post", lw=1, label=topic)
        for e in r.quality.get("episodes", []):
            s0 = e["start_s"] + (r.quality.get("t0_ns", t0) - t0) / 1e9  # start_s counts from the bag's t0_ns
            ax.axvspan(s0, s0 + e["duration_s"], color="0.5", alpha=0.12)
        ax.set_yscale("log")
        ax.set_xlabel("time in bag (s); grey: episodes", fontsize=8)
        ax.set_ylabel("messages per 1 s bin", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
        ax.set_title(f"bag {bi}: {r.path.name}", fontsize=9)
        path = report_dir / f"rates_bag{bi}.png"
        fig.savefig(path, dpi=80, bbox_inches="tight")
        plt.close(fig)
        out.append(path)
    return out


def _gap_plot(report_dir: Path, results: list) -> Path:
    """Per topic, over all bags: number of gaps > 2x nominal period, labelled with the longest."""
    import matplotlib.pyplot as plt

    topics = sorted({t for r in results for t in r.quality.get("topics", {})})
    def figure(r, t, key, default):
        return r.quality.get("topics", {}).get(t, {}).get(key, default)

    count = [sum(figure(r, t, "gaps", 0) for r in results) for t in topics]
    longest = [max((figure(r, t, "max_gap_ms", 0.0) for r in results), default=0.0) for t in topics]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(topics) + 1.0))
    y = np.arange(len(topics))
    ax.barh(y, count)
    for yi, c, m in zip(y, count, longest, strict=True):
        ax.text(c, yi, f"  longest interval {m:.0f} ms", va="center", fontsize=7)
    ax.set_yticks(y, topics, fontsize=7)
    ax.set_xlabel("gaps > 2x nominal period (all bags)", fontsize=8)
    ax.set_xlim(0, max(count + [1]) * 1.6)
    path = report_dir / "gaps.png"
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path


def _skew_plot(report_dir: Path, results: list) -> Path:
    import matplotlib.pyplot as plt

    labels, mean, p95, mx, dropped = [], [], [], [], []
    for bi, r in enumerate(results):
        for e in r.quality.get("episodes", []):
            if "skew_ms" in e:
                labels.append(f"{bi}.{e['span']}")
                mean.append(e["skew_ms"]["mean"])
                p95.append(e["skew_ms"]["p95"])
                mx.append(e["skew_ms"]["max"])
                dropped.append(e["dropped_frames"])
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(max(5, 0.25 * len(labels) + 2), 4.5), sharex=True)
    x = np.arange(len(labels))
    a1.plot(x, mean, "o-", ms=3, label="mean")
    a1.plot(x, p95, "s-", ms=3, label="p95")
    a1.plot(x, mx, "^-", ms=3, label="max")
    a1.set_ylabel("camera-joint skew (ms)", fontsize=8)
    a1.legend(fontsize=7)
    a2.bar(x, dropped)
    a2.set_ylabel("dropped frames", fontsize=8)
    a2.set_xticks(x, labels, rotation=90, fontsize=6)
    a2.set_xlabel("episode (bag.span)", fontsize=8)
    path = report_dir / "skew_and_drops.png"
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path
