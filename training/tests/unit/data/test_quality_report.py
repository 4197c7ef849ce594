"""fog_training.data.quality_report.write_report: the report folder written beside a converted
dataset (report.md's totals, failed bags, warnings, bag / topic / episode tables, and the plots it
links), built from hand-made conversion results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fog_training.data import quality_report
from fog_training.data.bag_quality import BagResult
from fog_training.data.bag_to_dataset import BagToDatasetConfig, ConversionSummary
from fog_training.data.bag_topics import IMAGE, JOINTS
from fog_training.data.quality_report import write_report

S = 1_000_000_000  # ns


def config() -> BagToDatasetConfig:
    return BagToDatasetConfig(bags=[Path("in.mcap")], out=Path("/data/go2.zarr"), rate=5.0, image_size=32)


def episode(span: int, start_s: float, duration_s: float, skew: bool = True, **kw) -> dict:
    e = {"span": span, "start_s": start_s, "duration_s": duration_s, "outcome": "success", "ticks": 20,
         "valid_ticks": 18, "pieces": 2, "steps": 17, "frames": 60, "dropped_frames": 3}
    if skew:
        e["skew_ms"] = {"mean": 1.234, "p95": 4.5, "max": 9.876}
    return {**e, **kw}


def result(name: str, episodes: list[dict], problems: list[str] | None = None) -> BagResult:
    cam = np.arange(0, 4 * S, S // 10, dtype=np.int64)
    topics = {
        IMAGE: {"count": 40, "rate_hz": 10.0, "median_period_ms": 100.0, "nominal_period_ms": 100.0, "gaps": 2,
                "max_gap_ms": 412.6, "gap_times_s": [1.0, 2.0], "latency_ms_median": 3.456, "latency_ms_p95": 7.891},
        JOINTS: {"count": 1},  # fewer than two messages: only a count
        "cmd_vel": {"count": 3, "rate_hz": float("nan"), "median_period_ms": float("nan"), "gaps": 0,
                    "max_gap_ms": 0.0},
    }
    return BagResult(
        Path(f"/bags/{name}"),
        quality={"t0_ns": 0, "messages": 44, "topics": topics, "episodes": episodes},
        streams={IMAGE: cam, JOINTS: cam[:1]},
        problems=problems or [],
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """One report with plots (two bags, one failed bag, two warnings): written once, read by several tests."""
    results = [
        result("a.mcap", [episode(0, 1.5, 10.0), episode(2, 20.0, 5.25, skew=False, outcome="reset")], ["salvaged"]),
        result("b.mcap", [episode(0, 0.0, 2.0)]),
    ]
    summary = ConversionSummary(
        converted=["/bags/a.mcap", "/bags/b.mcap"], failed=[("/bags/c.mcap", "bag /bags/c.mcap: truncated")],
        warnings=[("/bags/a.mcap", "camera/image_raw: 2 gap(s)"), ("/bags/b.mcap", "episode span 0: dropped")],
        episodes=3, steps=51, seconds=2.345,
    )
    out = tmp_path_factory.mktemp("r") / "go2.zarr.report"
    assert write_report(out, config(), results, summary) == out, "write_report returns the folder it wrote"
    return out


def table_rows(text: str, section: str) -> list[list[str]]:
    """The data rows of the first table after ``## section`` (cells stripped)."""
    lines = text.split(f"## {section}\n", 1)[1].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = [r for r in lines[start:end] if not r.startswith(("| ---", "|---"))][1:]  # no header, no rule
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def test_intro_names_the_store_settings_and_totals(report):
    text = (report / "report.md").read_text()
    assert text.startswith("# Dataset quality report: /data/go2.zarr\n"), text[:80]
    assert "by `fog dataset` in 2.3 s. Policy clock 5.0 Hz, images 32x32, action `cmd_vel`" in text
    assert "reward source `sim`, max sensor age 0.1 s." in text
    assert "**2 bag(s) converted, 1 failed; 3 episodes, 51 steps.**" in text


def test_failed_bags_and_warnings_are_listed_with_their_bag(report):
    text = (report / "report.md").read_text()
    assert "## Failed bags\n\n- `/bags/c.mcap`: bag /bags/c.mcap: truncated\n" in text
    assert "- `/bags/a.mcap`: camera/image_raw: 2 gap(s)\n- `/bags/b.mcap`: episode span 0: dropped\n" in text
    assert text.index("## Failed bags") < text.index("## Warnings") < text.index("## Bags")


def test_bags_table_sums_each_bags_episodes(report):
    rows = table_rows((report / "report.md").read_text(), "Bags")
    assert rows == [
        ["`/bags/a.mcap`", "2", "4", "34", "15.2", "44", "salvaged"],
        ["`/bags/b.mcap`", "1", "2", "17", "2.0", "44", "-"],
    ], f"episodes, pieces, steps, duration (10 + 5.25 s), messages, problems per bag; got {rows}"


def test_topics_table_sorted_per_bag_with_dashes_for_missing_figures(report):
    text = (report / "report.md").read_text()
    assert "### `/bags/a.mcap`" in text and "### `/bags/b.mcap`" in text
    rows = table_rows(text, "Topics")  # the first bag's table
    assert [r[0] for r in rows] == sorted([IMAGE, JOINTS, "cmd_vel"]), "topics in name order"
    by_topic = {r[0]: r[1:] for r in rows}
    assert by_topic[IMAGE] == ["40", "10.0", "100.00", "2", "412.6", "3.46 / 7.89"], by_topic[IMAGE]
    assert by_topic[JOINTS] == ["1", "-", "-", "-", "-", "-"], "a topic with only a count shows dashes"
    assert by_topic["cmd_vel"] == ["3", "-", "-", "0", "0.0", "-"], "NaN figures show as dashes"


def test_episodes_table_has_one_row_per_episode_with_the_bag_index(report):
    rows = table_rows((report / "report.md").read_text(), "Episodes")
    assert rows == [
        ["0", "0", "1.50", "10.00", "success", "20", "18", "2", "60", "3", "1.23 / 4.50 / 9.88"],
        ["0", "2", "20.00", "5.25", "reset", "20", "18", "2", "60", "3", "-"],
        ["1", "0", "0.00", "2.00", "success", "20", "18", "2", "60", "3", "1.23 / 4.50 / 9.88"],
    ], f"got {rows}"


def test_plots_are_written_and_linked(report):
    text = (report / "report.md").read_text()
    pngs = ["rates_bag0.png", "rates_bag1.png", "gaps.png", "skew_and_drops.png"]
    for png in pngs:
        assert (report / png).stat().st_size > 1000, f"{png} should be a real image"
        assert f"![{png[:-4]}]({png})" in text, f"report.md should link {png}"
    assert sorted(p.name for p in report.iterdir()) == sorted(["report.md", *pngs]), "nothing else is written"


def test_rate_plots_stop_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(quality_report, "MAX_RATE_PLOTS", 1)
    results = [result("a.mcap", [episode(0, 0.0, 1.0)]), result("b.mcap", [])]
    summary = ConversionSummary(converted=["a", "b"], episodes=1, steps=17)
    write_report(tmp_path, config(), results, summary)
    assert (tmp_path / "rates_bag0.png").exists() and not (tmp_path / "rates_bag1.png").exists()
    text = (tmp_path / "report.md").read_text()
    assert "rates_bag1" not in text and "![gaps](gaps.png)" in text


def test_without_results_no_plots_and_no_optional_sections(tmp_path):
    out = tmp_path / "nested" / "x.report"
    summary = ConversionSummary(failed=[("/bags/c.mcap", "broken")])
    write_report(out, config(), [], summary)
    assert [p.name for p in out.iterdir()] == ["report.md"], "no results: no PNG is written"
    text = (out / "report.md").read_text()
    assert "## Plots" not in text and "## Warnings" not in text, "no results and no warnings: no such sections"
    assert "**0 bag(s) converted, 1 failed; 0 episodes, 0 steps.**" in text
    assert table_rows(text, "Bags") == [] and table_rows(text, "Episodes") == [], "tables have headers only"


def test_a_summary_without_warnings_attribute_is_accepted(tmp_path):
    class OldSummary:  # a summary from before warnings existed
        converted, failed, episodes, steps, seconds = [], [], 0, 0, 0.0

    write_report(tmp_path, config(), [], OldSummary())
    text = (tmp_path / "report.md").read_text()
    assert "## Warnings" not in text and "## Failed bags" not in text


def test_a_bag_without_streams_or_topic_figures_still_gets_a_report(tmp_path):
    """A converted bag whose result has no message streams and no topic figures (nothing on the roles
    the converter reads) is listed in the tables; it gets no rate plot, and the others still do."""
    empty = BagResult(Path("/bags/empty.mcap"), quality={"t0_ns": 0, "messages": 0, "episodes": []}, streams={},
                      problems=[])
    summary = ConversionSummary(converted=["/bags/empty.mcap", "/bags/a.mcap"], failed=[], warnings=[],
                                episodes=1, steps=17, seconds=0.5)
    out = write_report(tmp_path / "r", config(), [empty, result("a.mcap", [episode(0, 0.0, 2.0)])], summary)
    text = (out / "report.md").read_text()
    assert "empty.mcap" in text and "a.mcap" in text, text
    assert not (out / "rates_bag0.png").exists(), "no rate plot for the bag without streams"
    assert (out / "rates_bag1.png").exists(), "the other bag keeps its rate plot"
